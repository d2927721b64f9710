// Internal to ui/: how `airlock serve` holds its connections. cpp-httplib gives each connection a
// worker thread for as long as the client takes to send its request, and bounds neither the time
// a head may take nor the number of its headers: a few clients sending a header line now and then
// hold every worker, and a head of a million headers is kept whole in memory. So the server's
// connections are served here instead (the library's per-connection hook, its request parser
// unchanged): every request must arrive whole within a deadline (408 when it does not), the head
// is capped in lines and bytes (431), and the connections still waiting for their request are few
// per client and in all — a new one closes the oldest waiting one of its client (or of all) rather
// than being refused, so that the operator's quick request always gets through a crowd of slow
// ones. The upload's body is read here too, in large pieces, for its handler (request_body()).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

namespace airlock::ui {

struct ConnLimits {
  std::chrono::milliseconds request_deadline{10000};  // accept (or the last answer) to the whole request
  std::chrono::milliseconds idle{10000};              // longest wait for one read or write after that
  std::size_t max_head_lines = 101;                   // the request line and 100 headers
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t waiting_per_client = 4;
  std::size_t waiting_total = 16;
  int requests_per_connection = 5;
  // Its body has no deadline (upload.cpp bounds its rate) and is read by the handler through
  // request_body(), not by the library.
  std::string unbounded_body_path = "/action/upload";
};

inline constexpr std::size_t kServerWorkers = 32;  // more than waiting_total: a whole request always finds one

// The connections waiting for a request. enter() may close (shutdown) the oldest waiting one of the
// same client, or of all; leave() is called before the socket is closed.
class WaitingRoom {
 public:
  explicit WaitingRoom(const ConnLimits& l) : limits_(l) {}
  std::uint64_t enter(const std::string& client, int fd);
  void leave(std::uint64_t ticket);

 private:
  struct Entry {
    std::uint64_t ticket;
    std::string client;
    int fd;
  };
  const ConnLimits& limits_;
  std::mutex mu_;
  std::list<Entry> waiting_;  // oldest first
  std::uint64_t next_ = 1;
};

// The body of the request on ConnLimits::unbounded_body_path, read by its handler straight from
// the connection: in pieces as large as the handler's buffer (the library's content reader hands a
// body out 4 KiB at a time, each piece copied once more), a chunked body's framing undone, never
// a byte past the body's end. Each read waits at most ConnLimits::idle for the client.
class RequestBody {
 public:
  enum class State {
    data,       // `bytes` bytes were put at the pointer
    end,        // the body is whole
    stalled,    // nothing came within the idle limit
    closed,     // the client closed the connection (or the server is stopping) before the end
    malformed,  // framing that cannot be read: `why`
  };
  struct Read {
    State state;
    std::size_t bytes = 0;
    const char* why = "";
  };
  virtual ~RequestBody() = default;
  virtual Read read_some(char* to, std::size_t size) = 0;
};

// The body of the request this thread serves, when it is on ConnLimits::unbounded_body_path: the
// route's handler reads it through this, or leaves it (the connection then closes after the
// answer). nullptr for any other request.
RequestBody* request_body();

using ProcessRequest = std::function<bool(httplib::Stream&, bool close, bool& closed,
                                          const std::function<void(httplib::Request&)>& setup)>;

// Serves one accepted socket (plain, or TLS with `tls`) until it closes, calling `process` for each
// request; `running` false ends the waits early (the server stops). Closes the socket.
void serve_connection(int fd, SSL_CTX* tls, WaitingRoom& room, const ConnLimits& limits, const ProcessRequest& process,
                      const std::function<bool()>& running);

// httplib's Server or SSLServer with its connections served by serve_connection().
template <class Base>
class GuardedServer final : public Base {
 public:
  template <class... A>
  explicit GuardedServer(A&&... a) : Base(std::forward<A>(a)...), room_(limits_) {
    this->new_task_queue = [] { return new httplib::ThreadPool(kServerWorkers); };
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    SSL_CTX* tls = nullptr;
    if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) tls = this->ssl_context();
    serve_connection(
        sock, tls, room_, limits_,
        [this](httplib::Stream& s, bool close, bool& closed, const std::function<void(httplib::Request&)>& setup) {
          return this->process_request(s, close, closed, setup);
        },
        [this] { return this->svr_sock_ != INVALID_SOCKET; });
    return true;
  }

  ConnLimits limits_;
  WaitingRoom room_;
};

}  // namespace airlock::ui

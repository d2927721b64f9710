#include "ui/conn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

namespace airlock::ui {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr std::chrono::milliseconds kPollSlice{200};  // how soon a wait notices the server stopping
// A chunked body's framing lines (a chunk's size, a trailer) and its trailers, as the head's caps.
constexpr std::size_t kMaxChunkLineBytes = 4096;
constexpr std::size_t kMaxTrailerLines = 100;
constexpr std::size_t kMaxTrailerBytes = 8 * 1024;

std::string numeric_host(const sockaddr_storage& a, socklen_t len, int* port) {
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "";
  if (port) *port = std::atoi(serv);
  return host;
}

// One connection's byte stream for httplib's request parser and response writer, over a
// non-blocking socket (plain or TLS). While a request is awaited, every read is bounded by the
// request's deadline and the head by ConnLimits' line and byte caps. The upload's body is read
// through RequestBody instead.
class GuardedStream final : public httplib::Stream, public RequestBody {
 public:
  GuardedStream(int fd, SSL* ssl, const ConnLimits& l, std::function<bool()> running)
      : fd_(fd), ssl_(ssl), limits_(l), running_(std::move(running)), buf_(kReadBufferBytes) {}

  // A new request is awaited: until it is whole (head, and a form body), reads end at `deadline`.
  void await_request(Clock::time_point deadline) {
    deadline_ = deadline;
    in_head_ = true;
    head_lines_ = head_bytes_ = line_bytes_ = 0;
    body_left_ = 0;
    body_unknown_ = parsed_ = timed_out_ = for_handler_ = chunked_ = false;
    chunk_ = Chunk::size;
    chunk_left_ = 0;
    trailers_ = trailer_bytes_ = 0;
  }
  // The head is parsed: a form body stays under the deadline; the upload's body does not.
  // True when the request is whole already.
  bool head_done(const httplib::Request& req) {
    parsed_ = true;
    body_unknown_ = req.has_header("Transfer-Encoding");
    chunked_ = strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") == 0;
    if (req.has_header("Content-Length")) {
      const std::string len = req.get_header_value("Content-Length");
      const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), body_left_);
      if (ec != std::errc() || end != len.data() + len.size()) body_unknown_ = true;
    }
    if (req.method == "POST" && req.path == limits_.unbounded_body_path) {
      deadline_.reset();
      for_handler_ = true;
      return true;
    }
    return body_left_ == 0;
  }
  bool for_handler() const { return for_handler_; }
  // The head parsed and the body fully read (or none): the next request on this connection
  // starts at a request line.
  bool reusable() const { return parsed_ && body_left_ == 0 && !body_unknown_; }
  bool refused() const { return refused_; }
  std::function<void()> on_whole;  // the request has arrived whole

  // Waits for the first byte of the next request; false on EOF, timeout or a stopping server.
  bool wait_next_request() { return pos_ < len_ || (ssl_ && SSL_pending(ssl_) > 0) || wait(POLLIN); }

  // The TLS handshake, under the first request's deadline.
  bool handshake() {
    for (;;) {
      const int r = SSL_do_handshake(ssl_);
      if (r == 1) return true;
      const int e = SSL_get_error(ssl_, r);
      if (!((e == SSL_ERROR_WANT_READ && wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))) return false;
    }
  }

  bool is_readable() const override { return pos_ < len_ || const_cast<GuardedStream*>(this)->wait(POLLIN); }
  bool is_writable() const override { return const_cast<GuardedStream*>(this)->wait(POLLOUT, false); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (refused_ || size == 0) return refused_ ? -1 : 0;
    if (pos_ == len_ && !fill()) {
      // The request has begun (its first byte came before the library's first read): out of time,
      // it is answered rather than dropped; the library's own answer (400) is then not sent.
      if (timed_out_)
        refuse(408, "Request Timeout",
               "the request did not arrive whole within " + std::to_string(limits_.request_deadline.count() / 1000) +
                   " s, or stalled for " + std::to_string(limits_.idle.count() / 1000) + " s\n");
      return -1;
    }
    std::size_t n = std::min(size, len_ - pos_);
    if (in_head_ && !count_head(n)) return -1;
    if (!in_head_ && body_left_ > 0) {
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, body_left_));
      body_left_ -= n;
      if (body_left_ == 0 && deadline_) arrived();
    }
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (refused_) return static_cast<ssize_t>(size);  // the refusal is answered already
    return send_all(ptr, size) ? static_cast<ssize_t>(size) : -1;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return fd_; }

  Read read_some(char* to, std::size_t size) override {
    if (refused_) return {State::closed};
    if (!chunked_) {
      if (body_unknown_)
        return {State::malformed, 0, "the body's length is not a number, or its Transfer-Encoding not chunked"};
      if (body_left_ == 0) return {State::end};
      const Read r = take(to, static_cast<std::size_t>(std::min<std::uint64_t>(size, body_left_)));
      if (r.state == State::data) body_left_ -= r.bytes;
      return r;
    }
    // Framing (size lines, CRLFs, the trailer) brings the upload's rate check no data: one call,
    // however many framing lines it reads, ends within the idle limit.
    deadline_ = Clock::now() + limits_.idle;
    struct Unbound {
      std::optional<Clock::time_point>& d;
      ~Unbound() { d.reset(); }
    } unbound{deadline_};
    for (;;) {
      std::string line;
      switch (chunk_) {
        case Chunk::size: {
          if (const State s = take_line(line); s != State::data) return {s, 0, "a chunk's size line is too long"};
          // Hex digits, then nothing, white space or a chunk extension (ignored).
          std::uint64_t n = 0;
          const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n, 16);
          if (ec != std::errc() || end == line.data() ||
              (end != line.data() + line.size() && *end != ';' && *end != ' ' && *end != '\t'))
            return {State::malformed, 0, "a chunk's size is not a hexadecimal number"};
          chunk_left_ = n;
          chunk_ = n == 0 ? Chunk::trailer : Chunk::data;
          break;
        }
        case Chunk::data: {
          if (size == 0) return {State::data};
          const Read r = take(to, static_cast<std::size_t>(std::min<std::uint64_t>(size, chunk_left_)));
          if (r.state != State::data) return r;
          chunk_left_ -= r.bytes;
          if (chunk_left_ == 0) chunk_ = Chunk::data_end;
          return r;
        }
        case Chunk::data_end:
          if (const State s = take_line(line); s != State::data) return {s, 0, "a chunk is not followed by CRLF"};
          if (!line.empty()) return {State::malformed, 0, "a chunk is longer than its size"};
          chunk_ = Chunk::size;
          break;
        case Chunk::trailer:
          if (const State s = take_line(line); s != State::data) return {s, 0, "a trailer line is too long"};
          if (line.empty()) {
            chunk_ = Chunk::done;
            body_left_ = 0;
            body_unknown_ = false;  // read to its end: the connection may carry the next request
            break;
          }
          trailer_bytes_ += line.size();
          if (++trailers_ > kMaxTrailerLines || trailer_bytes_ > kMaxTrailerBytes)
            return {State::malformed, 0, "the body's trailer is over 100 lines or 8 KiB"};
          break;
        case Chunk::done:
          return {State::end};
      }
    }
  }

 private:
  void address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    const int r = remote ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len)
                         : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    if (r == 0) ip = numeric_host(a, len, &port);
  }

  void arrived() {
    deadline_.reset();
    if (on_whole) on_whole();
  }

  // Hands out the head a line at most at a time (httplib reads it byte by byte), counting lines
  // and bytes; past a cap the request is answered 431 here and the stream ends.
  bool count_head(std::size_t& n) {
    const char* p = buf_.data() + pos_;
    const void* nl = std::memchr(p, '\n', n);
    if (nl) n = static_cast<std::size_t>(static_cast<const char*>(nl) - p) + 1;
    head_bytes_ += n;
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] != '\r' && p[i] != '\n') ++line_bytes_;
    if (nl) {
      if (line_bytes_ == 0 && head_lines_ > 0) {
        in_head_ = false;
      } else if (line_bytes_ > 0) {
        ++head_lines_;
      }
      line_bytes_ = 0;
    }
    if (head_lines_ > limits_.max_head_lines || head_bytes_ > limits_.max_head_bytes) {
      refuse_431();
      return false;
    }
    return true;
  }

  void refuse_431() {
    refuse(431, "Request Header Fields Too Large",
           "the request head is over " + std::to_string(limits_.max_head_lines - 1) + " headers or " +
               std::to_string(limits_.max_head_bytes) + " bytes\n");
  }

  // Answers here, closing the connection; whatever the library then writes is dropped.
  void refuse(int status, const char* reason, const std::string& body) {
    const std::string msg =
        "HTTP/1.1 " + std::to_string(status) + " " + reason +
        "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    (void)send_all(msg.data(), msg.size());
    refused_ = true;
  }

  bool fill() {
    pos_ = 0;
    len_ = receive(buf_.data(), buf_.size());
    return len_ > 0;
  }

  // Up to `size` bytes from the socket, waiting for the first; 0 on EOF, an error or a timeout.
  std::size_t receive(char* to, std::size_t size) {
    for (;;) {
      if (ssl_) {
        const int r = SSL_read(ssl_, to, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
        if (r > 0) return static_cast<std::size_t>(r);
        const int e = SSL_get_error(ssl_, r);
        if (!((e == SSL_ERROR_WANT_READ && wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))) return 0;
        continue;
      }
      const ssize_t r = ::recv(fd_, to, size, 0);
      if (r > 0) return static_cast<std::size_t>(r);
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return 0;
      if (!wait(POLLIN)) return 0;
    }
  }

  // Up to `size` body bytes: those already buffered, else straight from the socket into `to`.
  Read take(char* to, std::size_t size) {
    if (pos_ == len_) {
      const std::size_t n = receive(to, size);
      if (n == 0) return {timed_out_ ? State::stalled : State::closed};
      return {State::data, n};
    }
    const std::size_t n = std::min(size, len_ - pos_);
    std::memcpy(to, buf_.data() + pos_, n);
    pos_ += n;
    return {State::data, n};
  }

  // One framing line of a chunked body, its CRLF (or LF) taken off; malformed past the cap.
  State take_line(std::string& line) {
    line.clear();
    for (;;) {
      if (pos_ == len_ && !fill()) return timed_out_ ? State::stalled : State::closed;
      const char* p = buf_.data() + pos_;
      const std::size_t n = len_ - pos_;
      const void* nl = std::memchr(p, '\n', n);
      const std::size_t part = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - p) : n;
      if (line.size() + part > kMaxChunkLineBytes) return State::malformed;
      line.append(p, part);
      pos_ += nl ? part + 1 : part;
      if (nl) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return State::data;
      }
    }
  }

  bool send_all(const char* p, std::size_t size) {
    while (size > 0) {
      ssize_t r;
      if (ssl_) {
        const int w = SSL_write(ssl_, p, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
        if (w <= 0) {
          const int e = SSL_get_error(ssl_, w);
          if ((e == SSL_ERROR_WANT_WRITE && wait(POLLOUT, false)) || (e == SSL_ERROR_WANT_READ && wait(POLLIN, false)))
            continue;
          return false;
        }
        r = w;
      } else {
        r = ::send(fd_, p, size, MSG_NOSIGNAL);
        if (r < 0) {
          if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && wait(POLLOUT, false)) continue;
          return false;
        }
      }
      p += r;
      size -= static_cast<std::size_t>(r);
    }
    return true;
  }

  // Waits for `events` up to the idle limit and, when `bounded` and a request is awaited, its
  // deadline. False on a timeout (then timed_out_), a stopping server, or an error.
  bool wait(short events, bool bounded = true) {
    const auto until =
        std::min(Clock::now() + limits_.idle, bounded && deadline_ ? *deadline_ : Clock::time_point::max());
    for (;;) {
      if (!running_()) return false;
      const auto now = Clock::now();
      if (now >= until) {
        timed_out_ = true;
        return false;
      }
      const auto slice = std::min<Clock::duration>(until - now, kPollSlice);
      pollfd pfd{fd_, events, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
      if (r > 0) return true;  // ready, or an error/hang-up the next call reports
      if (r < 0 && errno != EINTR) return false;
    }
  }

  int fd_;
  SSL* ssl_;
  const ConnLimits& limits_;
  std::function<bool()> running_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, len_ = 0;
  std::optional<Clock::time_point> deadline_;
  bool in_head_ = false, refused_ = false, body_unknown_ = false, parsed_ = false, timed_out_ = false;
  std::size_t head_lines_ = 0, head_bytes_ = 0, line_bytes_ = 0;
  std::uint64_t body_left_ = 0;
  // The handler's body (RequestBody): where a chunked one's framing stands.
  bool for_handler_ = false, chunked_ = false;
  enum class Chunk { size, data, data_end, trailer, done } chunk_ = Chunk::size;
  std::uint64_t chunk_left_ = 0;
  std::size_t trailers_ = 0, trailer_bytes_ = 0;
};

// The stream of the connection this thread serves, for request_body().
thread_local GuardedStream* t_serving = nullptr;

// A waiting room ticket, left at the latest before the socket closes.
struct Ticket {
  WaitingRoom& room;
  std::uint64_t id = 0;
  void leave() {
    if (id) room.leave(id);
    id = 0;
  }
  ~Ticket() { leave(); }
};

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

}  // namespace

RequestBody* request_body() { return t_serving && t_serving->for_handler() ? t_serving : nullptr; }

std::uint64_t WaitingRoom::enter(const std::string& client, int fd) {
  std::lock_guard lk(mu_);
  auto close_oldest = [&](auto pred) {
    auto it = std::find_if(waiting_.begin(), waiting_.end(), pred);
    if (it == waiting_.end()) return;
    ::shutdown(it->fd, SHUT_RDWR);  // its thread sees the end of the stream and closes it
    waiting_.erase(it);
  };
  const auto mine = static_cast<std::size_t>(
      std::count_if(waiting_.begin(), waiting_.end(), [&](const Entry& e) { return e.client == client; }));
  if (mine >= limits_.waiting_per_client) close_oldest([&](const Entry& e) { return e.client == client; });
  if (waiting_.size() >= limits_.waiting_total) close_oldest([](const Entry&) { return true; });
  waiting_.push_back({next_, client, fd});
  return next_++;
}

void WaitingRoom::leave(std::uint64_t ticket) {
  std::lock_guard lk(mu_);
  waiting_.remove_if([&](const Entry& e) { return e.ticket == ticket; });
}

void serve_connection(int fd, SSL_CTX* tls, WaitingRoom& room, const ConnLimits& limits, const ProcessRequest& process,
                      const std::function<bool()>& running) {
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  // A response is its head and its body in two writes: without this the body waits for the
  // client's delayed acknowledgement of the head.
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<SSL, SslFree> ssl(tls ? SSL_new(tls) : nullptr);
  if (tls && (!ssl || SSL_set_fd(ssl.get(), fd) != 1)) {
    ::close(fd);
    return;
  }
  if (ssl) SSL_set_accept_state(ssl.get());
  {
    GuardedStream strm(fd, ssl.get(), limits, running);
    t_serving = &strm;
    std::string client;
    int port = 0;
    strm.get_remote_ip_and_port(client, port);
    bool shook = !ssl;
    for (int n = 0; n < limits.requests_per_connection; ++n) {
      Ticket ticket{room, room.enter(client, fd)};
      strm.await_request(Clock::now() + limits.request_deadline);
      strm.on_whole = [&ticket] { ticket.leave(); };
      if (!shook && !strm.handshake()) break;
      shook = true;
      if (!strm.wait_next_request()) break;
      bool closed = false;
      const bool last = n + 1 == limits.requests_per_connection;
      const bool ok = process(strm, last, closed, [&](httplib::Request& req) {
        if (strm.head_done(req)) ticket.leave();
      });
      if (!ok || closed || strm.refused() || !strm.reusable()) break;
    }
    if (ssl && shook) (void)SSL_shutdown(ssl.get());
    t_serving = nullptr;
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace airlock::ui

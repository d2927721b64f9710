#include "ui/conn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace airlock::ui {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr std::chrono::milliseconds kPollSlice{200};  // how soon a wait notices the server stopping

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
// request's deadline and the head by ConnLimits' line and byte caps.
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(int fd, SSL* ssl, const ConnLimits& l, std::function<bool()> running)
      : fd_(fd), ssl_(ssl), limits_(l), running_(std::move(running)), buf_(kReadBufferBytes) {}

  // A new request is awaited: until it is whole (head, and a form body), reads end at `deadline`.
  void await_request(Clock::time_point deadline) {
    deadline_ = deadline;
    in_head_ = true;
    head_lines_ = head_bytes_ = line_bytes_ = 0;
    body_left_ = 0;
    body_unknown_ = parsed_ = false;
  }
  // The head is parsed: a form body stays under the deadline; the upload's body does not.
  // True when the request is whole already.
  bool head_done(const httplib::Request& req) {
    parsed_ = true;
    body_unknown_ = req.has_header("Transfer-Encoding");
    body_left_ = req.has_header("Content-Length") ? req.get_header_value<std::uint64_t>("Content-Length") : 0;
    if (req.path == limits_.unbounded_body_path) {
      deadline_.reset();
      return true;
    }
    return body_left_ == 0;
  }
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
    if (pos_ == len_ && !fill()) return -1;
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
    const std::string body = "the request head is over " + std::to_string(limits_.max_head_lines - 1) + " headers or " +
                             std::to_string(limits_.max_head_bytes) + " bytes\n";
    const std::string msg =
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)send_all(msg.data(), msg.size());
    refused_ = true;
  }

  bool fill() {
    pos_ = len_ = 0;
    for (;;) {
      if (ssl_) {
        const int r = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
        if (r > 0) {
          len_ = static_cast<std::size_t>(r);
          return true;
        }
        const int e = SSL_get_error(ssl_, r);
        if (!((e == SSL_ERROR_WANT_READ && wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))) return false;
        continue;
      }
      const ssize_t r = ::recv(fd_, buf_.data(), buf_.size(), 0);
      if (r > 0) {
        len_ = static_cast<std::size_t>(r);
        return true;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return false;
      if (!wait(POLLIN)) return false;
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
  // deadline. False on a timeout, a stopping server, or an error.
  bool wait(short events, bool bounded = true) {
    const auto until =
        std::min(Clock::now() + limits_.idle, bounded && deadline_ ? *deadline_ : Clock::time_point::max());
    for (;;) {
      if (!running_()) return false;
      const auto now = Clock::now();
      if (now >= until) return false;
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
  bool in_head_ = false, refused_ = false, body_unknown_ = false, parsed_ = false;
  std::size_t head_lines_ = 0, head_bytes_ = 0, line_bytes_ = 0;
  std::uint64_t body_left_ = 0;
};

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
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace airlock::ui

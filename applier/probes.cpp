// The probe of each check kind. Network probes talk to loopback only (a site's own services) and
// poll the cancel flag, so a decided run does not wait for them.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "applier/files.hpp"
#include "applier/health.hpp"
#include "applier/probes.hpp"
#include "core/sys/process.hpp"
#include "applier/state_db.hpp"
#include "core/crypto/x509.hpp"
#include "core/db/target.hpp"
#include "core/sys/fd.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Url {
  std::string host, port, path;
};

std::optional<Url> parse_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0) return std::nullopt;
  std::string rest = url.substr(7);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  Url u{hostport, "80", slash == std::string::npos ? "/" : rest.substr(slash)};
  auto close = hostport.find(']');
  auto colon = hostport.rfind(':');
  if (colon != std::string::npos && (close == std::string::npos || colon > close)) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  }
  if (u.host.size() > 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  return u;
}

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  return false;
}

// Waits for `events` on fd until the deadline, polling the cancel flag.
bool wait_fd(int fd, short events, SteadyClock::time_point deadline, const std::atomic<bool>& cancel,
             std::string& why) {
  for (;;) {
    if (cancel.load()) return why = "cancelled", false;
    if (SteadyClock::now() > deadline) return why = "timed out", false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, 20);
    if (n > 0) return true;
  }
}

Result<Fd> connect_loopback(const std::string& host, const std::string& port, SteadyClock::time_point deadline,
                            const std::atomic<bool>& cancel) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res)
    return fail(ErrorClass::io, "cannot resolve '" + host + ":" + port + "'");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  if (!is_loopback(res->ai_addr)) return fail(ErrorClass::usage, "'" + host + "' is not a loopback address");
  Fd fd(::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(ErrorClass::io, "socket failed");
  if (::connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)
    return fail(ErrorClass::io, "connect " + host + ":" + port + ": " + std::strerror(errno));
  std::string why;
  if (!wait_fd(fd.get(), POLLOUT, deadline, cancel, why)) return fail(ErrorClass::io, "connect: " + why);
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return fail(ErrorClass::io, "connect " + host + ":" + port + ": " + std::strerror(err));
  return fd;
}

// GET; returns the status code.
Result<int> http_get(const std::string& url, SteadyClock::time_point deadline, const std::atomic<bool>& cancel) {
  auto u = parse_url(url);
  if (!u) return fail(ErrorClass::usage, "bad URL '" + url + "'");
  AIRLOCK_TRY(Fd fd, connect_loopback(u->host, u->port, deadline, cancel), url);
  std::string req = "GET " + u->path + " HTTP/1.0\r\nHost: " + u->host + "\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return fail(ErrorClass::io, "sending request to " + url);
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    std::string why;
    if (!wait_fd(fd.get(), POLLIN, deadline, cancel, why)) return fail(ErrorClass::io, url + ": " + why);
    char buf[1024];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  int code = 0;
  if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &code) != 1)
    return fail(ErrorClass::io, url + ": no HTTP status line");
  return code;
}

Probe probe_http(const CheckSpec& c, SteadyClock::time_point dl, const std::atomic<bool>& cancel) {
  auto code = http_get(c.url, dl, cancel);
  if (!code) return {false, code.error().what()};
  if (*code != c.expect_status)
    return {false,
            "GET " + c.url + " returned " + std::to_string(*code) + ", expected " + std::to_string(c.expect_status)};
  return {true, "GET " + c.url + " -> " + std::to_string(*code)};
}

Probe probe_tcp(const CheckSpec& c, SteadyClock::time_point dl, const std::atomic<bool>& cancel) {
  auto colon = c.address.rfind(':');
  if (colon == std::string::npos) return {false, "address '" + c.address + "' has no port"};
  std::string host = c.address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto fd = connect_loopback(host, c.address.substr(colon + 1), dl, cancel);
  if (!fd) return {false, fd.error().what()};
  return {true, "connected to " + c.address};
}

Probe probe_sqlite(const Site& site, const CheckSpec& c, SteadyClock::time_point dl, const std::atomic<bool>& cancel) {
  auto t = db::open_target(site.databases.at(c.database));
  if (!t) return {false, t.error().what()};
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(dl - SteadyClock::now()).count();
  // Interrupted past the attempt's deadline or once the run is decided.
  auto first = (*t)->probe({c.query, left, [&] { return SteadyClock::now() > dl || cancel.load(); }});
  if (!first) return {false, first.error().what()};
  std::string got = *first ? value_text(**first) : "(no rows)";
  // The value is the database's, any bytes: the detail goes to history, the audit log and the
  // terminal, so it is quoted printable (error texts above are printable already).
  const std::string shown = printable(got);
  if (got != c.expect) return {false, "query returned '" + shown + "', expected '" + printable(c.expect) + "'"};
  return {true, "query returned '" + shown + "'"};
}

// Reachable and accepting writes: a row written to a temporary table and rolled back (nothing
// stays behind), or the check's own query.
constexpr const char* kWriteProbe =
    "BEGIN; CREATE TEMPORARY TABLE airlock_probe(x int) ON COMMIT DROP; INSERT INTO airlock_probe VALUES (1); "
    "ROLLBACK; SELECT 1";

Probe probe_postgres(const Site& site, const CheckSpec& c, SteadyClock::time_point dl,
                     const std::atomic<bool>& cancel) {
  if (!c.query.empty()) return probe_sqlite(site, c, dl, cancel);
  CheckSpec w = c;
  w.query = kWriteProbe;
  w.expect = "1";
  Probe p = probe_sqlite(site, w, dl, cancel);
  if (p.ok) p.detail = "accepted a write (rolled back)";
  return p;
}

Probe probe_disk(const CheckSpec& c) {
  auto f = free_bytes(c.path);
  if (!f) return {false, f.error().what()};
  bool ok = *f >= c.min_free_bytes;
  return {ok,
          std::to_string(*f) + " bytes free on '" + c.path + "' (minimum " + std::to_string(c.min_free_bytes) + ")"};
}

Probe probe_cert(const CheckSpec& c) {
  auto v = x509::check_certificate({c.path, c.ca, c.host, c.min_days});
  return {v.ok, v.detail};
}

Probe probe_latency(const CheckSpec& c, const Baseline* baseline, SteadyClock::time_point dl,
                    const std::atomic<bool>& cancel, double* measured) {
  std::vector<double> ms;
  for (int i = 0; i < c.samples; ++i) {
    auto t0 = SteadyClock::now();
    auto code = http_get(c.url, dl, cancel);
    if (!code) return {false, code.error().what()};
    if (*code != c.expect_status) return {false, "GET " + c.url + " returned " + std::to_string(*code)};
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double median = ms[ms.size() / 2];
  *measured = median;
  char buf[200];
  if (!baseline) {
    std::snprintf(buf, sizeof buf, "median %.2f ms over %d requests (baseline)", median, c.samples);
    return {true, buf};
  }
  if (!baseline->count(c.name)) return {true, "no baseline: skipped (preflight could not measure it)", true};
  double base = baseline->at(c.name);
  // Relative growth alone would flag loopback noise (0.2 ms -> 0.5 ms is +150%): the absolute
  // allowance keeps a fast baseline from failing on jitter.
  double limit = base + std::max(base * c.max_increase_percent / 100.0, c.max_increase_ms);
  std::snprintf(buf, sizeof buf, "median %.2f ms, baseline %.2f ms, limit %.2f ms (+%g%% or +%g ms)", median, base,
                limit, c.max_increase_percent, c.max_increase_ms);
  return {median <= limit, buf};
}

}  // namespace

Probe probe_once(const Site& site, const CheckSpec& c, const Baseline* baseline, SteadyClock::time_point dl,
                 const std::atomic<bool>& cancel, double* measured_ms, ChildObserver* children) {
  switch (c.kind) {
    case CheckKind::exec: {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(dl - SteadyClock::now()).count();
      auto p = run_process(
          {c.argv, site.base_dir, std::max<std::int64_t>(left, 1), &cancel, {}, children, "check '" + c.name + "'"});
      std::string tail = p.ok() ? "" : p.output_tail();
      return {p.ok(), printable(p.describe()) + (tail.empty() ? "" : ": " + tail)};  // the tail is printable already
    }
    case CheckKind::http:
      return probe_http(c, dl, cancel);
    case CheckKind::tcp:
      return probe_tcp(c, dl, cancel);
    case CheckKind::sqlite:
      return probe_sqlite(site, c, dl, cancel);
    case CheckKind::postgres:
      return probe_postgres(site, c, dl, cancel);
    case CheckKind::disk_free:
      return probe_disk(c);
    case CheckKind::cert:
      return probe_cert(c);
    case CheckKind::latency:
      return probe_latency(c, baseline, dl, cancel, measured_ms);
    case CheckKind::systemd:
    case CheckKind::restarts:
      return watch_counter(site, c, dl, cancel, children);
  }
  return {false, "unknown check kind"};
}

}  // namespace airlock::applier

// Who may use the Updates page: sessions after a login, their CSRF tokens, the slowing of failed
// logins per client, and the Host names the server answers to (against DNS rebinding). Kept in
// memory only: a restart of `airlock serve` logs everyone out.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace airlock::ui {

using Clock = std::chrono::steady_clock;

struct Session {
  std::string id;             // 32 random bytes, hex: the cookie's value
  std::string csrf;           // 32 random bytes, hex: every POST of this session carries it
  std::string lang;           // the page language chosen with the switch ("" = Accept-Language)
  std::string flash;          // one message for the next page view
  std::string password_hash;  // the hash the login was checked against: a new password ends the session
  Clock::time_point created, last_seen;
};

inline constexpr std::chrono::minutes kSessionIdle{30};
inline constexpr std::chrono::hours kSessionMax{12};
inline constexpr std::size_t kMaxSessions = 64;

class Sessions {
 public:
  Session create(const std::string& password_hash);
  // The live session with this id (idle and age limits applied; its last_seen refreshed).
  std::optional<Session> find(const std::string& id);
  void update(const Session& s);
  void remove(const std::string& id);

 private:
  std::mutex mu_;
  std::map<std::string, Session> by_id_;
};

// Failed logins, per client address and in all: a refused attempt is refused unchecked, so that a
// flood never costs an Argon2 hash per request; a success clears the counts.
class LoginThrottle {
 public:
  // 0: the caller may check a password now and must then call finished(); else the seconds to wait.
  // A password check is the costly step (an Argon2id hash: 64 MiB and about 0.1 s), so at most
  // kConcurrentChecks run at once, one per client, and a client (any loopback address is one) waits
  // 2^(n-1) s (at most 60) after its n-th failure. Addresses are free to a local user, so failures
  // anywhere count as well: past kFreeFailures in a row, every client waits the same way.
  std::int64_t begin(const std::string& client);
  void finished(const std::string& client, bool ok);
  // Failed logins since the last successful one (the audit log gets the count, not each attempt).
  int failures_since_login();

  static constexpr int kConcurrentChecks = 2;
  static constexpr int kFreeFailures = 10;

 private:
  struct Entry {
    int failures = 0;
    bool checking = false;
    Clock::time_point next_allowed;
  };
  static std::int64_t backoff_s(int failures);
  std::mutex mu_;
  std::map<std::string, Entry> by_client_;
  int checking_ = 0;
  int global_failures_ = 0;
  int since_login_ = 0;
  Clock::time_point global_next_;
};

// The Host header values accepted: `configured` when not empty, else the listen address and its
// localhost forms on the same port.
std::vector<std::string> accepted_hosts(const std::vector<std::string>& configured, const std::string& listen);
bool host_allowed(const std::vector<std::string>& accepted, const std::string& host_header);

// The value of cookie `name` in a Cookie header ("" when absent), and every value it has there.
std::string cookie_value(const std::string& header, const std::string& name);
std::vector<std::string> cookie_values(const std::string& header, const std::string& name);

}  // namespace airlock::ui

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
  std::string id;     // 32 random bytes, hex: the cookie's value
  std::string csrf;   // 32 random bytes, hex: every POST of this session carries it
  std::string lang;   // the page language chosen with the switch ("" = Accept-Language)
  std::string flash;  // one message for the next page view
  Clock::time_point created, last_seen;
};

inline constexpr std::chrono::minutes kSessionIdle{30};
inline constexpr std::chrono::hours kSessionMax{12};
inline constexpr std::size_t kMaxSessions = 64;

class Sessions {
 public:
  Session create();
  // The live session with this id (idle and age limits applied; its last_seen refreshed).
  std::optional<Session> find(const std::string& id);
  void update(const Session& s);
  void remove(const std::string& id);

 private:
  std::mutex mu_;
  std::map<std::string, Session> by_id_;
};

// Failed logins per client address: after the n-th failure in a row the next attempt is refused
// unchecked for 2^(n-1) s (at most 60 s); a success clears the count. Refusing without checking
// the password keeps a flood from costing an Argon2 hash per request.
class LoginThrottle {
 public:
  // Seconds the client must still wait (0: it may try now).
  std::int64_t wait_s(const std::string& client);
  void failed(const std::string& client);
  void succeeded(const std::string& client);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point next_allowed;
  };
  std::mutex mu_;
  std::map<std::string, Entry> by_client_;
};

// The Host header values accepted: `configured` when not empty, else the listen address and its
// localhost forms on the same port.
std::vector<std::string> accepted_hosts(const std::vector<std::string>& configured, const std::string& listen);
bool host_allowed(const std::vector<std::string>& accepted, const std::string& host_header);

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace airlock::ui

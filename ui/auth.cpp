#include "ui/auth.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "core/crypto/password_hash.hpp"

namespace airlock::ui {

Session Sessions::create(const std::string& password_hash) {
  std::lock_guard lk(mu_);
  const auto now = Clock::now();
  for (auto it = by_id_.begin(); it != by_id_.end();)  // drop expired ones before counting
    it = (now - it->second.last_seen > kSessionIdle || now - it->second.created > kSessionMax) ? by_id_.erase(it)
                                                                                               : std::next(it);
  if (by_id_.size() >= kMaxSessions) {  // the least recently used goes
    auto oldest = std::min_element(by_id_.begin(), by_id_.end(), [](const auto& a, const auto& b) {
      return a.second.last_seen < b.second.last_seen;
    });
    by_id_.erase(oldest);
  }
  Session s{crypto::random_hex(32), crypto::random_hex(32), "", "", password_hash, now, now};
  by_id_[s.id] = s;
  return s;
}

std::optional<Session> Sessions::find(const std::string& id) {
  if (id.size() != 64) return std::nullopt;
  std::lock_guard lk(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  const auto now = Clock::now();
  if (now - it->second.last_seen > kSessionIdle || now - it->second.created > kSessionMax) {
    by_id_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen = now;
  return it->second;
}

void Sessions::update(const Session& s) {
  std::lock_guard lk(mu_);
  if (auto it = by_id_.find(s.id); it != by_id_.end()) it->second = s;
}

void Sessions::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  by_id_.erase(id);
}

std::int64_t LoginThrottle::backoff_s(int failures) {
  return std::min<std::int64_t>(60, std::int64_t{1} << (std::min(failures, 7) - 1));
}

std::int64_t LoginThrottle::begin(const std::string& client) {
  std::lock_guard lk(mu_);
  const auto now = Clock::now();
  auto left = [&](Clock::time_point t) {
    const auto s = std::chrono::ceil<std::chrono::seconds>(t - now).count();
    return s > 0 ? s : std::int64_t{0};
  };
  if (auto w = left(global_next_); w > 0) return w;
  if (checking_ >= kConcurrentChecks) return 1;
  if (by_client_.size() >= 10000) {  // a bound on memory: forget clients whose wait is over
    std::erase_if(by_client_, [&](const auto& kv) { return !kv.second.checking && kv.second.next_allowed <= now; });
    if (by_client_.size() >= 10000) return 60;
  }
  auto& e = by_client_[client];
  if (e.checking) return 1;
  if (auto w = left(e.next_allowed); w > 0) return w;
  e.checking = true;
  ++checking_;
  return 0;
}

void LoginThrottle::finished(const std::string& client, bool ok) {
  std::lock_guard lk(mu_);
  --checking_;
  auto& e = by_client_[client];
  e.checking = false;
  if (ok) {
    by_client_.erase(client);
    global_failures_ = 0;
    since_login_ = 0;
    return;
  }
  const auto now = Clock::now();
  e.failures = std::min(e.failures + 1, 16);
  e.next_allowed = now + std::chrono::seconds(backoff_s(e.failures));
  global_failures_ = std::min(global_failures_ + 1, 1000);
  ++since_login_;
  if (global_failures_ > kFreeFailures)
    global_next_ = now + std::chrono::seconds(backoff_s(global_failures_ - kFreeFailures));
}

int LoginThrottle::failures_since_login() {
  std::lock_guard lk(mu_);
  return since_login_;
}

std::vector<std::string> accepted_hosts(const std::vector<std::string>& configured, const std::string& listen) {
  if (!configured.empty()) return configured;
  const std::string port = listen.substr(listen.rfind(':') + 1);
  std::vector<std::string> out{listen};
  for (const char* h : {"localhost", "127.0.0.1", "[::1]"}) out.push_back(std::string(h) + ":" + port);
  return out;
}

bool host_allowed(const std::vector<std::string>& accepted, const std::string& host_header) {
  std::string h = host_header;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return std::find(accepted.begin(), accepted.end(), h) != accepted.end();
}

std::vector<std::string> cookie_values(const std::string& header, const std::string& name) {
  std::vector<std::string> values;
  std::size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ';')) ++pos;
    const auto end = header.find(';', pos);
    const std::string part = header.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 && part[name.size()] == '=')
      values.push_back(part.substr(name.size() + 1));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return values;
}

std::string cookie_value(const std::string& header, const std::string& name) {
  auto values = cookie_values(header, name);
  return values.empty() ? "" : values.front();
}

}  // namespace airlock::ui

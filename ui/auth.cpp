#include "ui/auth.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "core/crypto/password_hash.hpp"

namespace airlock::ui {

Session Sessions::create() {
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
  Session s{crypto::random_hex(32), crypto::random_hex(32), "", "", now, now};
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

std::int64_t LoginThrottle::wait_s(const std::string& client) {
  std::lock_guard lk(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return 0;
  const auto left = std::chrono::ceil<std::chrono::seconds>(it->second.next_allowed - Clock::now()).count();
  return left > 0 ? left : 0;
}

void LoginThrottle::failed(const std::string& client) {
  std::lock_guard lk(mu_);
  if (by_client_.size() > 10000) by_client_.clear();  // a bound on memory; the worst is a fresh start
  auto& e = by_client_[client];
  e.failures = std::min(e.failures + 1, 16);
  const std::int64_t wait = std::min<std::int64_t>(60, std::int64_t{1} << (e.failures - 1));
  e.next_allowed = Clock::now() + std::chrono::seconds(wait);
}

void LoginThrottle::succeeded(const std::string& client) {
  std::lock_guard lk(mu_);
  by_client_.erase(client);
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

std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ';')) ++pos;
    const auto end = header.find(';', pos);
    const std::string part = header.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 && part[name.size()] == '=')
      return part.substr(name.size() + 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

}  // namespace airlock::ui

#include "registry/auth.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

#include "core/crypto/base64.hpp"
#include "registry/curl_handles.hpp"

namespace airlock::registry {

namespace {

constexpr std::size_t kMaxTokenAnswerBytes = 1024 * 1024;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One `name="quoted value"` or `name=token` from `s` at `i`; false at the end or on garbage.
bool next_param(const std::string& s, std::size_t& i, std::string& name, std::string& value) {
  while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
  const auto eq = s.find('=', i);
  if (i >= s.size() || eq == std::string::npos) return false;
  name = lower(s.substr(i, eq - i));
  value.clear();
  i = eq + 1;
  if (i < s.size() && s[i] == '"') {
    for (++i; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      value += s[i];
    }
    ++i;
  } else {
    while (i < s.size() && s[i] != ',') value += s[i++];
  }
  return true;
}

}  // namespace

std::optional<Challenge> parse_challenge(const std::string& header) {
  const auto sp = header.find(' ');
  if (header.empty()) return std::nullopt;
  Challenge c;
  c.scheme = lower(header.substr(0, sp));
  if (sp == std::string::npos) return c;
  std::size_t i = sp + 1;
  std::string name, value;
  while (next_param(header, i, name, value)) c.params.emplace(name, value);
  return c;
}

std::string basic_header(const Credentials& c) {
  const std::string pair = c.username + ":" + c.password;
  return "Basic " + base64_encode({reinterpret_cast<const std::uint8_t*>(pair.data()), pair.size()});
}

std::string url_escape(const std::string& s) {
  std::string out;
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string origin_of(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  const auto path = url.find_first_of("/?#", scheme_end + 3);
  return lower(url.substr(0, path));
}

std::string resolve_url(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  if (location.starts_with("/")) return origin_of(base) + location;
  const auto q = base.find('?');
  const std::string path = base.substr(0, q);
  return path.substr(0, path.rfind('/') + 1) + location;
}

std::string describe_answer(const HttpResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    const auto& e = j["errors"][0];
    if (e.is_object() && e.contains("code") && e["code"].is_string()) {
      out += " (" + e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string()) out += ": " + e["message"].get<std::string>();
      out += ")";
    }
  }
  return out;
}

Result<std::string> fetch_token(Http& http, const Challenge& ch, const std::vector<std::string>& scopes,
                                const std::optional<Credentials>& creds) {
  auto realm = ch.params.find("realm");
  if (realm == ch.params.end() || realm->second.empty())
    return fail(ErrorClass::io, "the registry's Bearer challenge names no realm");
  std::string url = realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&");
  if (auto s = ch.params.find("service"); s != ch.params.end()) url += "service=" + url_escape(s->second) + "&";
  for (const auto& scope : scopes) url += "scope=" + url_escape(scope) + "&";
  url.pop_back();
  HttpRequest req;
  req.url = url;
  req.max_capture = kMaxTokenAnswerBytes;
  if (creds) req.headers.push_back("Authorization: " + basic_header(*creds));
  AIRLOCK_TRY(auto resp, http.perform(req), "token service");
  if (resp.status == 401 || resp.status == 403)
    return fail(ErrorClass::usage, "the token service at '" + origin_of(url) + "' refused " +
                                       (creds ? "the credentials" : "anonymous access") + ": " + describe_answer(resp));
  if (resp.status != 200)
    return fail(ErrorClass::io, "the token service at '" + origin_of(url) + "' answered " + describe_answer(resp));
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  for (const char* key : {"token", "access_token"}) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) continue;
    std::string token = j[key].get<std::string>();
    // It goes into a header line: a control byte or space would let the answer add headers.
    for (unsigned char c : token)
      if (c <= 0x20 || c >= 0x7f) return fail(ErrorClass::io, "the token service's token holds a byte not allowed");
    return token;
  }
  return fail(ErrorClass::io, "the token service's answer holds no token");
}

}  // namespace airlock::registry

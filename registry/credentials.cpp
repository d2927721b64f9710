#include "registry/credentials.hpp"

#include <nlohmann/json.hpp>

#include "core/crypto/base64.hpp"
#include "core/sys/fs.hpp"

namespace airlock::registry {

namespace {

constexpr std::size_t kMaxAuthFileBytes = 1024 * 1024;

Result<Credentials> decode_entry(const nlohmann::json& e, const std::string& path, const std::string& key) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorClass::usage, "auth file '" + path + "': entry '" + key + "': " + why);
  };
  if (!e.is_object()) return bad("not an object");
  if (e.contains("auth")) {
    if (!e["auth"].is_string()) return bad("\"auth\" is not a string");
    auto raw = base64_decode_strict(e["auth"].get<std::string>());
    if (!raw) return bad("\"auth\" is not base64");
    std::string text(raw->begin(), raw->end());
    auto colon = text.find(':');
    if (colon == std::string::npos) return bad("\"auth\" is not user:password");
    return Credentials{text.substr(0, colon), text.substr(colon + 1)};
  }
  if (e.contains("username") && e.contains("password") && e["username"].is_string() && e["password"].is_string())
    return Credentials{e["username"].get<std::string>(), e["password"].get<std::string>()};
  return bad("neither \"auth\" nor \"username\" and \"password\"");
}

}  // namespace

Result<std::optional<Credentials>> credentials_from_auth_file(const std::string& path, const std::string& host) {
  auto text = read_file(path, kMaxAuthFileBytes);
  if (!text) return fail(text.error().reclassed(ErrorClass::usage).with_context("auth file"));
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorClass::usage, "auth file '" + path + "': not a JSON object");
  if (!j.contains("auths")) return std::optional<Credentials>();
  const auto& auths = j["auths"];
  if (!auths.is_object()) return fail(ErrorClass::usage, "auth file '" + path + "': \"auths\" is not an object");
  for (const std::string& key : {host, "https://" + host, "http://" + host}) {
    if (!auths.contains(key)) continue;
    AIRLOCK_TRY(auto c, decode_entry(auths[key], path, key), "reading credentials");
    return std::optional<Credentials>(std::move(c));
  }
  return std::optional<Credentials>();
}

}  // namespace airlock::registry

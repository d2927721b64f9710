#include "registry/reference.hpp"

#include <regex>

#include "core/blob/stream.hpp"

namespace airlock::registry {

namespace {

const std::regex& repo_re() {
  static const std::regex re("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
  return re;
}

bool valid_host(std::string_view host) {
  static const std::regex re("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?");
  return host.size() <= 255 && std::regex_match(host.begin(), host.end(), re);
}

Error bad(std::string_view text, const std::string& why) {
  return Error(ErrorClass::usage, "registry reference '" + std::string(text) + "': " + why);
}

}  // namespace

bool valid_repository(std::string_view repo) {
  return !repo.empty() && repo.size() <= 255 && std::regex_match(repo.begin(), repo.end(), repo_re());
}

bool valid_tag(std::string_view tag) {
  static const std::regex re("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
  return std::regex_match(tag.begin(), tag.end(), re);
}

std::string Reference::text() const {
  std::string s = "oci://" + host + "/" + repo;
  if (!digest.empty()) return s + "@" + digest;
  if (!tag.empty()) return s + ":" + tag;
  return s;
}

Result<Reference> parse_reference(std::string_view text, NeedTarget need) {
  constexpr std::string_view kScheme = "oci://";
  if (!text.starts_with(kScheme)) return fail(bad(text, "must start with oci://"));
  std::string_view rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return fail(bad(text, "no repository after the host"));
  Reference r;
  r.host = std::string(rest.substr(0, slash));
  if (!valid_host(r.host)) return fail(bad(text, "not a host[:port]"));
  rest = rest.substr(slash + 1);
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    if (!blob::digest_hex(r.digest)) return fail(bad(text, "after @ must come sha256:<64 lower-case hex>"));
    rest = rest.substr(0, at);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    r.tag = std::string(rest.substr(colon + 1));
    if (!valid_tag(r.tag)) return fail(bad(text, "not a valid tag"));
    rest = rest.substr(0, colon);
  }
  r.repo = std::string(rest);
  if (!valid_repository(r.repo)) return fail(bad(text, "not a valid repository name (lower-case path)"));
  if (need == NeedTarget::yes && r.tag.empty() && r.digest.empty())
    return fail(bad(text, "needs :TAG or @sha256:DIGEST"));
  return r;
}

Result<RegistryRoot> parse_registry_root(std::string_view text) {
  constexpr std::string_view kScheme = "oci://";
  if (!text.starts_with(kScheme)) return fail(bad(text, "must start with oci://"));
  std::string_view rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  RegistryRoot r;
  r.host = std::string(rest.substr(0, slash));
  if (!valid_host(r.host)) return fail(bad(text, "not a host[:port]"));
  if (slash == std::string_view::npos) return r;
  r.prefix = std::string(rest.substr(slash + 1));
  while (!r.prefix.empty() && r.prefix.back() == '/') r.prefix.pop_back();
  if (!r.prefix.empty() && !valid_repository(r.prefix))
    return fail(bad(text, "the prefix after the host is not a repository path (lower-case, no :TAG or @DIGEST)"));
  return r;
}

}  // namespace airlock::registry

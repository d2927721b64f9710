// An artifact's address in a registry: `oci://HOST[:PORT]/REPO(:TAG|@sha256:HEX)` (the form Zarf
// and Hauler use), parsed strictly: the repository and tag grammars of the distribution spec, and
// a digest that is `sha256:<64 lower-case hex>` and nothing else.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace airlock::registry {

struct Reference {
  std::string host;    // "registry.example.org" or "127.0.0.1:5000"
  std::string repo;    // "airlock/demo"
  std::string tag;     // one of tag and digest is set (neither: a repository only)
  std::string digest;  // "sha256:<hex>"
  // The tag or digest, as a manifest URL names it.
  const std::string& target() const { return digest.empty() ? tag : digest; }
  std::string text() const;  // the oci:// form
};

enum class NeedTarget { yes, no };

// Every fault is a usage error (2) naming the text.
[[nodiscard]] Result<Reference> parse_reference(std::string_view text, NeedTarget need = NeedTarget::yes);
bool valid_repository(std::string_view repo);

// Where `airlock images push` puts a site's images: `oci://HOST[:PORT][/PREFIX]`, no tag or digest.
struct RegistryRoot {
  std::string host;
  std::string prefix;  // a repository path ("mirror", "site/images") or empty
  std::string text() const { return "oci://" + host + (prefix.empty() ? "" : "/" + prefix); }
};
// Every fault is a usage error (2) naming the text.
[[nodiscard]] Result<RegistryRoot> parse_registry_root(std::string_view text);
bool valid_tag(std::string_view tag);

}  // namespace airlock::registry

// trust.toml (spec §6): the consumer's pinned trust root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/sys/time.hpp"

namespace airlock {

struct TrustKey {
  std::string name;
  minisign::PublicKey key;
  std::optional<Timestamp> not_before;
  std::optional<Timestamp> not_after;
  bool revoked = false;
  bool valid_at(const Timestamp& t) const;
};

struct TrustRoot {
  // Raised with every new root; a consumer installs a [trust_update] only when its serial is
  // greater than the installed root's (spec §6), so an old root can never come back.
  std::int64_t serial = 0;
  int threshold = 1;  // 1..16
  std::vector<TrustKey> keys;
  const TrustKey* find(const minisign::KeyId& id) const;
};

// Strict (unknown keys rejected, no BOM). `cls` is the class of every fault: usage (2) for the
// site's own file, not_authentic (11) for a bundle's [trust_update].
[[nodiscard]] Result<TrustRoot> parse_trust_root(std::string_view text, ErrorClass cls);
std::string render_trust_root(const TrustRoot& t);

}  // namespace airlock

// SemVer 2.0.0: strict parse and precedence (build metadata ignored for ordering).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"

namespace airlock {

struct SemVer {
  // Decimal digits without leading zeros, of any length: SemVer sets no bound on a number, and a
  // version's 64 bytes are the only limit the bundle format adds.
  std::string major = "0", minor = "0", patch = "0";
  std::vector<std::string> prerelease;  // dot-separated identifiers
  std::vector<std::string> build;
  std::string text;  // as written
};

// ErrorClass::malformed naming the text and the rule on failure (callers parsing user input
// report it as a usage error).
[[nodiscard]] Result<SemVer> parse_semver(std::string_view text);
// <0, 0, >0 by SemVer precedence.
int compare_semver(const SemVer& a, const SemVer& b);

}  // namespace airlock

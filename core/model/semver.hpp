// SemVer 2.0.0: strict parse and precedence (build metadata ignored for ordering).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace airlock {

struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
  std::vector<std::string> build;
  std::string text;                     // as written
};

// A version is at most this long (spec §4): it names a folder of the site (releases/<version>)
// and is shown everywhere, so a longer one is refused where it is parsed.
inline constexpr std::size_t kMaxVersionBytes = 64;

// ErrorClass::malformed naming the text and the rule on failure (callers parsing user input
// report it as a usage error).
[[nodiscard]] Result<SemVer> parse_semver(std::string_view text);
// <0, 0, >0 by SemVer precedence.
int compare_semver(const SemVer& a, const SemVer& b);

}  // namespace airlock

// Internal to the feed store (feed_store.cpp reads, feed_accept.cpp writes): the paths of its
// files and the sticky deprecation list.
#pragma once

#include <cstddef>
#include <set>
#include <string>

#include "applier/site.hpp"
#include "core/error.hpp"

namespace airlock::applier {

inline constexpr std::size_t kMaxDeprecatedBytes = 4 << 20;

std::string feed_pointer_path(const Site& s);                         // feed/accepted
std::string feed_copy_dir(const Site& s, const std::string& sha256);  // feed/<sha256>
std::string deprecated_path(const Site& s);                           // feed/deprecated

// The sticky list; empty when the file does not exist. A damaged file is ErrorClass::preflight
// naming the line.
[[nodiscard]] Result<std::set<std::string>> load_deprecated(const Site& s);
// Writes the whole list atomically; callers only ever pass a superset of what they loaded.
[[nodiscard]] Status save_deprecated(const Site& s, const std::set<std::string>& versions);

}  // namespace airlock::applier

// Payload paths (spec §3). The set check runs on lower-cased copies (ASCII only: the segment
// alphabet is ASCII) so that a case-insensitive file system at a site can never see two entries
// land on one name, or a file where a folder must be.
#include "core/sys/paths.hpp"

#include <algorithm>
#include <numeric>

namespace airlock {
namespace {

bool is_segment_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

std::optional<std::string> payload_path_problem(std::string_view path) {
  if (path.empty()) return "path is empty";
  if (path.size() > kMaxPathBytes)
    return "path is " + std::to_string(path.size()) + " bytes, over the limit of " + std::to_string(kMaxPathBytes);
  if (path.front() == '/') return "path starts with '/'";
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    const auto seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return "path has an empty segment";
    if (seg == "." || seg == "..") return "segment '" + std::string(seg) + "' is not allowed";
    for (char c : seg)
      if (!is_segment_char(c)) return "segment '" + std::string(seg) + "' has a character outside [A-Za-z0-9._-]";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  // Exact spelling, as the spec writes them: these names belong to the container.
  if (path == "manifest.toml") return "path 'manifest.toml' is reserved for the manifest";
  if (path.starts_with("signatures/")) return "paths under 'signatures/' are reserved for signatures";
  return std::nullopt;
}

std::optional<std::string> path_set_problem(const std::vector<std::string>& paths) {
  std::vector<std::string> folded;
  folded.reserve(paths.size());
  for (const auto& p : paths) folded.push_back(lower_ascii(p));
  std::vector<std::size_t> order(paths.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return folded[a] < folded[b]; });

  for (std::size_t i = 1; i < order.size(); ++i)
    if (folded[order[i - 1]] == folded[order[i]]) {
      const auto &a = paths[order[i - 1]], &b = paths[order[i]];
      if (a == b) return "path '" + a + "' appears twice";
      return "paths '" + a + "' and '" + b + "' are the same ignoring case";
    }

  // A folder of a path may sit anywhere in sorted order ("a", "a-b", "a/b"), so look each
  // leading folder up rather than comparing neighbours: O(n · segments · log n).
  auto find = [&](std::string_view key) -> const std::size_t* {
    auto it = std::lower_bound(order.begin(), order.end(), key,
                               [&](std::size_t idx, std::string_view k) { return folded[idx] < k; });
    return (it != order.end() && folded[*it] == key) ? &*it : nullptr;
  };
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string_view f = folded[i];
    for (auto slash = f.find('/'); slash != std::string_view::npos; slash = f.find('/', slash + 1))
      if (const std::size_t* hit = find(f.substr(0, slash)))
        return "path '" + paths[*hit] + "' is a leading folder of '" + paths[i] + "' (ignoring case)";
  }
  return std::nullopt;
}

}  // namespace airlock

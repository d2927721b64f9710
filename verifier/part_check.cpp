// check_parts_against_feed(): runs only after a verification failed, so reading the parts once more
// costs nothing on the path that succeeds.
#include "verifier/part_check.hpp"

#include <filesystem>
#include <map>
#include <vector>

#include "core/container/container.hpp"
#include "core/sys/fs.hpp"

namespace airlock::verifier {
namespace {

constexpr std::size_t kShownHexDigits = 16;

struct PresentPart {
  std::string path;
  std::string sha256;  // empty when it could not be read
};

// Every part present from .part0001 on, until the first number with no file and nothing after it.
std::vector<std::optional<PresentPart>> present_parts(const std::string& path, std::size_t at_least) {
  std::vector<std::optional<PresentPart>> out;
  std::error_code ec;
  for (unsigned n = 1; n <= 9999; ++n) {
    const std::string name = part_name(path, n);
    if (!std::filesystem::exists(name, ec)) {
      if (n > at_least) break;
      out.emplace_back(std::nullopt);
      continue;
    }
    auto h = sha256_file(name);
    out.emplace_back(PresentPart{name, h ? *h : std::string()});
  }
  return out;
}

std::size_t matches(const FeedEntry& e, const std::vector<std::optional<PresentPart>>& parts) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < parts.size() && i < e.parts.size(); ++i)
    if (parts[i] && parts[i]->sha256 == e.parts[i]) ++n;
  return n;
}

std::string shown(const std::string& sha) { return sha.substr(0, kShownHexDigits) + "…"; }

}  // namespace

std::optional<Error> check_parts_against_feed(const std::string& path, const Feed& feed) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || !std::filesystem::exists(part_name(path, 1), ec)) return std::nullopt;
  std::size_t longest = 0;
  for (const auto& e : feed.entries) longest = std::max(longest, e.parts.size());
  if (longest == 0) return std::nullopt;
  const auto parts = present_parts(path, longest);
  const FeedEntry* best = nullptr;
  std::size_t best_n = 0;
  for (const auto& e : feed.entries)
    if (!e.parts.empty() && matches(e, parts) > best_n) best = &e, best_n = matches(e, parts);
  if (!best) return std::nullopt;
  const std::string whose = "split bundle '" + path + "' (release " + best->version + ", " +
                            std::to_string(best->parts.size()) + " parts in feed serial " +
                            std::to_string(feed.serial) + ")";
  std::string missing;
  for (std::size_t i = 0; i < best->parts.size(); ++i)
    if (i >= parts.size() || !parts[i])
      missing += (missing.empty() ? "" : ", ") + part_name(path, static_cast<unsigned>(i + 1));
  if (!missing.empty()) return Error(ErrorClass::io, whose + ": missing " + missing);
  std::map<std::string, std::size_t> listed;  // sha256 -> part number
  for (std::size_t i = 0; i < best->parts.size(); ++i) listed.emplace(best->parts[i], i + 1);
  std::string damaged;
  for (std::size_t i = 0; i < best->parts.size(); ++i) {
    if (parts[i]->sha256 == best->parts[i]) continue;
    damaged += (damaged.empty() ? "" : "; ") + parts[i]->path;
    if (auto it = listed.find(parts[i]->sha256); it != listed.end())
      damaged += " holds part " + std::to_string(it->second) + " (parts out of order)";
    else
      damaged += " is damaged (sha256 " + shown(parts[i]->sha256) + ", the feed lists " + shown(best->parts[i]) + ")";
  }
  for (std::size_t i = best->parts.size(); i < parts.size(); ++i)
    damaged += (damaged.empty() ? "" : "; ") + parts[i]->path + " is not one of the feed's parts";
  if (damaged.empty()) return std::nullopt;
  return Error(ErrorClass::integrity, whose + ": " + damaged);
}

}  // namespace airlock::verifier

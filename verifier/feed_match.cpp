// match_feed(): product, then the bytes, then deprecation, so a bundle the feed does not list byte
// for byte is an integrity failure whatever its version's flags say.
#include "verifier/feed_match.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace airlock::verifier {
namespace {

constexpr std::size_t kShownHexDigits = 16;

std::string prefix(std::string_view sha) { return std::string(sha.substr(0, kShownHexDigits)) + "…"; }

Error no_entry_matches(const Feed& feed, const std::vector<const FeedEntry*>& entries, std::string_view sha,
                       std::uint64_t size) {
  std::string listed;
  for (const auto* e : entries)
    listed += (listed.empty() ? "" : "; ") + e->file + " with sha256 " + prefix(e->sha256) + " and " +
              std::to_string(e->size) + " bytes";
  return Error(ErrorClass::integrity, "the bundle's bytes match no entry of release " + entries.front()->version +
                                          " in feed serial " + std::to_string(feed.serial) + ": the feed lists " +
                                          listed + "; the bundle read has sha256 " + prefix(sha) + " and " +
                                          std::to_string(size) + " bytes");
}

bool any_deprecated(const std::vector<const FeedEntry*>& entries) {
  return std::any_of(entries.begin(), entries.end(), [](const FeedEntry* e) { return e->deprecated; });
}

}  // namespace

const char* channel_source_name(ChannelSource s) { return s == ChannelSource::feed ? "feed" : "manifest"; }

std::optional<bool> feed_critical(const Feed& feed, std::string_view version) {
  const auto entries = feed.find_version(version);
  if (entries.empty()) return std::nullopt;
  return std::any_of(entries.begin(), entries.end(), [](const FeedEntry* e) { return e->critical; });
}

Result<FeedMatch> match_feed(const Feed& feed, const Release& release, std::string_view bundle_sha256,
                             std::uint64_t bundle_size, const std::set<std::string>& deprecated_versions) {
  if (feed.product != release.product)
    return fail(ErrorClass::policy, "the feed (serial " + std::to_string(feed.serial) + ") is for product '" +
                                        feed.product + "', the bundle for '" + release.product + "'");
  const std::string& version = release.version.text;
  const auto entries = feed.find_version(version);
  FeedMatch m;
  m.channel = release.channel;
  m.critical = release.critical || feed_critical(feed, version).value_or(false);
  if (!entries.empty()) {
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const FeedEntry* e) { return e->sha256 == bundle_sha256 && e->size == bundle_size; });
    if (it == entries.end()) return fail(no_entry_matches(feed, entries, bundle_sha256, bundle_size));
    m.entry = **it;
    m.channel = (*it)->channel;
    m.channel_source = ChannelSource::feed;
  }
  if (any_deprecated(entries))
    return fail(ErrorClass::policy, "release " + version + " is deprecated in the feed (serial " +
                                        std::to_string(feed.serial) + "): it is never applied");
  if (deprecated_versions.count(version))
    return fail(ErrorClass::policy, "release " + version +
                                        " was deprecated by a feed accepted earlier (deprecation is sticky): it is "
                                        "never applied");
  return m;
}

}  // namespace airlock::verifier

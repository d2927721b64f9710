// Matching a verified bundle to a verified channel feed (spec §10). The feed says which channel a
// release is in and whether it is critical or deprecated; the bundle's whole-file sha256 and size,
// read in the one pass that verified it, must equal one entry of its version, so a bundle the feed
// does not list byte for byte never takes a channel from it. A release the feed does not list at
// all keeps its manifest's channel. The feed itself is verified first (verifier/feed.hpp); which
// feed a consumer accepts (serial, sticky deprecation) is the consumer's.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/model/feed.hpp"
#include "core/model/manifest.hpp"

namespace airlock::verifier {

// Where a release's channel came from.
enum class ChannelSource { feed, manifest };
const char* channel_source_name(ChannelSource s);  // "feed" | "manifest"

// A verified feed given to a verification, and the versions the consumer keeps deprecated whatever
// this feed says (deprecation is sticky across feeds).
struct FeedContext {
  Feed feed;
  std::set<std::string> deprecated_versions;
};

struct FeedMatch {
  std::optional<FeedEntry> entry;          // the entry with the bundle's sha256 and size; nullopt: the feed
                                           // lists no entry of the release's version
  Channel channel = Channel::recommended;  // the entry's, else the manifest's release.channel
  ChannelSource channel_source = ChannelSource::manifest;
  // The manifest's flag, raised (never lowered) by the feed: an entry of the release's version that
  // says critical makes the release critical, whichever of its bundles (full or delta) this is.
  bool critical = false;
};

// Errors: the feed is for another product (13); the feed lists the version but no entry whose
// sha256 AND size are the bundle's (12, naming each entry's file and the expected and actual sha256
// prefixes); the release is deprecated, by an entry of its version or by `deprecated_versions`
// (13, also when the feed does not list it).
[[nodiscard]] Result<FeedMatch> match_feed(const Feed& feed, const Release& release, std::string_view bundle_sha256,
                                           std::uint64_t bundle_size, const std::set<std::string>& deprecated_versions);

// The feed's word on whether a release is critical, for a check made at the manifest before the
// payload is read: true when an entry of its version says so; nullopt when the feed lists none.
std::optional<bool> feed_critical(const Feed& feed, std::string_view version);

}  // namespace airlock::verifier

// feed.toml of spec §10: HQ's signed index of which bundle is in which channel. The typed form, a
// strict parser (TOML through core/toml_util, no BOM, unknown keys refused, at most kMaxFeedBytes)
// and a canonical writer: render_feed is a function of the Feed alone (entries sorted, every field
// in spec order), so two writers of the same feed produce the same bytes, which is what signers
// sign. parse_feed(render_feed(f)) == f for every valid f, with entries in canonical order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/model/manifest.hpp"
#include "core/sys/time.hpp"

namespace airlock {

struct FeedEntry {
  std::string version;             // SemVer text, as written
  std::string file;                // the bundle's file name, no folder
  std::string sha256;              // 64 lower-case hex of the whole bundle file
  std::uint64_t size = 0;          // bytes of the whole bundle file
  std::vector<std::string> parts;  // sha256 of each .partNNNN in order; empty for a whole file
  Channel channel = Channel::beta;
  bool critical = false;
  bool deprecated = false;
};

struct Feed {
  std::string product;
  std::int64_t serial = 0;  // strictly increasing with every feed HQ publishes
  Timestamp published;
  std::vector<FeedEntry> entries;

  // The entries of one version (several: a full and a delta bundle), in canonical order.
  std::vector<const FeedEntry*> find_version(std::string_view version) const;
};

// Every fault is ErrorClass::malformed naming the key path ("entries[2].sha256: ...").
[[nodiscard]] Result<Feed> parse_feed(std::string_view bytes);
// The canonical text (sorts a copy of the entries: by version precedence, then version text, then file).
std::string render_feed(const Feed& f);
// The rules beyond the shape: product, hashes, file names, no file listed twice. parse_feed calls it;
// writers call it before they render.
[[nodiscard]] Status validate_feed(const Feed& f);
// The canonical order of entries.
void sort_feed_entries(std::vector<FeedEntry>& entries);

}  // namespace airlock

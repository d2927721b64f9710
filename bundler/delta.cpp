// The base of a delta, read straight from the base bundle's stream (no extraction): index.json
// and the manifests are small and read whole; configs and layers are skipped, never decompressed
// into memory. Airlock's own bundles carry manifests before configs and layers (bundler/oci.hpp),
// so one pass finds them all; another writer's order may put a manifest before the index or the
// image index that names it, and then a further pass reads what the previous one learned it needs.
#include "bundler/delta.hpp"

#include <map>
#include <memory>

#include "bundler/propagate.hpp"
#include "core/blob/oci.hpp"
#include "core/blob/stream.hpp"
#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/model/manifest.hpp"

namespace airlock::bundler {

namespace {

// Each pass reads at least one more manifest level; an image index nests a few at most.
inline constexpr int kMaxPasses = 8;

struct Walk {
  std::set<std::string> layouts;  // "images/": the prefixes of the base's image layouts
  std::set<std::string> wanted;   // manifests to read
  std::set<std::string> read;     // manifests read
  std::set<std::string> carried;  // every blob digest the base carries under a layout
};

Error refused(const std::string& path, const std::string& what) {
  return Error(ErrorClass::build_refused, "base bundle '" + path + "' is not a usable base for a delta: " + what);
}
// An error met on the way, its text kept as it is (printable already).
Error refused(const std::string& path, const Error& cause) {
  return cause.reclassed(ErrorClass::build_refused)
      .with_context("base bundle '" + path + "' is not a usable base for a delta");
}

// The layout `entry` lies in ("images/"), and the digest when it is a blob ("" for index.json).
struct Place {
  std::string layout;
  std::string digest;
  bool index = false;
};
std::optional<Place> place_of(const Walk& w, const std::string& entry) {
  for (const auto& l : w.layouts) {
    if (!entry.starts_with(l)) continue;
    const std::string rest = entry.substr(l.size());
    if (rest == "index.json") return Place{l, "", true};
    if (rest.starts_with("blobs/sha256/")) {
      const std::string d = std::string(blob::kSha256Prefix) + rest.substr(13);
      if (blob::digest_hex(d)) return Place{l, d, false};
    }
  }
  return std::nullopt;
}

Status take_index(TarReader& tar, const TarEntry& e, const std::string& label, Walk& w) {
  if (e.size > blob::kMaxOciJsonBytes) return fail(ErrorClass::malformed, label + " is over the limit of 4 MiB");
  BUNDLER_TRY(std::string text, read_entry_bytes(tar, e.size, label));
  BUNDLER_TRY(auto roots, blob::parse_index(text, ErrorClass::malformed, label));
  for (const auto& d : roots) w.wanted.insert(d.digest);
  return {};
}

Status take_manifest(TarReader& tar, const TarEntry& e, const std::string& digest, const std::string& label, Walk& w,
                     DeltaBase& base) {
  if (e.size > blob::kMaxOciJsonBytes) return fail(ErrorClass::malformed, label + " is over the limit of 4 MiB");
  BUNDLER_TRY(std::string text, read_entry_bytes(tar, e.size, label));
  if (blob::digest_text(sha256(text)) != digest)
    return fail(ErrorClass::integrity, label + ": its content is not its name");
  BUNDLER_TRY(auto c, blob::parse_children(text, ErrorClass::malformed, label));
  for (const auto& m : c.manifests) w.wanted.insert(m.digest);
  for (const auto& d : c.configs) base.blobs.insert(d.digest);
  for (const auto& d : c.layers) base.blobs.insert(d.digest);
  w.read.insert(digest);
  return {};
}

// One pass over the whole bundle: a strict head (its manifest parsed on the first pass, for the
// version and the layouts its images name), then every entry, reading the index (first pass) and
// the manifests wanted so far.
Status pass(const std::string& path, bool first, Walk& w, DeltaBase& base) {
  BUNDLER_TRY(auto src, open_source(path));
  ZstdReader z(*src);
  TarReader tar(z);
  BUNDLER_TRY(BundleHead head, read_bundle_head(tar, HeadMode::strict));
  if (first) {
    BUNDLER_TRY(Manifest m, parse_manifest(head.manifest));
    base.version = m.release.version.text;
    for (const auto& im : m.images)
      if (im.layout) w.layouts.insert(*im.layout + "/");
  }
  std::optional<TarEntry> e = head.next;
  for (std::uint64_t n = head.next_number; e; ++n) {
    const std::string label = entry_label(n, e->path);
    auto where = place_of(w, e->path);
    if (where && !where->index) w.carried.insert(where->digest);
    if (where && where->index && first) {
      BUNDLER_CHECK(take_index(tar, *e, label, w));
    } else if (where && !where->index && w.wanted.count(where->digest) && !w.read.count(where->digest)) {
      BUNDLER_CHECK(take_manifest(tar, *e, where->digest, label, w, base));
    } else {
      BUNDLER_CHECK(tar.skip());
    }
    BUNDLER_TRY(e, tar.next());
  }
  return tar.finish();
}

// The manifests still wanted; refused when the base does not carry one.
Result<bool> more_to_read(const std::string& path, const Walk& w) {
  bool more = false;
  for (const auto& d : w.wanted) {
    if (w.read.count(d)) continue;
    if (!w.carried.count(d)) return fail(refused(path, "its image manifest " + d + " is not in the bundle"));
    more = true;
  }
  return more;
}

}  // namespace

Result<DeltaBase> read_delta_base(const std::string& path) {
  DeltaBase base;
  base.path = path;
  Walk w;
  for (int i = 0; i < kMaxPasses; ++i) {
    if (auto s = pass(path, i == 0, w, base); !s) return fail(refused(path, s.error()));
    BUNDLER_TRY(bool more, more_to_read(path, w));
    if (!more) return base;
  }
  return fail(refused(path, "its image indexes nest more than " + std::to_string(kMaxPasses) + " levels deep"));
}

}  // namespace airlock::bundler

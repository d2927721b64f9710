// `airlock scan`: what is on a mounted stick, and which of it this site may apply. Finds every
// bundle in one folder (whole files, and bundles split into `<bundle>.partNNNN`, spec §9), checks
// each against the site's trust root (with its sticky revocations) and judges it against the
// site's product, channel and installed release. A report, never a verdict: a bundle that fails
// is listed with why. By default only each bundle's head is checked (verifier/head_check.hpp: spec
// §7 steps 1-5, no payload byte read); ScanDepth::deep verifies every bundle in full. A bundle's
// channel, critical flag and deprecation come from the site's accepted feed (applier/feed_store.hpp)
// when it lists the version, else from the manifest; a feed on the stick (`feed.toml` and its
// signatures) is checked and its serial shown, never accepted.
//
// Scanning writes nothing: not to the folder, not to the site's state folder (state.db is opened
// read-only, the site lock is not taken). Symbolic links in the folder are never followed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

enum class ScanDepth { head, deep };
const char* scan_depth_name(ScanDepth d);

struct ScanParts {
  std::uint32_t count = 0;             // part files found
  std::vector<std::uint32_t> missing;  // gaps in 1..highest part number found
  bool complete() const { return missing.empty(); }
};

struct ScannedBundle {
  std::string file;                // the name in the folder (the base name of a split bundle)
  std::optional<ScanParts> parts;  // set for a split bundle
  std::uint64_t size = 0;          // bytes on the stick (all parts)
  bool verified = false;           // the check of `depth` passed
  std::optional<Error> error;      // why it was not verified
  // The verified manifest; when not verified, what the head declares if it parses (shown, never
  // trusted), else nullopt.
  std::optional<Manifest> manifest;
  std::vector<std::string> signers;  // key ids whose signatures counted
  // Set with the manifest: the accepted feed's channel for the version when it lists it
  // (channel_source "feed"), else the manifest's ("manifest"); critical when either says so;
  // deprecated when any feed the site accepted deprecated the version.
  Channel channel = Channel::recommended;
  std::string channel_source;
  bool critical = false;
  bool deprecated = false;
  std::string notes_lang;            // the site's language when the bundle has notes in it, else "en"
  std::vector<std::string> why_not;  // every reason it does not apply; empty: it applies
  bool applies() const { return why_not.empty(); }
};

struct IgnoredFile {
  std::string name;
  std::string reason;
};

// `feed.toml` in the scanned folder, checked against the site's trust root; never accepted by a scan.
struct StickFeed {
  std::optional<std::int64_t> serial;  // nullopt when it does not parse
  bool verified = false;
  std::optional<Error> error;  // why it did not verify
};

struct ScanReport {
  std::string dir;
  std::string site_name, product, channel, language;
  std::optional<std::string> installed;  // nullopt: nothing installed
  ScanDepth depth = ScanDepth::head;
  std::optional<std::int64_t> accepted_feed_serial;  // nullopt: the site accepted no feed
  std::optional<StickFeed> stick_feed;               // nullopt: no feed.toml in the folder
  std::vector<ScannedBundle> bundles;                // newest version first; undeclared ones last, by name
  std::vector<IgnoredFile> ignored;                  // by name
};

// Errors: usage (2) for a bad site.toml or trust root, io (3) when `dir` cannot be listed or the
// site's state cannot be read. Every bundle's own failure is in its ScannedBundle.
[[nodiscard]] Result<ScanReport> scan(const std::string& dir, const std::string& site_toml, ScanDepth depth);

}  // namespace airlock::applier

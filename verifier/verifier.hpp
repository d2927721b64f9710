// The verifier: spec §7 in one streaming pass. Reads the bundle once, checks signatures over the
// exact manifest bytes before parsing it, then the manifest, the policy, every payload entry
// (name, order, size before content; SHA-256 while streaming) and the end of the stream.
// With a staging folder, files are written beneath it through a directory fd (openat,
// O_NOFOLLOW|O_EXCL, never following links) and everything is removed again on any failure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/signature_count.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"
#include "verifier/feed_match.hpp"

namespace airlock::verifier {

// The largest clock skew a consumer may tolerate (spec §7 step 5): a year is more drift than any
// isolated site's clock has, and the bound keeps the verification time plus the skew far from
// overflowing. A Policy beyond it is a usage error (2).
inline constexpr std::int64_t kMaxClockSkewSeconds = 365LL * 24 * 3600;

struct Policy {
  std::optional<std::string> product;
  std::optional<SemVer> installed;        // nullopt: nothing installed (first release)
  std::optional<Channel> channel;         // the site's channel
  std::optional<Timestamp> at;            // verification time; nullopt = now
  std::int64_t clock_skew_seconds = 300;  // 0 .. kMaxClockSkewSeconds
  std::optional<std::uint64_t> max_size;  // consumer limit on the sum of payload sizes
};

// Progress events (libraries never print; the cli renders them).
struct Progress {
  std::uint64_t bytes_done = 0;   // payload bytes hashed so far
  std::uint64_t bytes_total = 0;  // from the manifest (0 until it is read)
  std::string current_file;
};

struct Request {
  std::string bundle_path;  // a file, or the base name of .partNNNN parts
  TrustRoot trust;
  // Keys this consumer has seen revoked by any root it installed (spec §6, sticky revocation):
  // they count for nothing in `trust` and in a [trust_update] root, whatever those roots say.
  // Empty for a bare trust file (`airlock verify --trust`), which is taken as it is.
  std::vector<minisign::KeyId> revoked_keys;
  Policy policy;
  // Must not exist or be empty, and not be a symbolic link (staging.hpp); the files are written
  // into its `.airlock-partial/` and moved up after success. nullopt = verify only.
  std::optional<std::string> staging_dir;
  // Called once the manifest is verified and parsed, before any payload byte is written (the
  // applier checks disk room here). Returning an error aborts with that error.
  std::function<Status(const Manifest&)> on_manifest;
  // Called once the manifest is authentic (threshold met) and parsed, before the policy is checked:
  // an observer only (the applier records which release a policy refusal refused).
  std::function<void(const Manifest&)> on_authentic;
  std::function<void(const Progress&)> on_progress;
  // Also hash the whole bundle file (Report::bundle_sha256), for matching a feed entry (§10) or an
  // auditor's sha256sum. Off by default: it costs a second SHA-256 stream next to the per-file
  // hashes, which on a 2-core machine is what keeps verify slower than decompression.
  bool whole_file_sha256 = false;
  // With whole_file_sha256, a split bundle's parts are hashed too, each on its own, in the same
  // pass (Report::part_sha256; a feed entry lists them, §10).
  bool part_sha256 = false;
  // A verified channel feed (spec §10) the bundle must match (verifier/feed_match.hpp): the whole
  // file is hashed in the one pass as with whole_file_sha256, and once the stream has ended, before
  // staging is committed, its sha256 and size must match an entry of its version. The channel
  // policy is then checked against the channel of the match (the feed's, else the manifest's)
  // instead of the manifest's at step 5. Report::feed_match holds the match.
  std::optional<FeedContext> feed;
  // Polled before each payload chunk (1 MiB), before the payload starts, and every 100 ms while a
  // pipe or FIFO has no bytes for the reader (possibly from a reader thread of its own): when it
  // returns true the run ends as a failure (ErrorClass::io, kStoppedMessage) and staging is
  // removed, as on any failure. The cli and the applier wire it to their termination-signal
  // handlers.
  std::function<bool()> stop;
};

inline constexpr const char* kStoppedMessage = "verification stopped before the end";
// Whether `e` is the failure Request::stop causes (and not a verdict on the bundle).
bool is_stopped(const Error& e);

// One signature entry's verdict against the trust root (core/crypto/signature_count.hpp).
using SignatureReport = SignatureVerdict;

struct Report {
  Manifest manifest;
  std::string manifest_sha256;
  std::string manifest_text;                 // the signed bytes, as in the bundle
  std::vector<std::string> signature_texts;  // every signature entry, in entry order (.minisig text)
  std::vector<SignatureReport> signatures;
  int threshold = 0;
  int valid_signatures = 0;
  std::uint64_t files_checked = 0;
  std::uint64_t bytes_checked = 0;
  std::uint64_t bundle_bytes = 0;         // compressed bytes read
  std::string bundle_sha256;              // of the whole file (as read, parts concatenated); empty
                                          // unless Request::whole_file_sha256 or Request::feed; then
                                          // bundle_bytes is the whole file's size, from the same pass
  std::vector<std::string> part_sha256;   // each part's, in order, with Request::part_sha256 and a
                                          // split bundle; empty otherwise
  std::optional<FeedMatch> feed_match;    // with Request::feed
  std::optional<TrustRoot> trust_update;  // parsed and checked new root, when the bundle has one
  // A [trust_update] whose serial is not greater than the current root's: stale, neither checked
  // against its own threshold nor to be installed, and not a reason to refuse the bundle (§6).
  // Its serial; trust_update stays empty.
  std::optional<std::int64_t> stale_trust_update;
  Timestamp verified_at;
  std::int64_t clock_skew_seconds = 300;
  std::optional<std::string> staging_dir;
};

// Exit classes of spec §8. On failure nothing stays in staging.
[[nodiscard]] Result<Report> verify(const Request& req);

}  // namespace airlock::verifier

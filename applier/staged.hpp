// Staged releases: a bundle verified now and kept at the site to be applied later ("verify now,
// install at 02:00", a release sideloaded from a stick). Each lives in
// <state_dir>/staged/<bundle sha256>/ (docs/site.md, "Staged releases"):
//   record.json              format "airlock-staged/1": bundle sha256, version, channel, product,
//                            the key ids that counted, staged-at, manifest sha256, file and byte counts
//   manifest.toml            the signed manifest, byte for byte as the bundle carried it
//   signatures/<KEYID>.minisig  its signatures (stock `minisign -V` checks them)
//   payload/                 the verified payload the verifier extracted
// It is built as staged/<id>.partial and renamed into place once everything is on disk, so a
// crash leaves only a .partial folder, which the next site open removes; complete ones survive.
// Nothing kept is trusted at use: the manifest's signatures are counted again against the site's
// trust root of that moment (and its sticky revocations), the policy is checked again, and every
// payload file is hashed again while it is copied into the run's staging (verifier/kept.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "core/error.hpp"
#include "verifier/verifier.hpp"

namespace airlock::applier {

inline constexpr const char* kStagedFormat = "airlock-staged/1";

struct StagedRelease {
  std::string sha256;  // of the bundle file, as read while it was verified: the key
  std::string version, channel, product;
  bool critical = false;
  std::string created, expires;      // release.created and release.expires ("" when it has none)
  std::vector<std::string> key_ids;  // the keys whose signatures counted when it was staged
  std::string staged_at;
  std::string manifest_sha256;  // of the signed manifest kept beside the payload
  std::uint64_t files = 0, bytes = 0, bundle_bytes = 0;
  std::string problem;  // why its record cannot be read ("" when it can); such a release is never used
};

struct StageResult {
  StagedRelease release;
  bool already_staged = false;       // the same bundle was staged before; nothing was written
  std::vector<std::string> removed;  // sha256 of the releases retention removed to make room
};

// Verifies the bundle against the site's trust root and policy (as apply would now) and keeps it
// staged; then keeps at most site.staged_keep releases, removing the oldest (never this one).
[[nodiscard]] Result<StageResult> stage(const std::string& site_toml, const std::string& bundle, const Env& env = {});
// Oldest first. Does not take the site lock.
[[nodiscard]] Result<std::vector<StagedRelease>> staged_list(const std::string& site_toml);
// `sha` is the full SHA-256 or a unique prefix of at least 8 hex digits (usage error otherwise).
[[nodiscard]] Result<StagedRelease> staged_remove(const std::string& site_toml, const std::string& sha,
                                                  const Env& env = {});
// An apply whose verify phase uses the staged release `sha` instead of reading a bundle. A release
// applied (healthy) is removed from the store; after a refusal or a rollback it stays staged.
[[nodiscard]] Result<RunReport> apply_staged(const std::string& site_toml, const std::string& sha, const Env& env = {});

// Internal to the applier.
struct Ctx;
std::string staged_root(const Site& s);
// Whether the run in `c` applies a staged release (its bundle is the release's folder).
bool uses_staged(const Ctx& c);
// The verify phase for a staged release: `req` as for a bundle (trust, revocations, policy,
// callbacks, staging folder), answered by verifier::verify_kept over the kept release.
[[nodiscard]] Result<verifier::Report> verify_staged(const Ctx& c, const verifier::Request& req);
// Removes staged/*.partial (a stage or a removal a crash cut short). Called with the site locked.
void sweep_staged_partials(const Site& s);

}  // namespace airlock::applier

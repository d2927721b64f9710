// Internal: the pieces of the staged-release store (staged.cpp) that staging and applying
// (stage.cpp) share. Callers that change the store hold the site lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "applier/run.hpp"
#include "applier/staged.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

std::string staged_dir(const Site& s, const std::string& sha);
bool is_staged_key(const std::string& name);  // 64 lower-case hex digits
[[nodiscard]] Result<StagedRelease> read_staged(const Site& s, const std::string& sha);

struct StagedRecordInput {
  std::string sha256;
  const Manifest& manifest;
  std::string manifest_sha256;
  std::vector<std::string> key_ids;
  std::string staged_at;
  std::uint64_t bundle_bytes = 0;
};
std::string record_json(const StagedRecordInput& in);

[[nodiscard]] Result<std::vector<StagedRelease>> list_staged(const Site& s);  // oldest first
// The full key for a full SHA-256 or a unique prefix of at least 8 hex digits.
[[nodiscard]] Result<std::string> resolve_staged(const Site& s, const std::string& sha);
// `id` makes the name of the folder it is moved to before it is removed.
[[nodiscard]] airlock::Status remove_staged(const Site& s, const std::string& sha, const std::string& id);
// Keeps at most c.site.staged_keep releases, the oldest removed first, never `keep_sha`.
[[nodiscard]] Result<std::vector<std::string>> prune_staged(Ctx& c, const std::string& keep_sha);
// What the site's apply would check now: its trust root and sticky revocations, product, channel,
// installed version and clock.
[[nodiscard]] Result<verifier::Request> site_request(const Ctx& c, const std::string& installed);
// Verifies the bundle and keeps it staged (stage() with the site already open and locked).
[[nodiscard]] Result<StageResult> stage_locked(Ctx& c, const std::string& bundle);
// Applies the staged release `key` as run `run_id` (apply --staged); `job` names the scheduled job
// the run carries out (kept in the run's data, so that its record closes the job).
[[nodiscard]] Result<RunReport> run_staged(Ctx& c, const std::string& key, const std::string& run_id,
                                           std::optional<std::int64_t> job);
// An audit entry `kind` naming the release (sha256, version).
[[nodiscard]] Result<std::string> audit_append_staged(Ctx& c, const std::string& kind, const StagedRelease& r);

}  // namespace airlock::applier

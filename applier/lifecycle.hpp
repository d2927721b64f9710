// A release's life at a site beyond its apply: the operator's skip of a release the site should
// not install, the delay of a critical one, the first time the site met each release, and a
// breaking config delta that needs the operator's explicit acceptance. State lives in state.db
// (seen_releases); every skip, undo and delay is one transaction with its history row and audit
// entry, and so is every refusal of a skip or delay (outcome "refused", nothing else changed).
// docs/site.md, "Skip, delay and critical releases", describes the rules.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "applier/staged.hpp"
#include "applier/state_db.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

struct Ctx;

// A release is critical when its manifest or its feed entry says so: a feed may raise the flag,
// never lower it (nullopt: no feed entry for it).
bool is_critical(bool manifest_flag, std::optional<bool> feed_flag);

enum class Undo { no, yes };

struct LifecycleReport {
  std::string site_name;
  std::string version;
  std::string action;      // "skip", "unskip" or "delay"
  std::string at;          // when it was recorded
  std::string until;       // delay: the new deadline
  std::string first_seen;  // when the site first met the release ("" = not yet)
  std::string audit_head;
};

// Records (or with Undo::yes removes) the operator's skip of `version`. A release the site knows
// as critical cannot be skipped: ErrorClass::policy naming its deadline (the refusal is recorded).
// A skip of a release the site has not met yet is recorded as it is; should that release turn out
// critical when the site meets it, the skip is void (reported by the apply).
[[nodiscard]] Result<LifecycleReport> skip(const std::string& site_toml, const std::string& version, Undo undo,
                                           const Env& env = {});
// Delays a critical release until `until` (RFC 3339). The first delay of a release the site has not
// met records it as met now, and as critical (the operator says so). ErrorClass::policy when
// `until` is later than critical_max_delay after the site first met it (the refusal is recorded);
// ErrorClass::usage for a release the site knows is not critical.
[[nodiscard]] Result<LifecycleReport> delay(const std::string& site_toml, const std::string& version,
                                            const std::string& until, const Env& env = {});

// The apply's check of an authentic manifest, before anything is committed: records the release as
// met (first time kept), refuses a skipped release that is not critical and a breaking config delta
// the operator did not accept with `--accept-breaking VERSION` (both ErrorClass::policy).
[[nodiscard]] airlock::Status meet_release(Ctx& c, const Manifest& m, std::optional<bool> feed_critical);

// Staging's check of an authentic manifest: refuses a release the operator skipped, unless it is
// critical (ErrorClass::policy, the words of the apply), without recording the release as met.
[[nodiscard]] airlock::Status refuse_if_skipped(Ctx& c, const Manifest& m);

// The staged release that satisfies the critical release `version`: the newest of `staged` (the
// site's staged store, listed once by the caller) of
// the site's product at or above it and above `installed`; `breaking` when its kept manifest
// carries a breaking config delta (then only an operator applies it: --accept-breaking).
struct CriticalFix {
  StagedRelease release;
  bool breaking = false;
};
[[nodiscard]] Result<std::optional<CriticalFix>> staged_fix(const Site& s, const std::vector<StagedRelease>& staged,
                                                            const std::string& version, const std::string& installed);

// Critical releases met and not yet satisfied by the installed release, oldest first.
[[nodiscard]] Result<std::vector<CriticalRelease>> pending_critical(StateDb& st, const std::string& installed,
                                                                    const Timestamp& now);

}  // namespace airlock::applier

// The applier: the site side of airlock. A site (site.toml, docs/site.md) applies a
// verified bundle through a journaled state machine — preflight, verify into staging, snapshot,
// drain, apply, resume, health checks, and an automatic rollback on the first hard failure — and
// keeps its own state (installed release, journal, history, hash-chained audit log) in
// <state_dir>/state.db. A crash at any point is undone by the next command (or `recover`).
// Libraries never print: progress goes to the EventSink. Exit classes are those of spec §8.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/sys/time.hpp"
#include "verifier/feed_match.hpp"

namespace airlock::applier {

struct SiteEvent {
  std::string phase;    // "preflight", "verify", "snapshot", ..., "rollback", "recover"
  std::string message;  // one line for a human
};
using EventSink = std::function<void(const SiteEvent&)>;

// Seams for tests: the wall clock used for every recorded time.
struct Env {
  std::function<Timestamp()> now = now_utc;
  EventSink events = [](const SiteEvent&) {};
  std::string started_by = "cli";  // recorded in history ("who/what started it")
  // The termination signal received so far (SIGTERM, SIGINT, ...), or 0. Polled at each phase
  // boundary of a run: before the first write the run stops (exit 33, nothing changed); from
  // drain on an apply is rolled back (exit 30) and a manual rollback or restore finishes;
  // rollback and record always finish. The cli wires this to its signal handler.
  std::function<int()> interrupted = [] { return 0; };
  // apply: the release whose breaking config delta the operator accepted ("" = none).
  std::string accept_breaking;
  // apply (a bundle or a staged release) and stage: a verified channel feed the site accepted, with
  // the versions the site keeps deprecated (spec §10). The bundle's whole-file sha256 and size must
  // match an entry of its version (12), checked in the verify phase before anything is committed;
  // the release's channel and critical flag are then the feed's (verifier/feed_match.hpp).
  std::optional<verifier::FeedContext> feed;
};

struct CheckResult {
  std::string name;
  std::string kind;
  bool hard = true;
  bool ok = false;
  std::string detail;
  std::int64_t elapsed_ms = 0;
  bool skipped = false;  // its `when` condition did not hold, or a latency check had no baseline
};

// How a run ended: one word per outcome, the same in history, the audit log, `--json` and the
// notify hook's AIRLOCK_OUTCOME (applier/outcome.cpp holds the words).
enum class Outcome {
  applied,        // apply: the new release is installed and healthy (soft failures may be listed)
  rolled_back,    // apply: a hard failure; rolled back by itself, healthy again (exit 30)
  reverted,       // rollback: the operator's return to the previous release, healthy
  restored,       // snapshot restore: the chosen snapshot is back
  degraded,       // a rollback or revert did not restore health (exit 31)
  aborted,        // nothing changed (a failure before the first write)
  refused,        // rollback or snapshot restore refused before anything changed
  recovered_old,  // recover: an interrupted run undone, back on the old state
  recovered_new,  // recover: an interrupted run was complete, its new state recorded
  discarded,      // snapshot restore --force dropped a damaged run record
  nothing_to_do,  // recover: no interrupted run (never recorded)
  acknowledged,   // ack: an operator cleared the degraded mark after repair
  skipped,        // skip: an operator recorded that a release is not to be installed
  unskipped,      // skip --undo: the skip removed
  delayed,        // delay: an operator postponed a critical release
  feed_accepted,  // feed accept: the site accepted a newer channel feed
  scheduled,      // schedule add: a job recorded (applier/schedule.hpp)
  cancelled,      // a scheduled job cancelled: by the operator, a failed preflight, a changed site
  missed,         // a scheduled job found after its window, never run late
};
const char* outcome_name(Outcome o);
// The outcome a word names, including the words older builds wrote into history
// ("auto-rollback", "crash-recovered", ...); nullopt for any other text.
std::optional<Outcome> parse_outcome(std::string_view word);

struct RunReport {
  std::string kind = "apply";  // "apply" | "rollback" (manual) | "restore"
  Outcome outcome = Outcome::aborted;
  std::string from_version;  // "" = nothing installed
  std::string to_version;
  std::vector<CheckResult> checks;           // the last run of the health checks
  std::vector<std::string> failing_signals;  // hard failures that caused the rollback
  std::optional<std::int64_t> signal_to_rollback_ms;
  // The post-apply health phase, in ms from its start: its length, its first hard failure, and the
  // start of the rollback that failure began.
  std::optional<std::int64_t> health_ms, first_hard_failure_ms, rollback_start_ms;
  std::string audit_head;
};
// The exit class for a report (applied/recovered -> nullopt = 0; rolled_back 30; degraded 31).
std::optional<ErrorClass> report_class(const RunReport& r);

[[nodiscard]] Result<RunReport> apply(const std::string& site_toml, const std::string& bundle_path,
                                      const Env& env = {});
[[nodiscard]] Result<RunReport> recover(const std::string& site_toml, const Env& env = {});
// Manual rollback to the previous release (never below the installed release's rollback_to).
[[nodiscard]] Result<RunReport> rollback(const std::string& site_toml, const Env& env = {});

// A critical release the site has met and not yet installed (nor any release above it). Its
// deadline is the operator's delay, else the time the site first met it: from then it is overdue.
struct CriticalRelease {
  std::string version, first_seen, deadline;
  bool delayed = false;
  bool overdue = false;
  // The staged release that satisfies it carries a breaking config delta: run-due will not apply
  // it by itself once overdue; an operator must (apply --staged SHA --accept-breaking VERSION).
  bool needs_operator = false;
  std::string staged_fix;  // the sha256 of that staged release ("" when none is staged)
};

// The installed trust root runs short of valid keys within 90 days (trust_state.hpp).
struct TrustExpiry {
  struct Key {
    std::string id, name, not_after;  // id: 16 hex digits; not_after: RFC 3339
  };
  int threshold = 1;
  std::string short_from;     // RFC 3339: the first moment fewer than `threshold` keys are valid
  std::vector<Key> expiring;  // keys valid now whose window ends within the 90 days
};

// The site's open scheduled job (applier/schedule.hpp): its times in UTC and in the site's zone.
struct ScheduledStatus {
  std::int64_t id = 0;
  std::string state;            // pending | running
  std::string version, staged;  // the release it installs; its staged bundle's SHA-256
  std::string at, at_local, preflight_at, preflight_local, window_end, window_local, timezone;
  std::string preflight_done;  // when its preflight passed ("" = not yet)
};

struct SiteStatus {
  std::string site_name;
  std::string product;
  std::string installed;            // "" = nothing
  std::string pointer;              // target of <state>/current, "" when absent
  std::vector<std::string> images;  // "ref@digest" of the installed release
  bool degraded = false;
  std::string degraded_since;                // when degraded: the time it became so ("" when unknown)
  std::optional<std::string> pending_phase;  // a run not finished: running, or crashed awaiting recovery
  bool running = false;                      // another process holds the site lock: the run is live
  std::string audit_head;
  std::int64_t audit_entries = 0;
  // The targets as airlock reads and writes them: real paths, symlinks resolved (docs/site.md).
  std::map<std::string, std::string> databases, configs;  // logical name -> real path
  std::string state_dir, trust_root;
  std::vector<CriticalRelease> critical;  // pending critical releases, oldest first
  // The channel feed the site accepted (applier/feed_store.hpp); nullopt serial: none yet.
  std::optional<std::int64_t> feed_serial;
  std::string feed_published, feed_sha256;
  std::optional<TrustExpiry> trust_expiry;
  std::optional<ScheduledStatus> scheduled;  // the pending (or running) scheduled job
};
// `env.now` is the time the critical releases and the trust root's windows are judged at.
[[nodiscard]] Result<SiteStatus> status(const std::string& site_toml, const Env& env = {});

struct HistoryEntry {
  std::int64_t id = 0;
  std::string run_id;
  std::string started_at, finished_at;
  std::string from_version, to_version;
  std::string outcome;     // outcome_name(); a row of an older build is shown in today's word
  std::string detail;      // failing signals, reasons
  std::string steps_json;  // [{"phase":..,"ms":..}, ...]
  std::string started_by;
  std::optional<std::int64_t> signal_to_rollback_ms;
  std::optional<std::int64_t> revert_ms;  // the revert's own duration (rollbacks, recoveries)
  std::string snapshot_id;                // the snapshot the run took or restored
};
[[nodiscard]] Result<std::vector<HistoryEntry>> history(const std::string& site_toml);

// A DEGRADED site (exit 31) refuses every apply (exit 33) until an operator, after repairing it,
// acknowledges it: the acknowledgement is a history row ("acknowledged") and an audit entry ("ack")
// with the operator's note. ErrorClass::usage when the site is not degraded.
struct AckReport {
  std::string site_name;
  std::string degraded_since;  // "" when unknown
  std::string acknowledged_at;
  std::string note;
  std::string audit_head;
};
inline constexpr std::size_t kMaxAckNoteBytes = 4096;
[[nodiscard]] Result<AckReport> ack(const std::string& site_toml, const std::string& note, const Env& env = {});

struct SnapshotInfo {
  std::string id;
  std::string created_at;
  std::string release;  // the release installed when it was taken
  std::uint64_t bytes = 0;
  bool sealed = false;
};
[[nodiscard]] Result<SnapshotInfo> snapshot_create(const std::string& site_toml, const Env& env = {});
[[nodiscard]] Result<std::vector<SnapshotInfo>> snapshot_list(const std::string& site_toml);
enum class Force { no, yes };
[[nodiscard]] Result<SnapshotInfo> snapshot_restore(const std::string& site_toml, const std::string& id, Force force,
                                                    const Env& env = {});

struct AuditEntry {
  std::int64_t seq = 0;
  std::string at, kind, data, prev_hash, hash;
};
struct AuditExport {
  std::vector<AuditEntry> entries;
  std::string head;  // hash of the last entry ("" when empty)
  // Entries in the audit spool, not yet in the chain (the site could not take them when they
  // happened; the next command to open the site records them).
  std::int64_t spooled = 0;
};
[[nodiscard]] Result<AuditExport> audit_export(const std::string& site_toml);
// ErrorClass::audit_broken naming the first bad entry.
[[nodiscard]] Result<AuditExport> audit_verify(const std::string& site_toml);

}  // namespace airlock::applier

// The site's own state: <state_dir>/state.db (SQLite, WAL off, synchronous FULL). Holds the
// installed release, the releases applied (with the migrations each one applied), the one active
// run (the journal head: its phase is persisted before the phase runs), the journal of phase
// entries, history and the audit log. Every SQL statement on state.db lives in state_db.cpp.
//
// The file carries its schema version in PRAGMA user_version and is upgraded forward step by step
// when opened (a file without a version but with the tables is schema 1, as the first releases
// wrote it). A file newer than this build knows is refused, never misread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "applier/applier.hpp"
#include "applier/schedule.hpp"
#include "core/db/db.hpp"
#include "core/error.hpp"

namespace airlock::applier {

inline constexpr std::int64_t kStateSchemaVersion = 5;

// What a run does. Persisted by name (run record, history's audit entries, reports).
enum class RunKind {
  apply,     // a bundle forward, with its automatic rollback
  rollback,  // manual rollback to the previous release
  restore,   // snapshot restore
  discard,   // a damaged run record dropped by `snapshot restore --force` (never persisted as a run)
  recover,   // the machine that finishes or undoes a crashed run (whose record keeps its own kind)
};
const char* run_kind_name(RunKind k);
std::optional<RunKind> parse_run_kind(std::string_view s);

// The active run: present only while an apply/rollback/restore/recover is under way or crashed.
struct Run {
  std::string run_id;
  RunKind kind = RunKind::apply;
  std::string phase;  // state_machine phase name
  std::string bundle;
  std::string from_version, to_version;
  std::string snapshot_id;
  std::string staging;
  std::string started_at, started_by;
  std::string data;  // JSON object: baseline latencies, step timings, signals, applied migrations
};

// What can still be read of a run record that failed its checks.
struct SalvagedRun {
  std::string damage;                      // which column holds what
  std::string run_id;                      // "" when unreadable
  std::optional<std::string> snapshot_id;  // nullopt when unreadable
};

struct ReleaseRow {
  std::int64_t seq = 0;
  std::string version;
  std::string installed_at;
  std::string rollback_to;  // "" = none
  std::string snapshot_id;  // taken just before it was applied
  std::string state;        // "current" | "previous" | "rolled_back"
  std::string images;       // JSON array of {ref, digest}
  // Ids of the migrations this release applied itself, in order; nullopt for a row written by a
  // state.db of schema 1, which did not record them.
  std::optional<std::vector<std::string>> migrations;
};

// One finished run as history keeps it.
struct HistoryRecord {
  std::string run_id, started_at, finished_at, from_version, to_version;
  Outcome outcome = Outcome::aborted;
  std::string detail, steps, started_by;
  std::optional<std::int64_t> signal_to_rollback_ms;
  std::optional<std::int64_t> revert_ms;  // how long the revert itself took
  std::string snapshot_id;                // the snapshot the run took or restored
};

// A release the site has met (applier/lifecycle.hpp): when it first saw it, whether it was critical
// then, and the operator's skip or delay. Times are RFC 3339; "" = none (a first_seen of "": only
// a skip has named it so far).
struct SeenRelease {
  std::string version, first_seen;
  bool critical = false;
  std::string skipped_at, delayed_until;
};

class StateDb {
 public:
  [[nodiscard]] static Result<StateDb> open(const std::string& state_dir);
  // The installed release, read without writing anything: state.db opened read-only, with no schema
  // upgrade and no lock (`scan` must leave the site as it found it). nullopt: nothing installed.
  [[nodiscard]] static Result<std::optional<std::string>> peek_installed(const std::string& state_dir);
  // Read-only, like peek_installed: each release the operator skipped, with the time of the skip.
  [[nodiscard]] static Result<std::map<std::string, std::string>> peek_skipped(const std::string& state_dir);
  // Any kv value, read the same way (nullopt: no state.db or no such key).
  [[nodiscard]] static Result<std::optional<std::string>> peek(const std::string& state_dir, const std::string& key);
  const std::string& path() const { return path_; }

  [[nodiscard]] Result<std::string> get(const std::string& key, const std::string& dflt = "");
  [[nodiscard]] airlock::Status set(const std::string& key, const std::string& value);

  // The DEGRADED mark (a rollback that did not restore health): nullopt when the site is not
  // degraded, else the time it became so ("" when an airlock that kept no time marked it).
  [[nodiscard]] Result<std::optional<std::string>> degraded_since();
  // Keeps the first time: a site that fails again while degraded has been degraded since then.
  [[nodiscard]] airlock::Status mark_degraded(const std::string& at);
  [[nodiscard]] airlock::Status clear_degraded();

  // ErrorClass::io naming the column when the record holds a value of the wrong type.
  [[nodiscard]] Result<std::optional<Run>> active_run();
  [[nodiscard]] Result<SalvagedRun> salvage_run();
  [[nodiscard]] airlock::Status begin_run(const Run& r);
  // Persists the run (phase, versions, snapshot id, data) and a journal row, in one transaction,
  // before the phase runs.
  [[nodiscard]] airlock::Status set_phase(const Run& run, const std::string& at);
  [[nodiscard]] airlock::Status end_run();
  // Rewrites the run's data JSON alone, without a journal row (what a running child is, between
  // two phases).
  [[nodiscard]] airlock::Status set_run_data(const std::string& data);

  [[nodiscard]] Result<std::vector<ReleaseRow>> releases();
  // The new current release; the one before becomes previous.
  [[nodiscard]] airlock::Status add_release(const ReleaseRow& r);
  // Manual rollback: the current release is rolled back, the newest previous `version` is current.
  [[nodiscard]] airlock::Status return_to(const std::string& version);
  // Snapshot restore: the newest row of `version` is current again and every release applied after
  // it is rolled back ("" = nothing installed: no row is current).
  [[nodiscard]] airlock::Status rewind_to(const std::string& version);
  [[nodiscard]] Result<std::string> current_images();

  [[nodiscard]] airlock::Status add_history(const HistoryRecord& h);
  [[nodiscard]] Result<std::vector<HistoryEntry>> history();

  // The releases the site has met. mark_seen keeps the first time and only ever raises `critical`.
  [[nodiscard]] Result<std::optional<SeenRelease>> seen_release(const std::string& version);
  [[nodiscard]] Result<std::vector<SeenRelease>> seen_releases();
  [[nodiscard]] airlock::Status mark_seen(const std::string& version, const std::string& at, bool critical);
  // "" clears the skip or the delay.
  [[nodiscard]] airlock::Status set_skip(const std::string& version, const std::string& at);
  [[nodiscard]] airlock::Status set_delay(const std::string& version, const std::string& until);

  // Scheduled jobs (applier/schedule.hpp, state_db_jobs.cpp): at most one pending or running.
  [[nodiscard]] Result<std::int64_t> add_job(const ScheduledJob& j);  // a pending job; its id
  [[nodiscard]] Result<std::vector<ScheduledJob>> jobs();             // oldest first
  [[nodiscard]] Result<std::optional<ScheduledJob>> open_job();       // the pending or running one
  [[nodiscard]] Result<std::optional<ScheduledJob>> job(std::int64_t id);
  // Its state, preflight time, run, outcome, detail and end.
  [[nodiscard]] airlock::Status update_job(const ScheduledJob& j);

  // Telemetry rows (applier/telemetry.hpp, state_db_telemetry.cpp): one JSON row per run, kept only
  // after the operator's consent; exported rows carry the time of their export.
  [[nodiscard]] airlock::Status add_telemetry(const std::string& run_id, const std::string& at, const std::string& row);
  [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> telemetry_rows(bool all);  // run id, row
  [[nodiscard]] airlock::Status mark_telemetry_exported(const std::vector<std::string>& run_ids, const std::string& at);

  [[nodiscard]] Result<std::vector<AuditEntry>> audit_entries();
  [[nodiscard]] Result<std::optional<AuditEntry>> audit_last();
  [[nodiscard]] airlock::Status audit_insert(const AuditEntry& e);

  [[nodiscard]] airlock::Status begin();
  [[nodiscard]] airlock::Status commit();
  void rollback_tx();
  // A savepoint nests in an open transaction and opens one of its own otherwise. `name` is one of
  // our own identifiers, never input.
  [[nodiscard]] airlock::Status savepoint(const std::string& name);
  [[nodiscard]] airlock::Status release_savepoint(const std::string& name);
  // Best effort: after an I/O error SQLite may already have rolled everything back.
  void undo_savepoint(const std::string& name);

 private:
  StateDb(db::Database d, std::string path) : db_(std::move(d)), path_(std::move(path)) {}
  db::Database db_;
  std::string path_;
};

std::string value_text(const db::Value& v);

}  // namespace airlock::applier

// The site's own state: <state_dir>/state.db (SQLite, WAL off, synchronous FULL). Holds the
// installed release, the releases applied, the one active run (the journal head: its phase is
// persisted before the phase runs), the journal of phase entries, history and the audit log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "core/db.hpp"
#include "core/error.hpp"

namespace airlock::applier {

// The active run: present only while an apply/rollback/recover is under way or crashed.
struct Run {
  std::string run_id;
  std::string kind;   // "apply" | "rollback"
  std::string phase;  // state_machine phase name
  std::string bundle;
  std::string from_version, to_version;
  std::string snapshot_id;
  std::string staging;
  std::string started_at, started_by;
  std::string data;  // JSON: baseline latencies, step timings, signals
};

struct ReleaseRow {
  std::int64_t seq = 0;
  std::string version;
  std::string installed_at;
  std::string rollback_to;  // "" = none
  std::string snapshot_id;  // taken just before it was applied
  std::string state;        // "current" | "previous" | "rolled_back"
};

class StateDb {
 public:
  [[nodiscard]] static Result<StateDb> open(const std::string& state_dir);
  db::Database& db() { return db_; }

  [[nodiscard]] Result<std::string> get(const std::string& key, const std::string& dflt = "");
  [[nodiscard]] airlock::Status set(const std::string& key, const std::string& value);

  [[nodiscard]] Result<std::optional<Run>> active_run();
  [[nodiscard]] airlock::Status begin_run(const Run& r);
  // Persists the run (phase, versions, snapshot id, data) and a journal row, in one transaction,
  // before the phase runs.
  [[nodiscard]] airlock::Status set_phase(const Run& run, const std::string& at);
  [[nodiscard]] airlock::Status update_run_field(const std::string& field, const std::string& value);

  [[nodiscard]] Result<std::vector<ReleaseRow>> releases();
  [[nodiscard]] Result<std::vector<HistoryEntry>> history();

  [[nodiscard]] airlock::Status begin();
  [[nodiscard]] airlock::Status commit();
  void rollback_tx();

 private:
  explicit StateDb(db::Database d) : db_(std::move(d)) {}
  db::Database db_;
};

std::string value_text(const db::Value& v);

}  // namespace airlock::applier

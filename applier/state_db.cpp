#include "applier/state_db.hpp"

#include <filesystem>

#include "core/fs.hpp"

namespace airlock::applier {
namespace {

// journal_mode DELETE + synchronous FULL: every commit is on disk before the next step starts,
// which is what the journal promises.
constexpr const char* kSchema = R"SQL(
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS releases(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL, installed_at TEXT NOT NULL,
  rollback_to TEXT NOT NULL DEFAULT '', snapshot_id TEXT NOT NULL DEFAULT '',
  images TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run(
  one INTEGER PRIMARY KEY CHECK (one = 1), run_id TEXT NOT NULL, kind TEXT NOT NULL,
  phase TEXT NOT NULL, bundle TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
  snapshot_id TEXT NOT NULL, staging TEXT NOT NULL, started_at TEXT NOT NULL,
  started_by TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history(
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
  outcome TEXT NOT NULL, detail TEXT NOT NULL, steps TEXT NOT NULL, started_by TEXT NOT NULL,
  signal_to_rollback_ms INTEGER);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)SQL";

}  // namespace

std::string value_text(const db::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

Result<StateDb> StateDb::open(const std::string& state_dir) {
  AIRLOCK_CHECK(make_private_dir(state_dir), "state folder");
  std::string path = state_dir + "/state.db";
  AIRLOCK_TRY(auto d, db::Database::open(path, db::OpenMode::create_private), "opening state database");
  AIRLOCK_CHECK(d.busy_timeout_ms(5000), "state database '" + path + "'");
  AIRLOCK_CHECK(d.exec(kSchema), "creating the schema of state database '" + path + "'");
  return StateDb(std::move(d));
}

Result<std::string> StateDb::get(const std::string& key, const std::string& dflt) {
  AIRLOCK_TRY(auto rows, db_.query("SELECT value FROM kv WHERE key = ?", {key}), "state: reading " + key);
  if (rows.empty()) return dflt;
  return value_text(rows[0][0]);
}

airlock::Status StateDb::set(const std::string& key, const std::string& value) {
  auto r = db_.query("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     {key, value});
  if (!r) return fail(r.error().with_context("state: writing " + key));
  return {};
}

Result<std::optional<Run>> StateDb::active_run() {
  AIRLOCK_TRY(auto rows,
              db_.query("SELECT run_id, kind, phase, bundle, from_version, to_version, snapshot_id, staging, "
                        "started_at, started_by, data FROM run WHERE one = 1"),
              "state: reading the active run");
  if (rows.empty()) return std::optional<Run>{};
  const auto& r = rows[0];
  Run run{value_text(r[0]), value_text(r[1]), value_text(r[2]), value_text(r[3]), value_text(r[4]), value_text(r[5]),
          value_text(r[6]), value_text(r[7]), value_text(r[8]), value_text(r[9]), value_text(r[10])};
  return std::optional<Run>(std::move(run));
}

namespace {
airlock::Status insert_run(db::Database& d, const Run& r);
}  // namespace

airlock::Status StateDb::begin_run(const Run& r) {
  // One transaction: a failed write must not leave a run row without its first journal entry
  // (the io_faults sweep saw every such fault turn into a "crash-recovered" run in history).
  AIRLOCK_CHECK(begin(), "state: starting run " + r.run_id);
  auto s = insert_run(db_, r);
  if (!s) {
    rollback_tx();
    return s;
  }
  return commit();
}

namespace {
airlock::Status insert_run(db::Database& d, const Run& r) {
  auto q = d.query(
      "INSERT INTO run(one, run_id, kind, phase, bundle, from_version, to_version, snapshot_id, staging, started_at, "
      "started_by, data) VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {r.run_id, r.kind, r.phase, r.bundle, r.from_version, r.to_version, r.snapshot_id, r.staging, r.started_at,
       r.started_by, r.data});
  if (!q) return fail(q.error().with_context("state: starting run " + r.run_id));
  auto j = d.query("INSERT INTO journal(run_id, phase, at) VALUES(?, ?, ?)", {r.run_id, r.phase, r.started_at});
  if (!j) return fail(j.error().with_context("state: journal"));
  return {};
}
}  // namespace

airlock::Status StateDb::set_phase(const Run& r, const std::string& at) {
  AIRLOCK_CHECK(begin(), "state: journal");
  auto a = db_.query("UPDATE run SET phase = ?, to_version = ?, snapshot_id = ?, data = ? WHERE one = 1",
                     {r.phase, r.to_version, r.snapshot_id, r.data});
  auto b = db_.query("INSERT INTO journal(run_id, phase, at) VALUES(?, ?, ?)", {r.run_id, r.phase, at});
  if (!a || !b) {
    rollback_tx();
    return fail((!a ? a.error() : b.error()).with_context("state: journaling phase " + r.phase));
  }
  return commit();
}

airlock::Status StateDb::update_run_field(const std::string& field, const std::string& value) {
  // `field` is one of our own column names, never user input.
  auto q = db_.query("UPDATE run SET " + field + " = ? WHERE one = 1", {value});
  if (!q) return fail(q.error().with_context("state: run." + field));
  return {};
}

Result<std::vector<ReleaseRow>> StateDb::releases() {
  AIRLOCK_TRY(
      auto rows,
      db_.query("SELECT seq, version, installed_at, rollback_to, snapshot_id, state FROM releases ORDER BY seq"),
      "state: releases");
  std::vector<ReleaseRow> out;
  for (const auto& r : rows)
    out.push_back({std::get<std::int64_t>(r[0]), value_text(r[1]), value_text(r[2]), value_text(r[3]), value_text(r[4]),
                   value_text(r[5])});
  return out;
}

Result<std::vector<HistoryEntry>> StateDb::history() {
  AIRLOCK_TRY(auto rows,
              db_.query("SELECT id, started_at, finished_at, from_version, to_version, outcome, detail, steps, "
                        "started_by, signal_to_rollback_ms FROM history ORDER BY id"),
              "state: history");
  std::vector<HistoryEntry> out;
  for (const auto& r : rows) {
    HistoryEntry h;
    h.id = std::get<std::int64_t>(r[0]);
    h.started_at = value_text(r[1]);
    h.finished_at = value_text(r[2]);
    h.from_version = value_text(r[3]);
    h.to_version = value_text(r[4]);
    h.outcome = value_text(r[5]);
    h.detail = value_text(r[6]);
    h.steps_json = value_text(r[7]);
    h.started_by = value_text(r[8]);
    if (const auto* i = std::get_if<std::int64_t>(&r[9])) h.signal_to_rollback_ms = *i;
    out.push_back(std::move(h));
  }
  return out;
}

airlock::Status StateDb::begin() { return db_.exec("BEGIN IMMEDIATE"); }
airlock::Status StateDb::commit() { return db_.exec("COMMIT"); }
void StateDb::rollback_tx() { (void)db_.exec("ROLLBACK"); }

}  // namespace airlock::applier

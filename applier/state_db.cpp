#include "applier/state_db.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <variant>

#include "applier/state_machine.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

// journal_mode DELETE + synchronous FULL: every commit is on disk before the next step starts,
// which is what the journal promises. Not persistent settings: applied at every open.
constexpr const char* kPragmas = "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;";

// The newest schema, for a state folder made by this build.
constexpr const char* kSchema = R"SQL(
CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE releases(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL, installed_at TEXT NOT NULL,
  rollback_to TEXT NOT NULL DEFAULT '', snapshot_id TEXT NOT NULL DEFAULT '',
  images TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL, migrations TEXT);
CREATE TABLE run(
  one INTEGER PRIMARY KEY CHECK (one = 1), run_id TEXT NOT NULL, kind TEXT NOT NULL,
  phase TEXT NOT NULL, bundle TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
  snapshot_id TEXT NOT NULL, staging TEXT NOT NULL, started_at TEXT NOT NULL,
  started_by TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE journal(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE history(
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
  outcome TEXT NOT NULL, detail TEXT NOT NULL, steps TEXT NOT NULL, started_by TEXT NOT NULL,
  signal_to_rollback_ms INTEGER, revert_ms INTEGER, snapshot_id TEXT NOT NULL DEFAULT '');
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE seen_releases(
  version TEXT PRIMARY KEY, first_seen TEXT NOT NULL, critical INTEGER NOT NULL DEFAULT 0,
  skipped_at TEXT NOT NULL DEFAULT '', delayed_until TEXT NOT NULL DEFAULT '');
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, staged TEXT NOT NULL, version TEXT NOT NULL,
  expect_installed TEXT NOT NULL, at TEXT NOT NULL, preflight_at TEXT NOT NULL, window_end TEXT NOT NULL,
  state TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  preflight_done TEXT NOT NULL DEFAULT '', run_id TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX jobs_one_open ON jobs((state IN ('pending', 'running'))) WHERE state IN ('pending', 'running');
CREATE TABLE telemetry(
  run_id TEXT PRIMARY KEY, at TEXT NOT NULL, row TEXT NOT NULL, exported_at TEXT NOT NULL DEFAULT '');
)SQL";

// upgrades[v - 1] takes a schema-v file to v + 1. Each runs in one transaction with the version bump.
// 1 -> 2: the migrations each release applied (NULL: not recorded by schema 1), the revert's own
// duration and the snapshot of each run, and the audit log's head record ("<entries> <hash>", kept
// by audit.cpp with every append) taken from the log as it stands: schema 1 kept none, and without
// it `audit verify` could not tell a log cut short from one that never had a record.
// 2 -> 3: the releases the site has met, with the operator's skips and delays (none before).
// 3 -> 4: scheduled jobs (none before); the index keeps one open job per site.
// 4 -> 5: the telemetry rows kept after the operator's consent (none before: telemetry was off).
constexpr std::array<const char*, 4> kUpgrades = {R"SQL(
ALTER TABLE releases ADD COLUMN migrations TEXT;
ALTER TABLE history ADD COLUMN revert_ms INTEGER;
ALTER TABLE history ADD COLUMN snapshot_id TEXT NOT NULL DEFAULT '';
INSERT OR REPLACE INTO kv(key, value)
  SELECT 'audit_head', count(*) || ' ' || (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) FROM audit
  HAVING count(*) > 0;
)SQL",
                                                  R"SQL(
CREATE TABLE seen_releases(
  version TEXT PRIMARY KEY, first_seen TEXT NOT NULL, critical INTEGER NOT NULL DEFAULT 0,
  skipped_at TEXT NOT NULL DEFAULT '', delayed_until TEXT NOT NULL DEFAULT '');
)SQL",
                                                  R"SQL(
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, staged TEXT NOT NULL, version TEXT NOT NULL,
  expect_installed TEXT NOT NULL, at TEXT NOT NULL, preflight_at TEXT NOT NULL, window_end TEXT NOT NULL,
  state TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  preflight_done TEXT NOT NULL DEFAULT '', run_id TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX jobs_one_open ON jobs((state IN ('pending', 'running'))) WHERE state IN ('pending', 'running');
)SQL",
                                                  R"SQL(
CREATE TABLE telemetry(
  run_id TEXT PRIMARY KEY, at TEXT NOT NULL, row TEXT NOT NULL, exported_at TEXT NOT NULL DEFAULT '');
)SQL"};
static_assert(kUpgrades.size() == kStateSchemaVersion - 1);

Result<std::int64_t> schema_version(db::Database& d) {
  AIRLOCK_TRY(auto uv, d.query("PRAGMA user_version"), "reading the schema version");
  std::int64_t v = uv.empty() ? 0 : std::get<std::int64_t>(uv[0][0]);
  if (v != 0) return v;
  AIRLOCK_TRY(auto t, d.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kv'"),
              "reading the schema version");
  return std::get<std::int64_t>(t[0][0]) == 1 ? 1 : 0;  // tables without a version: schema 1
}

Status in_transaction(db::Database& d, const std::string& sql) {
  AIRLOCK_CHECK(d.exec("BEGIN IMMEDIATE"), "starting the transaction");
  if (auto s = d.exec(sql); !s) {
    (void)d.exec("ROLLBACK");
    return s;
  }
  return d.exec("COMMIT");
}

Status bring_up_to_date(db::Database& d, const std::string& path) {
  AIRLOCK_TRY(auto v, schema_version(d), "state database '" + path + "'");
  if (v > kStateSchemaVersion)
    return fail(ErrorClass::io, "state database '" + path + "' has schema version " + std::to_string(v) +
                                    ", newer than this airlock knows (" + std::to_string(kStateSchemaVersion) +
                                    "): it was written by a newer airlock; use that one");
  if (v == 0)
    return in_transaction(d,
                          std::string(kSchema) + "PRAGMA user_version = " + std::to_string(kStateSchemaVersion) + ";");
  for (; v < kStateSchemaVersion; ++v)
    AIRLOCK_CHECK(in_transaction(d, std::string(kUpgrades[static_cast<std::size_t>(v - 1)]) +
                                        "PRAGMA user_version = " + std::to_string(v + 1) + ";"),
                  "upgrading state database '" + path + "' from schema version " + std::to_string(v));
  return {};
}

constexpr const char* kRunColumns =
    "run_id, kind, phase, bundle, from_version, to_version, snapshot_id, staging, started_at, started_by, data";
constexpr std::array<const char*, 11> kRunColumnNames = {"run_id",       "kind",       "phase",       "bundle",
                                                         "from_version", "to_version", "snapshot_id", "staging",
                                                         "started_at",   "started_by", "data"};

// The data keys a run persists and the JSON type each one must have.
bool data_key_ok(const std::string& key, const json& v) {
  auto strings = [](const json& a) {
    return a.is_array() && std::all_of(a.begin(), a.end(), [](const json& e) { return e.is_string(); });
  };
  if (key == "baseline")
    return v.is_object() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number(); });
  if (key == "signals" || key == "soft_failures" || key == "applied_migrations" || key == "services_replaced")
    return strings(v);
  if (key == "steps" || key == "images") return v.is_array();
  if (key == "rollback_to" || key == "trust_update" || key == "damaged" || key == "recovering_from")
    return v.is_string();
  if (key == "recover_io_failures" || key == "signal_to_rollback_ms" || key == "revert_ms" || key == "job")
    return v.is_number_integer();
  return true;  // a key this build does not read
}

std::optional<std::string> data_problem(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return "column 'data' is not JSON";
  if (!j.is_object()) return "column 'data' is not a JSON object";
  for (const auto& [k, v] : j.items())
    if (!data_key_ok(k, v)) return "column 'data' has a value of the wrong type for '" + k + "'";
  return std::nullopt;
}

Error damaged(const std::string& path, const std::string& what) {
  return Error(ErrorClass::io, "state database '" + path + "': the run record is damaged (" + what +
                                   "); 'airlock recover' restores the run's snapshot");
}

Status check_query(const Result<std::vector<db::Row>>& q, const std::string& what) {
  if (!q) return fail(q.error().with_context(what));
  return {};
}

std::optional<std::vector<std::string>> migrations_of(const db::Value& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) return std::nullopt;
  json j = json::parse(value_text(v), nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace

const char* run_kind_name(RunKind k) {
  switch (k) {
    case RunKind::apply:
      return "apply";
    case RunKind::rollback:
      return "rollback";
    case RunKind::restore:
      return "restore";
    case RunKind::discard:
      return "discard";
    case RunKind::recover:
      return "recover";
  }
  return "?";
}

std::optional<RunKind> parse_run_kind(std::string_view s) {
  for (RunKind k : {RunKind::apply, RunKind::rollback, RunKind::restore, RunKind::discard, RunKind::recover})
    if (s == run_kind_name(k)) return k;
  return std::nullopt;
}

std::string value_text(const db::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

Result<std::optional<std::string>> StateDb::peek_installed(const std::string& state_dir) {
  return peek(state_dir, "installed");
}

Result<std::optional<std::string>> StateDb::peek(const std::string& state_dir, const std::string& key) {
  const std::string path = state_dir + "/state.db";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>{};
  AIRLOCK_TRY(auto d, db::Database::open(path, db::OpenMode::read_only), "state database '" + path + "'");
  AIRLOCK_CHECK(d.busy_timeout_ms(5000), "state database '" + path + "'");
  AIRLOCK_TRY(auto rows, d.query("SELECT value FROM kv WHERE key = ?", {key}), "state database '" + path + "'");
  if (rows.empty()) return std::optional<std::string>{};
  const auto* v = std::get_if<std::string>(&rows[0][0]);
  if (!v || v->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(*v);
}

Result<std::map<std::string, std::string>> StateDb::peek_skipped(const std::string& state_dir) {
  const std::string path = state_dir + "/state.db";
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  AIRLOCK_TRY(auto d, db::Database::open(path, db::OpenMode::read_only), "state database '" + path + "'");
  AIRLOCK_CHECK(d.busy_timeout_ms(5000), "state database '" + path + "'");
  // A state folder of a schema before skips has none; it is upgraded by the next writing command.
  AIRLOCK_TRY(auto has, d.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen_releases'"),
              "state database '" + path + "'");
  if (has.empty()) return out;
  AIRLOCK_TRY(auto rows, d.query("SELECT version, skipped_at FROM seen_releases WHERE skipped_at <> ''"),
              "state database '" + path + "'");
  for (const auto& row : rows) {
    const auto* v = std::get_if<std::string>(&row[0]);
    const auto* at = std::get_if<std::string>(&row[1]);
    if (v && at) out[*v] = *at;
  }
  return out;
}

Result<StateDb> StateDb::open(const std::string& state_dir) {
  AIRLOCK_CHECK(make_private_dir(state_dir), "state folder");
  std::string path = state_dir + "/state.db";
  AIRLOCK_TRY(auto d, db::Database::open(path, db::OpenMode::create_private), "opening state database");
  AIRLOCK_CHECK(d.busy_timeout_ms(5000), "state database '" + path + "'");
  AIRLOCK_CHECK(d.exec(kPragmas), "state database '" + path + "'");
  AIRLOCK_CHECK(bring_up_to_date(d, path), "state database '" + path + "'");
  return StateDb(std::move(d), path);
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

Result<std::optional<std::string>> StateDb::degraded_since() {
  AIRLOCK_TRY(auto flag, get("degraded", "0"), "state");
  if (flag != "1") return std::optional<std::string>{};
  AIRLOCK_TRY(auto since, get("degraded_since"), "state");
  return std::optional<std::string>(since);
}

airlock::Status StateDb::mark_degraded(const std::string& at) {
  AIRLOCK_TRY(auto since, degraded_since(), "state");
  if (since) return {};
  AIRLOCK_CHECK(set("degraded", "1"), "state");
  return set("degraded_since", at);
}

airlock::Status StateDb::clear_degraded() {
  AIRLOCK_CHECK(set("degraded", "0"), "state");
  return set("degraded_since", "");
}

Result<std::optional<Run>> StateDb::active_run() {
  std::string types;
  for (const char* c : kRunColumnNames) types += std::string(types.empty() ? "" : ", ") + "typeof(" + c + ")";
  AIRLOCK_TRY(auto rows, db_.query("SELECT " + types + ", " + kRunColumns + " FROM run WHERE one = 1"),
              "state: reading the active run");
  if (rows.empty()) return std::optional<Run>{};
  const auto& r = rows[0];
  const std::size_t n = kRunColumnNames.size();
  for (std::size_t i = 0; i < n; ++i)
    if (value_text(r[i]) != "text")
      return fail(damaged(
          path_, "column '" + std::string(kRunColumnNames[i]) + "' holds " + value_text(r[i]) + " where text belongs"));
  auto t = [&](std::size_t i) { return std::get<std::string>(r[n + i]); };
  auto kind = parse_run_kind(t(1));
  if (!kind || *kind == RunKind::discard || *kind == RunKind::recover)
    return fail(damaged(path_, "column 'kind' holds '" + t(1) + "', not a kind of run"));
  if (!parse_phase(t(2))) return fail(damaged(path_, "column 'phase' holds '" + t(2) + "', not a phase"));
  if (auto why = data_problem(t(10))) return fail(damaged(path_, *why));
  Run run{t(0), *kind, t(2), t(3), t(4), t(5), t(6), t(7), t(8), t(9), t(10)};
  return std::optional<Run>(std::move(run));
}

Result<SalvagedRun> StateDb::salvage_run() {
  AIRLOCK_TRY(auto rows, db_.query("SELECT typeof(run_id), run_id, typeof(snapshot_id), snapshot_id FROM run"),
              "state: reading the damaged run record");
  SalvagedRun s;
  auto why = active_run();
  s.damage = why ? "no damage" : why.error().what();
  if (rows.empty()) return s;
  if (value_text(rows[0][0]) == "text") s.run_id = value_text(rows[0][1]);
  if (value_text(rows[0][2]) == "text" && !value_text(rows[0][3]).empty()) s.snapshot_id = value_text(rows[0][3]);
  return s;
}

namespace {
airlock::Status insert_run(db::Database& d, const Run& r);
}  // namespace

airlock::Status StateDb::begin_run(const Run& r) {
  // One transaction: a failed write must not leave a run row without its first journal entry
  // (every such fault would turn into a "crash-recovered" run in history).
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
  auto q = d.query(std::string("INSERT INTO run(one, ") + kRunColumns + ") VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   {r.run_id, run_kind_name(r.kind), r.phase, r.bundle, r.from_version, r.to_version, r.snapshot_id,
                    r.staging, r.started_at, r.started_by, r.data});
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

airlock::Status StateDb::end_run() { return db_.exec("DELETE FROM run"); }

Result<std::vector<ReleaseRow>> StateDb::releases() {
  AIRLOCK_TRY(auto rows,
              db_.query("SELECT seq, version, installed_at, rollback_to, snapshot_id, state, images, migrations "
                        "FROM releases ORDER BY seq"),
              "state: releases");
  std::vector<ReleaseRow> out;
  for (const auto& r : rows)
    out.push_back({std::get<std::int64_t>(r[0]), value_text(r[1]), value_text(r[2]), value_text(r[3]), value_text(r[4]),
                   value_text(r[5]), value_text(r[6]), migrations_of(r[7])});
  return out;
}

airlock::Status StateDb::add_release(const ReleaseRow& r) {
  AIRLOCK_CHECK(db_.exec("UPDATE releases SET state = 'previous' WHERE state = 'current'"), "recording the release");
  json migs = r.migrations.value_or(std::vector<std::string>{});
  return check_query(db_.query("INSERT INTO releases(version, installed_at, rollback_to, snapshot_id, images, state, "
                               "migrations) VALUES(?, ?, ?, ?, ?, 'current', ?)",
                               {r.version, r.installed_at, r.rollback_to, r.snapshot_id, r.images, dump_json(migs)}),
                     "recording the release");
}

airlock::Status StateDb::return_to(const std::string& version) {
  AIRLOCK_CHECK(db_.exec("UPDATE releases SET state = 'rolled_back' WHERE state = 'current'"), "recording");
  return check_query(db_.query("UPDATE releases SET state = 'current' WHERE seq = (SELECT max(seq) FROM releases "
                               "WHERE state = 'previous' AND version = ?)",
                               {version}),
                     "recording the manual rollback");
}

airlock::Status StateDb::rewind_to(const std::string& version) {
  AIRLOCK_TRY(auto rows, db_.query("SELECT max(seq) FROM releases WHERE version = ?", {version}), "recording");
  const auto* seq = std::get_if<std::int64_t>(&rows[0][0]);
  if (!seq) {  // nothing installed, or a release history does not know: none of them is current now
    return db_.exec("UPDATE releases SET state = 'rolled_back' WHERE state IN ('current', 'previous')");
  }
  AIRLOCK_CHECK(check_query(db_.query("UPDATE releases SET state = 'rolled_back' WHERE seq > ? AND state IN "
                                      "('current', 'previous')",
                                      {*seq}),
                            "recording the restore"),
                "recording");
  AIRLOCK_CHECK(
      check_query(db_.query("UPDATE releases SET state = 'previous' WHERE seq < ? AND state = 'current'", {*seq}),
                  "recording the restore"),
      "recording");
  return check_query(db_.query("UPDATE releases SET state = 'current' WHERE seq = ?", {*seq}), "recording the restore");
}

Result<std::string> StateDb::current_images() {
  AIRLOCK_TRY(auto rows, db_.query("SELECT images FROM releases WHERE state = 'current' ORDER BY seq DESC LIMIT 1"),
              "state: images");
  return rows.empty() ? std::string("[]") : value_text(rows[0][0]);
}

airlock::Status StateDb::add_history(const HistoryRecord& h) {
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? db::Value(*v) : db::Value(nullptr); };
  return check_query(
      db_.query("INSERT INTO history(run_id, started_at, finished_at, from_version, to_version, outcome, detail, "
                "steps, started_by, signal_to_rollback_ms, revert_ms, snapshot_id) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {h.run_id, h.started_at, h.finished_at, h.from_version, h.to_version, outcome_name(h.outcome), h.detail,
                 h.steps, h.started_by, opt(h.signal_to_rollback_ms), opt(h.revert_ms), h.snapshot_id}),
      "writing history");
}

Result<std::vector<HistoryEntry>> StateDb::history() {
  AIRLOCK_TRY(auto rows,
              db_.query("SELECT id, started_at, finished_at, from_version, to_version, outcome, detail, steps, "
                        "started_by, signal_to_rollback_ms, revert_ms, snapshot_id, run_id FROM history ORDER BY id"),
              "state: history");
  std::vector<HistoryEntry> out;
  for (const auto& r : rows) {
    HistoryEntry h;
    h.id = std::get<std::int64_t>(r[0]);
    h.run_id = value_text(r[12]);
    h.started_at = value_text(r[1]);
    h.finished_at = value_text(r[2]);
    h.from_version = value_text(r[3]);
    h.to_version = value_text(r[4]);
    // Older builds wrote other words for the same outcomes; the row stays as it was written.
    const auto outcome = parse_outcome(value_text(r[5]));
    h.outcome = outcome ? outcome_name(*outcome) : value_text(r[5]);
    h.detail = value_text(r[6]);
    h.steps_json = value_text(r[7]);
    h.started_by = value_text(r[8]);
    if (const auto* i = std::get_if<std::int64_t>(&r[9])) h.signal_to_rollback_ms = *i;
    if (const auto* i = std::get_if<std::int64_t>(&r[10])) h.revert_ms = *i;
    h.snapshot_id = value_text(r[11]);
    out.push_back(std::move(h));
  }
  return out;
}

namespace {
constexpr const char* kSeenColumns = "version, first_seen, critical, skipped_at, delayed_until";
SeenRelease seen_of(const db::Row& r) {
  const auto* crit = std::get_if<std::int64_t>(&r[2]);
  return {value_text(r[0]), value_text(r[1]), crit && *crit != 0, value_text(r[3]), value_text(r[4])};
}
}  // namespace

Result<std::optional<SeenRelease>> StateDb::seen_release(const std::string& version) {
  AIRLOCK_TRY(auto rows,
              db_.query(std::string("SELECT ") + kSeenColumns + " FROM seen_releases WHERE version = ?", {version}),
              "state: releases seen");
  if (rows.empty()) return std::optional<SeenRelease>{};
  return std::optional<SeenRelease>(seen_of(rows[0]));
}

Result<std::vector<SeenRelease>> StateDb::seen_releases() {
  AIRLOCK_TRY(auto rows, db_.query(std::string("SELECT ") + kSeenColumns + " FROM seen_releases ORDER BY first_seen"),
              "state: releases seen");
  std::vector<SeenRelease> out;
  for (const auto& r : rows) out.push_back(seen_of(r));
  return out;
}

airlock::Status StateDb::mark_seen(const std::string& version, const std::string& at, bool critical) {
  return check_query(db_.query("INSERT INTO seen_releases(version, first_seen, critical) VALUES(?, ?, ?) "
                               "ON CONFLICT(version) DO UPDATE SET critical = max(critical, excluded.critical), "
                               "first_seen = CASE first_seen WHEN '' THEN excluded.first_seen ELSE first_seen END",
                               {version, at, std::int64_t{critical ? 1 : 0}}),
                     "state: recording release " + version + " as seen");
}

airlock::Status StateDb::set_skip(const std::string& version, const std::string& at) {
  // A skip names a release the site may not have met yet: its row waits with no first_seen.
  return check_query(db_.query("INSERT INTO seen_releases(version, first_seen, skipped_at) VALUES(?, '', ?) "
                               "ON CONFLICT(version) DO UPDATE SET skipped_at = excluded.skipped_at",
                               {version, at}),
                     "state: recording the skip of " + version);
}

airlock::Status StateDb::set_delay(const std::string& version, const std::string& until) {
  return check_query(db_.query("UPDATE seen_releases SET delayed_until = ? WHERE version = ?", {until, version}),
                     "state: recording the delay of " + version);
}

Result<std::vector<AuditEntry>> StateDb::audit_entries() {
  AIRLOCK_TRY(auto rows, db_.query("SELECT seq, at, kind, data, prev_hash, hash FROM audit ORDER BY rowid"),
              "reading the audit log");
  std::vector<AuditEntry> out;
  for (const auto& r : rows) {
    AuditEntry e;
    if (const auto* i = std::get_if<std::int64_t>(&r[0])) e.seq = *i;
    e.at = value_text(r[1]);
    e.kind = value_text(r[2]);
    e.data = value_text(r[3]);
    e.prev_hash = value_text(r[4]);
    e.hash = value_text(r[5]);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<AuditEntry>> StateDb::audit_last() {
  AIRLOCK_TRY(auto rows, db_.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"), "audit log");
  if (rows.empty()) return std::optional<AuditEntry>{};
  AuditEntry e;
  e.seq = std::get<std::int64_t>(rows[0][0]);
  e.hash = value_text(rows[0][1]);
  return std::optional<AuditEntry>(std::move(e));
}

airlock::Status StateDb::audit_insert(const AuditEntry& e) {
  return check_query(db_.query("INSERT INTO audit(seq, at, kind, data, prev_hash, hash) VALUES(?, ?, ?, ?, ?, ?)",
                               {e.seq, e.at, e.kind, e.data, e.prev_hash, e.hash}),
                     "appending to the audit log");
}

airlock::Status StateDb::begin() { return db_.exec("BEGIN IMMEDIATE"); }
airlock::Status StateDb::commit() { return db_.exec("COMMIT"); }
void StateDb::rollback_tx() { (void)db_.exec("ROLLBACK"); }

airlock::Status StateDb::set_run_data(const std::string& data) {
  auto q = db_.query("UPDATE run SET data = ? WHERE one = 1", {data});
  if (!q) return fail(q.error().with_context("state: the run's data"));
  return {};
}

airlock::Status StateDb::savepoint(const std::string& name) { return db_.exec("SAVEPOINT " + name); }
airlock::Status StateDb::release_savepoint(const std::string& name) { return db_.exec("RELEASE " + name); }
void StateDb::undo_savepoint(const std::string& name) {
  (void)db_.exec("ROLLBACK TO " + name);
  (void)db_.exec("RELEASE " + name);
}

}  // namespace airlock::applier

#include "applier/migrate.hpp"

#include "core/db/db.hpp"
#include "core/db/db_sandbox.hpp"

namespace airlock::applier {
namespace {

constexpr const char* kTable =
    "CREATE TABLE IF NOT EXISTS _airlock_migrations(id TEXT PRIMARY KEY, release TEXT NOT NULL)";

}  // namespace

Result<bool> migration_recorded(const std::string& db_path, const std::string& id) {
  AIRLOCK_TRY(auto d, db::Database::open(db_path, db::OpenMode::read_only), "migration " + id);
  AIRLOCK_TRY(auto t, d.query("SELECT 1 FROM sqlite_schema WHERE name = '_airlock_migrations'"), "migration " + id);
  if (t.empty()) return false;
  AIRLOCK_TRY(auto rows, d.query("SELECT 1 FROM _airlock_migrations WHERE id = ?", {id}), "migration " + id);
  return !rows.empty();
}

Result<bool> run_migration(const MigrationRun& m) {
  std::string what = std::string(m.direction == Direction::up ? "migration " : "reverse migration ") + m.id + " on '" +
                     m.db_path + "'";
  AIRLOCK_TRY(auto d, db::Database::open(m.db_path, db::OpenMode::read_write), what);
  AIRLOCK_CHECK(d.busy_timeout_ms(5000), what);
  AIRLOCK_TRY(auto sandbox, db::Sandbox::harden(d, m.timeout_ms), what);
  // The bookkeeping table is created inside the transaction: a failed migration leaves no trace.
  AIRLOCK_CHECK(d.exec("BEGIN IMMEDIATE"), what);
  if (auto s = d.exec(kTable); !s) {
    (void)d.exec("ROLLBACK");
    return fail(s.error().with_context(what));
  }
  auto rows = d.query("SELECT 1 FROM _airlock_migrations WHERE id = ?", {m.id});
  if (!rows) {
    (void)d.exec("ROLLBACK");
    return fail(rows.error().with_context(what));
  }
  bool recorded = !rows->empty();
  if (recorded == (m.direction == Direction::up)) {  // nothing to do
    AIRLOCK_CHECK(d.exec("ROLLBACK"), what);
    return false;
  }
  auto s = sandbox.run(m.sql);
  if (!s) {
    (void)d.exec("ROLLBACK");
    return fail(s.error().with_context(what));
  }
  auto mark = m.direction == Direction::up
                  ? d.query("INSERT INTO _airlock_migrations(id, release) VALUES(?, ?)", {m.id, m.release})
                  : d.query("DELETE FROM _airlock_migrations WHERE id = ?", {m.id});
  if (!mark) {
    (void)d.exec("ROLLBACK");
    return fail(mark.error().with_context(what));
  }
  // The reverse of the first migration ever also takes back the bookkeeping table the up created:
  // a first install rolled back by its reverse migrations must leave the database exactly as it
  // was (no empty _airlock_migrations table left behind).
  if (m.direction == Direction::down) {
    auto left = d.query("SELECT count(*) FROM _airlock_migrations");
    auto dropped = left && std::get<std::int64_t>((*left)[0][0]) == 0
                       ? d.exec("DROP TABLE _airlock_migrations")
                       : airlock::Status(left ? airlock::Status{} : airlock::Status(fail(left.error())));
    if (!dropped) {
      (void)d.exec("ROLLBACK");
      return fail(dropped.error().with_context(what));
    }
  }
  AIRLOCK_CHECK(d.exec("COMMIT"), what);
  return true;
}

}  // namespace airlock::applier

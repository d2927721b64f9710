#include "applier/migrate.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <set>

#include "core/db.hpp"

namespace airlock::applier {
namespace {

using Clock = std::chrono::steady_clock;

// PRAGMAs a schema migration may use: reading schema facts and setting user_version.
const std::set<std::string> kPragmaAllow = {"user_version",    "table_info", "table_xinfo",      "index_info",
                                            "index_xinfo",     "index_list", "foreign_key_list", "foreign_key_check",
                                            "integrity_check", "quick_check"};

struct Guard {
  bool script = false;  // the migration's own statements are running
  std::string refused;  // why the authorizer refused, for the error message
  Clock::time_point deadline;
  bool timed_out = false;
};

int authorizer(void* p, int action, const char* a1, const char* a2, const char*, const char*) {
  auto* g = static_cast<Guard*>(p);
  if (!g->script) return SQLITE_OK;
  auto deny = [&](std::string why) {
    g->refused = std::move(why);
    return SQLITE_DENY;
  };
  switch (action) {
    case SQLITE_ATTACH:
      return deny("ATTACH is not allowed in a migration");
    case SQLITE_DETACH:
      return deny("DETACH is not allowed in a migration");
    case SQLITE_TRANSACTION:
      return deny("transaction control is not allowed in a migration (each runs in its own)");
    case SQLITE_SAVEPOINT:
      return deny("SAVEPOINT is not allowed in a migration");
    case SQLITE_FUNCTION:
      if (a2 && std::string(a2) == "load_extension") return deny("load_extension() is not allowed in a migration");
      return SQLITE_OK;
    case SQLITE_PRAGMA: {
      std::string name = a1 ? a1 : "";
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!kPragmaAllow.count(name)) return deny("PRAGMA " + name + " is not allowed in a migration");
      return SQLITE_OK;
    }
    default:
      return SQLITE_OK;
  }
}

int progress(void* p) {
  auto* g = static_cast<Guard*>(p);
  if (Clock::now() > g->deadline) {
    g->timed_out = true;
    return 1;  // interrupts the statement
  }
  return 0;
}

// The first keyword of a statement, skipping whitespace and comments.
std::string first_keyword(const char* sql) {
  const char* p = sql;
  for (;;) {
    while (*p && std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') ++p;
    } else if (p[0] == '/' && p[1] == '*') {
      const char* e = std::strstr(p + 2, "*/");
      p = e ? e + 2 : p + std::strlen(p);
    } else {
      break;
    }
  }
  std::string w;
  while (*p && std::isalpha(static_cast<unsigned char>(*p))) w += static_cast<char>(std::toupper(*p++));
  return w;
}

airlock::Status harden(sqlite3* db, Guard& g) {
  int on = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1)
    return fail(ErrorClass::internal, "cannot enable SQLITE_DBCONFIG_DEFENSIVE");
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0)
    return fail(ErrorClass::internal, "cannot turn trusted_schema off");
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on);
  sqlite3_enable_load_extension(db, 0);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_set_authorizer(db, authorizer, &g);
  sqlite3_progress_handler(db, 1000, progress, &g);
  return {};
}

// Runs the script one statement at a time so that each can be checked before it runs.
airlock::Status run_script(sqlite3* db, Guard& g, const std::string& sql, const std::string& what) {
  const char* p = sql.c_str();
  g.script = true;
  while (*p) {
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db, p, -1, &st, &tail);
    auto reason = [&]() { return g.refused.empty() ? std::string(sqlite3_errmsg(db)) : g.refused; };
    if (rc != SQLITE_OK) {
      g.script = false;
      return fail(db::error_class_of(sqlite3_extended_errcode(db)), what + ": " + reason());
    }
    if (!st) break;  // only whitespace/comments left
    if (first_keyword(p) == "VACUUM") {
      sqlite3_finalize(st);
      g.script = false;
      return fail(ErrorClass::internal, what + ": VACUUM (and VACUUM INTO) is not allowed in a migration");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    std::string msg = rc == SQLITE_DONE ? "" : (g.timed_out ? "exceeded its time limit (progress deadline)" : reason());
    // A failing disk is io (3) whatever statement hit it; a bad statement stays internal.
    const ErrorClass cls = g.timed_out ? ErrorClass::internal : db::error_class_of(sqlite3_extended_errcode(db));
    sqlite3_finalize(st);
    if (!msg.empty()) {
      g.script = false;
      return fail(cls, what + ": " + msg);
    }
    p = tail;
  }
  g.script = false;
  return {};
}

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
  Guard g;
  g.deadline = Clock::now() + std::chrono::milliseconds(m.timeout_ms);
  AIRLOCK_CHECK(harden(d.raw(), g), what);
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
  auto s = run_script(d.raw(), g, m.sql, what);
  if (!s) {
    (void)d.exec("ROLLBACK");
    return fail(s.error());
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
  // was (io_faults_test finding: an empty _airlock_migrations table was left behind).
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

// The hardened migration connection: each forbidden thing fails with a clear error and leaves the
// database as it was; a migration is recorded and never applied twice.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "applier/migrate.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Direction;
using applier::MigrationRun;

struct Db {
  TempDir dir;
  std::string path = (dir / "t.db").string();
  db::TargetSpec spec() const { return {"main", "sqlite", path, db::Durability::durable}; }
  Db() {
    auto d = db::Database::open(path, db::OpenMode::create);
    EXPECT_TRUE(d->exec("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1), (2);"));
  }
  std::string dump() const {
    auto d = db::Database::open(path, db::OpenMode::read_only);
    return *d->full_dump();
  }
};

MigrationRun up(const std::string& path, const std::string& id, const std::string& sql,
                std::int64_t timeout_ms = 10000) {
  return MigrationRun{{"main", "sqlite", path, db::Durability::durable}, id, "9.9.9", sql, Direction::up, timeout_ms};
}

TEST(Migrate, AppliesOnceAndRecordsTheId) {
  Db db;
  ASSERT_TRUE(applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);")));
  ASSERT_TRUE(applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);")));  // skipped
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 3);
  EXPECT_TRUE(*applier::migration_recorded(db.spec(), "m1"));
  ASSERT_TRUE(applier::run_migration({db.spec(), "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000}));
  EXPECT_FALSE(*applier::migration_recorded(db.spec(), "m1"));
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 2);
}

// A run records the migrations it applied itself: the answer says whether the script ran.
TEST(Migrate, TellsWhetherTheScriptRan) {
  Db db;
  auto first = applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);"));
  auto again = applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);"));
  ASSERT_TRUE(first && again);
  EXPECT_TRUE(*first);
  EXPECT_FALSE(*again) << "already recorded: skipped";
  auto down = applier::run_migration({db.spec(), "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000});
  auto down_again =
      applier::run_migration({db.spec(), "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000});
  ASSERT_TRUE(down && down_again);
  EXPECT_TRUE(*down);
  EXPECT_FALSE(*down_again);
}

TEST(Migrate, FailedMigrationLeavesNoTrace) {
  Db db;
  std::string before = db.dump();
  auto r = applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3); INSERT INTO nope VALUES (1);"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("m1"), std::string::npos);
  EXPECT_EQ(db.dump(), before);
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 2);
  EXPECT_FALSE(*applier::migration_recorded(db.spec(), "m1"));
}

struct Forbidden {
  const char* name;
  const char* sql;
  const char* reason;  // part of the error message
};

class MigrateRefuses : public ::testing::TestWithParam<Forbidden> {};

TEST_P(MigrateRefuses, WithAClearErrorAndNoChange) {
  Db db;
  TempDir other;
  std::string sql = GetParam().sql;
  auto pos = sql.find("OTHER");
  if (pos != std::string::npos) sql.replace(pos, 5, (other / "x.db").string());
  auto r = applier::run_migration(up(db.path, "evil", "INSERT INTO t VALUES (9); " + sql, 300));
  ASSERT_FALSE(r) << GetParam().name;
  EXPECT_NE(r.error().what().find(GetParam().reason), std::string::npos) << r.error().what();
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 2);
  EXPECT_FALSE(fs::exists(other / "x.db"));
}

INSTANTIATE_TEST_SUITE_P(
    Hardened, MigrateRefuses,
    ::testing::Values(
        Forbidden{"attach", "ATTACH DATABASE 'OTHER' AS o;", "ATTACH"},
        Forbidden{"load_extension", "SELECT load_extension('/tmp/x.so');", "load_extension"},
        Forbidden{"vacuum_into", "VACUUM INTO 'OTHER';", "VACUUM"},
        Forbidden{"pragma", "PRAGMA writable_schema = ON;", "PRAGMA writable_schema"},
        Forbidden{"pragma_journal", "PRAGMA journal_mode = OFF;", "PRAGMA journal_mode"},
        Forbidden{"commit", "COMMIT;", "transaction control"},
        Forbidden{"runaway", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
                  "time limit"},
        // One per escape class of the sandbox (docs/reliability.md, security).
        Forbidden{"vacuum", "VACUUM;", "VACUUM"},
        Forbidden{"vacuum_into_after_semicolon", "; VACUUM INTO 'OTHER';", "VACUUM"},
        Forbidden{"vacuum_into_after_comment", "/* c */ -- c\n VACUUM INTO 'OTHER';", "VACUUM"},
        Forbidden{"vacuum_into_after_empty_and_comment", ";; /* c */ ; VACUUM INTO 'OTHER';", "VACUUM"},
        Forbidden{"fts3_tokenizer_leak", "CREATE TABLE leak AS SELECT hex(fts3_tokenizer('simple')) AS p;",
                  "fts3_tokenizer"},
        Forbidden{"fts3_tokenizer_set", "SELECT fts3_tokenizer('simple', x'4141414141414141');", "fts3_tokenizer"},
        Forbidden{"fts3_module", "CREATE VIRTUAL TABLE v USING fts3(x);", "fts3"},
        Forbidden{"readfile", "CREATE TABLE r AS SELECT readfile('/etc/hostname') AS f;", "readfile"},
        Forbidden{"writefile", "SELECT writefile('OTHER', 'x');", "writefile"},
        Forbidden{"pragma_foreign_keys", "PRAGMA foreign_keys = ON;", "PRAGMA foreign_keys"},
        Forbidden{"pragma_trusted_schema", "PRAGMA trusted_schema = ON;", "PRAGMA trusted_schema"},
        Forbidden{"pragma_page_size_set", "PRAGMA page_size = 512;", "PRAGMA page_size"},
        Forbidden{"schema_write", "UPDATE sqlite_schema SET sql = 'CREATE TABLE t(a, b)' WHERE name = 't';",
                  "sqlite_master"},
        Forbidden{"dbpage_write", "INSERT INTO sqlite_dbpage VALUES (1, zeroblob(4096));", "sqlite_dbpage"},
        Forbidden{"huge_zeroblob", "SELECT zeroblob(1000000000);", "too big"},
        Forbidden{"huge_row",
                  "SELECT zeroblob(60000000) || '', zeroblob(60000000) || '', zeroblob(60000000) || '', "
                  "zeroblob(60000000) || '', zeroblob(60000000) || '', zeroblob(60000000) || '';",
                  "memory"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// An empty statement (a lone `;`) is skipped, not the end of the script: the statements after it
// run (and are checked) like any other.
TEST(Migrate, EmptyStatementsDoNotEndTheScript) {
  Db db;
  ASSERT_TRUE(
      applier::run_migration(up(db.path, "m1", "; INSERT INTO t VALUES (3);; -- c\n ; INSERT INTO t VALUES (4);")));
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 4);
}

// What schema migrations do stays allowed: ALTER TABLE in every form (SQLite runs its own internal
// functions for it), the allowed virtual-table modules, json, date and math functions.
TEST(Migrate, OrdinarySchemaWorkStillRuns) {
  Db db;
  const char* sql =
      "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'; ALTER TABLE t RENAME COLUMN b TO c; ALTER TABLE t DROP COLUMN c;"
      "ALTER TABLE t RENAME TO t2; ALTER TABLE t2 RENAME TO t;"
      "CREATE TABLE j AS SELECT json_extract('{\"a\": 2}', '$.a') AS a, date('2026-01-01', '+1 day') AS d, "
      "printf('%05d', 42) AS p, upper(hex(randomblob(2))) AS r, round(sqrt(16)) AS s, '[1]' ->> '$[0]' AS k;"
      "CREATE VIRTUAL TABLE f USING fts5(body); INSERT INTO f VALUES ('hello world'); DROP TABLE f;"
      "CREATE VIRTUAL TABLE g USING rtree(id, x0, x1); INSERT INTO g VALUES (1, 0, 1); DROP TABLE g;"
      "CREATE INDEX t_a ON t(a); SELECT * FROM pragma_table_info('t'); PRAGMA foreign_key_check;";
  auto r = applier::run_migration(up(db.path, "ok", sql));
  ASSERT_TRUE(r) << r.error().what();
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  auto row = d->query("SELECT a, d, p, length(r), s, k FROM j");
  ASSERT_TRUE(row) << row.error().what();
  EXPECT_EQ((*row)[0][0], db::Value(std::int64_t{2}));
  EXPECT_EQ((*row)[0][1], db::Value(std::string("2026-01-02")));
  EXPECT_EQ((*row)[0][2], db::Value(std::string("00042")));
}

TEST(Migrate, AllowListedPragmaWorks) {
  Db db;
  ASSERT_TRUE(applier::run_migration(up(db.path, "uv", "PRAGMA user_version = 7;")));
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("PRAGMA user_version"))[0][0]), 7);
}

}  // namespace
}  // namespace airlock::test

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
  return MigrationRun{path, id, "9.9.9", sql, Direction::up, timeout_ms};
}

TEST(Migrate, AppliesOnceAndRecordsTheId) {
  Db db;
  ASSERT_TRUE(applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);")));
  ASSERT_TRUE(applier::run_migration(up(db.path, "m1", "INSERT INTO t VALUES (3);")));  // skipped
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("SELECT count(*) FROM t"))[0][0]), 3);
  EXPECT_TRUE(*applier::migration_recorded(db.path, "m1"));
  ASSERT_TRUE(applier::run_migration({db.path, "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000}));
  EXPECT_FALSE(*applier::migration_recorded(db.path, "m1"));
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
  auto down = applier::run_migration({db.path, "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000});
  auto down_again =
      applier::run_migration({db.path, "m1", "9.9.9", "DELETE FROM t WHERE a = 3;", Direction::down, 10000});
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
  EXPECT_FALSE(*applier::migration_recorded(db.path, "m1"));
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
                  "time limit"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Migrate, AllowListedPragmaWorks) {
  Db db;
  ASSERT_TRUE(applier::run_migration(up(db.path, "uv", "PRAGMA user_version = 7;")));
  auto d = db::Database::open(db.path, db::OpenMode::read_only);
  EXPECT_EQ(std::get<std::int64_t>((*d->query("PRAGMA user_version"))[0][0]), 7);
}

}  // namespace
}  // namespace airlock::test

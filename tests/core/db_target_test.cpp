// The database-target interface (core/db/target.hpp) through its factory, on real SQLite files:
// the factory and an unknown kind, then each operation the applier's phases and the build's check
// use — preflight, migrate, hardened session, snapshot, restore, compare, size, probe.
#include "core/db/target.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/db/db.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

namespace fs = std::filesystem;

db::TargetSpec spec_of(const std::string& path) { return {"main", "sqlite", path, db::Durability::durable}; }

std::unique_ptr<db::Target> target_at(const std::string& path) {
  auto t = db::open_target(spec_of(path));
  EXPECT_TRUE(t) << t.error().what();
  return std::move(*t);
}

struct Sample {
  TempDir dir;
  std::string path = (dir / "main.db").string();
  std::unique_ptr<db::Target> t = target_at(path);
  Sample() {
    auto d = db::Database::open(path, db::OpenMode::create);
    EXPECT_TRUE(d->exec("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1), (2); PRAGMA user_version = 4;"));
  }
  std::string dump() const { return *db::Database::open(path, db::OpenMode::read_only)->full_dump(); }
  std::int64_t count() const {
    auto rows = db::Database::open(path, db::OpenMode::read_only)->query("SELECT count(*) FROM t");
    return std::get<std::int64_t>((*rows)[0][0]);
  }
};

db::MigrationStep step(const std::string& id, const std::string& sql, db::Direction dir = db::Direction::up) {
  return {id, "1.0.0", sql, dir, 10000};
}

TEST(DbTarget, FactoryMakesTheKindItIsAsked) {
  EXPECT_NE(std::find(db::target_kinds().begin(), db::target_kinds().end(), "sqlite"), db::target_kinds().end());
  auto t = db::open_target(spec_of("/nonexistent/x.db"));
  ASSERT_TRUE(t) << t.error().what();
  EXPECT_EQ((*t)->spec().kind, "sqlite");
  EXPECT_EQ((*t)->spec().location, "/nonexistent/x.db");
  EXPECT_EQ((*t)->where(), "file '/nonexistent/x.db'");
  EXPECT_EQ((*t)->snapshot_file(), "db-main.sqlite");
}

TEST(DbTarget, UnknownKindIsAUsageErrorNamingTheKinds) {
  auto t = db::open_target({"main", "oracle", "x", db::Durability::durable});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().cls(), ErrorClass::usage);
  EXPECT_EQ(t.error().what(), "database 'main': unknown kind 'oracle' (known kinds: sqlite, postgres)");
}

TEST(DbTarget, ReadyRefusesOrCreatesAMissingDatabaseAndChecksIntegrity) {
  TempDir dir;
  const std::string path = (dir / "sub" / "new.db").string();
  auto t = target_at(path);
  EXPECT_FALSE(*t->exists());
  auto refused = t->ready(db::Missing::refuse);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().what(), "database 'main': file '" + path + "' does not exist");
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE(t->ready(db::Missing::create));
  EXPECT_TRUE(*t->exists());
  EXPECT_EQ(*t->schema_version(), 0);
  // A file that is not a database fails the check, naming the database.
  const std::string junk = (dir / "junk.db").string();
  spit(junk, std::string(4096, 'x'));
  auto bad = target_at(junk)->ready(db::Missing::refuse);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("database 'main'"), std::string::npos) << bad.error().what();
}

TEST(DbTarget, MigrateRecordsUpAndDownInTheSameTransaction) {
  Sample s;
  const std::string before = s.dump();
  EXPECT_FALSE(*s.t->migration_recorded("m1"));
  EXPECT_TRUE(*s.t->migrate(step("m1", "INSERT INTO t VALUES (3);")));
  EXPECT_TRUE(*s.t->migration_recorded("m1"));
  EXPECT_FALSE(*s.t->migrate(step("m1", "INSERT INTO t VALUES (3);")));  // recorded: skipped
  EXPECT_EQ(s.count(), 3);
  EXPECT_TRUE(*s.t->migrate(step("m1", "DELETE FROM t WHERE a = 3;", db::Direction::down)));
  EXPECT_FALSE(*s.t->migrate(step("m1", "DELETE FROM t;", db::Direction::down)));  // not recorded: skipped
  // The reverse of the only migration leaves no bookkeeping table behind.
  EXPECT_EQ(s.dump(), before);
}

TEST(DbTarget, FailingMigrationRollsBackWhole) {
  Sample s;
  const std::string before = s.dump();
  auto r = s.t->migrate(step("m1", "INSERT INTO t VALUES (3); INSERT INTO nope VALUES (1);"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::internal);
  EXPECT_NE(r.error().what().find("no such table: nope"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.dump(), before);
  EXPECT_FALSE(*s.t->migration_recorded("m1"));
}

TEST(DbTarget, SessionIsTheMigrationSandbox) {
  Sample s;
  auto session = s.t->open_session(10000);
  ASSERT_TRUE(session) << session.error().what();
  ASSERT_TRUE((*session)->run("CREATE TABLE u(b TEXT);"));
  auto refused = (*session)->run("ATTACH DATABASE 'other.db' AS o;");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what().find("ATTACH (and VACUUM) is not allowed in a migration"), std::string::npos)
      << refused.error().what();
  EXPECT_FALSE(fs::exists(s.dir / "other.db"));
}

TEST(DbTarget, SnapshotRestoreAndCompareRoundTrip) {
  Sample s;
  const std::string before = s.dump();
  const std::string snap = (s.dir / s.t->snapshot_file()).string();
  auto uv = s.t->snapshot_to(snap);
  ASSERT_TRUE(uv) << uv.error().what();
  EXPECT_EQ(*uv, 4);
  EXPECT_TRUE(*s.t->same_content_as(snap));
  ASSERT_TRUE(s.t->migrate(step("m1", "CREATE TABLE added(x); PRAGMA user_version = 5;")));
  EXPECT_FALSE(*s.t->same_content_as(snap));
  EXPECT_EQ(*s.t->schema_version(), 5);
  // A hot journal a crashed migration left must not be replayed into the restored file.
  spit(s.path + "-journal", "stale");
  bool midway = false;
  ASSERT_TRUE(s.t->restore_from(snap, [&] {
    midway = true;
    EXPECT_FALSE(fs::exists(s.path + "-journal"));
  }));
  EXPECT_TRUE(midway);
  EXPECT_EQ(s.dump(), before);
  EXPECT_EQ(*s.t->schema_version(), 4);
  EXPECT_TRUE(*s.t->same_content_as(snap));
}

TEST(DbTarget, SnapshotOfAMissingDatabaseFails) {
  TempDir dir;
  auto t = target_at((dir / "absent.db").string());
  auto r = t->snapshot_to((dir / "snap").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(t->size_estimate(), 0u);
}

TEST(DbTarget, SchemaTextIsTheSameWhicheverWayTheSchemaWasReached) {
  TempDir dir;
  auto a = target_at((dir / "a.db").string());
  auto b = target_at((dir / "b.db").string());
  ASSERT_TRUE(a->create());
  ASSERT_TRUE(b->create());
  ASSERT_TRUE((*a->open_session(10000))->run("CREATE TABLE items(id INTEGER, name TEXT);"));
  ASSERT_TRUE((*b->open_session(10000))
                  ->run("CREATE TABLE old(id INTEGER);\nALTER TABLE old RENAME TO items;\n"
                        "ALTER TABLE items ADD COLUMN name TEXT;"));
  auto ta = a->schema_text(), tb = b->schema_text();
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(*ta, *tb);
  EXPECT_EQ(*ta, "table | items | items | CREATE TABLE items(id INTEGER,name TEXT)\n");
}

TEST(DbTarget, CopyFromTakesAnotherDatabaseFileWhole) {
  Sample s;
  auto copy = target_at((s.dir / "copy.db").string());
  ASSERT_TRUE(copy->copy_from(s.path));
  EXPECT_TRUE(*copy->same_content_as(s.path));
  spit(s.dir / "not.db", std::string(4096, 'y'));
  EXPECT_FALSE(copy->copy_from((s.dir / "not.db").string()));
}

TEST(DbTarget, SizeEstimateIsTheFileSize) {
  Sample s;
  EXPECT_EQ(s.t->size_estimate(), fs::file_size(s.path));
  EXPECT_GT(s.t->size_estimate(), 0u);
}

TEST(DbTarget, ProbeAnswersTheFirstValueOrNothingAndStopsWhenAsked) {
  Sample s;
  auto v = s.t->probe({"SELECT count(*) FROM t", 1000, nullptr});
  ASSERT_TRUE(v) << v.error().what();
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, db::Value(std::int64_t{2}));
  auto none = s.t->probe({"SELECT a FROM t WHERE a > 100", 1000, nullptr});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  // A runaway query ends once the caller says stop.
  auto stopped = s.t->probe({"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n",
                             1000, [] { return true; }});
  ASSERT_FALSE(stopped);
  EXPECT_NE(stopped.error().what().find("interrupted"), std::string::npos) << stopped.error().what();
  // A probe only reads.
  auto write = s.t->probe({"INSERT INTO t VALUES (9)", 1000, nullptr});
  EXPECT_FALSE(write);
  EXPECT_EQ(s.count(), 2);
}

}  // namespace
}  // namespace airlock::test

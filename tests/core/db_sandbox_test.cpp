// The migration sandbox itself: one test per escape class (docs/reliability.md, security), each a
// script that tries the escape on a real database file; the refusal must name the reason and the
// database (and every file outside it) must be left as it was.
#include "core/db/db_sandbox.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/db/db.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

namespace fs = std::filesystem;

struct Target {
  TempDir dir;
  std::string path = (dir / "t.db").string();
  db::Database d = open();
  db::Database open() {
    {
      auto c = db::Database::open(path, db::OpenMode::create);
      EXPECT_TRUE(c && c->exec("CREATE TABLE t(a); INSERT INTO t VALUES (1), (2);"));
    }
    auto o = db::Database::open(path, db::OpenMode::read_write);
    EXPECT_TRUE(o);
    return std::move(*o);
  }
  std::string dump() { return *d.full_dump(); }
};

// Runs `sql` in a fresh sandbox; expects a refusal naming `reason`, and no change to the database.
void expect_refused(const std::string& sql, const std::string& reason) {
  Target t;
  std::string before = t.dump();
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb) << sb.error().what();
  ASSERT_TRUE(t.d.exec("BEGIN"));
  auto r = sb->run(sql);
  (void)t.d.exec("ROLLBACK");
  const std::string shown = sql.substr(0, 200);
  ASSERT_FALSE(r) << shown;
  EXPECT_EQ(r.error().cls(), ErrorClass::internal) << r.error().what().substr(0, 400);
  EXPECT_NE(r.error().what().find(reason), std::string::npos) << shown << "\n" << r.error().what().substr(0, 400);
  EXPECT_TRUE(t.dump() == before) << shown;
}

TEST(DbSandbox, AttachAndDetachAreRefused) {
  TempDir other;
  std::string victim = (other / "victim.db").string();
  expect_refused("ATTACH '" + victim + "' AS v; CREATE TABLE v.x(a);", "ATTACH");
  expect_refused("ATTACH 'file:" + victim + "?mode=rwc' AS v;", "ATTACH");
  expect_refused("DETACH DATABASE temp;", "DETACH");
  EXPECT_FALSE(fs::exists(victim));
}

TEST(DbSandbox, VacuumIsRefusedWhereverItStands) {
  TempDir other;
  std::string copy = (other / "copy.db").string();
  for (const std::string& sql : {std::string("VACUUM;"), "VACUUM INTO '" + copy + "';", "; VACUUM INTO '" + copy + "';",
                                 "/* c */ VACUUM INTO '" + copy + "';", "-- c\n;\n;VACUUM main INTO '" + copy + "';",
                                 "INSERT INTO t VALUES (3);;vacuum into '" + copy + "'"})
    expect_refused(sql, "VACUUM");
  EXPECT_FALSE(fs::exists(copy));
}

TEST(DbSandbox, EmptyStatementsAreSkippedNotTheEnd) {
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->run(";; -- c\n; INSERT INTO t VALUES (3); /* c */ ; INSERT INTO t VALUES (4);"));
  EXPECT_EQ(std::get<std::int64_t>((*t.d.query("SELECT count(*) FROM t"))[0][0]), 4);
  // And what follows an empty statement is checked like the rest.
  expect_refused("; PRAGMA foreign_keys = ON;", "PRAGMA foreign_keys");
}

TEST(DbSandbox, LoadExtensionIsRefused) {
  expect_refused("SELECT load_extension('/nonexistent/x.so');", "load_extension");
  // Off in the connection too, not only in the authorizer.
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  EXPECT_FALSE(t.d.exec("SELECT load_extension('/nonexistent/x.so')"));
}

TEST(DbSandbox, HostFileFunctionsAreRefused) {
  TempDir other;
  expect_refused("SELECT readfile('/etc/hostname');", "readfile");
  expect_refused("SELECT writefile('" + (other / "w").string() + "', 'x');", "writefile");
  expect_refused("SELECT edit('x', 'vi');", "edit");
  EXPECT_FALSE(fs::exists(other / "w"));
}

TEST(DbSandbox, PragmasOutsideTheAllowListAreRefused) {
  for (const char* p :
       {"foreign_keys = ON", "writable_schema = ON", "journal_mode = OFF", "trusted_schema = ON", "page_size = 512",
        "temp_store = MEMORY", "cache_size = -1000000", "mmap_size = 1000000", "synchronous = OFF",
        "cell_size_check = OFF", "recursive_triggers = ON", "optimize", "shrink_memory", "wal_checkpoint",
        "temp_store_directory = '/tmp'", "case_sensitive_like = ON", "legacy_alter_table = ON", "schema_version = 99"})
    expect_refused(std::string("PRAGMA ") + p + ";", "PRAGMA");
  // The table-valued forms go through the same list.
  expect_refused("SELECT * FROM pragma_compile_options;", "PRAGMA compile_options");
}

TEST(DbSandbox, AllowListedPragmasWork) {
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  ASSERT_TRUE(
      sb->run("PRAGMA user_version = 3; PRAGMA table_info(t); SELECT * FROM pragma_index_list('t');"
              "PRAGMA foreign_key_check; PRAGMA quick_check; PRAGMA page_size;"));
  EXPECT_EQ(std::get<std::int64_t>((*t.d.query("PRAGMA user_version"))[0][0]), 3);
}

TEST(DbSandbox, Fts3TokenizerIsRefusedInBothForms) {
  expect_refused("SELECT hex(fts3_tokenizer('simple'));", "fts3_tokenizer");
  expect_refused("CREATE TABLE leak AS SELECT fts3_tokenizer('simple') AS p;", "fts3_tokenizer");
  expect_refused("SELECT fts3_tokenizer('simple', x'4141414141414141'); CREATE VIRTUAL TABLE v USING fts3(x);",
                 "fts3_tokenizer");
  expect_refused("CREATE VIRTUAL TABLE v USING fts4(x);", "fts4");
  // The two-argument form is switched off in the connection, not only refused by the authorizer:
  // even the caller's own (unchecked) statements cannot install a tokenizer pointer.
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  auto r = t.d.exec("SELECT fts3_tokenizer('simple', x'4141414141414141')");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("disabled"), std::string::npos) << r.error().what();
}

TEST(DbSandbox, SchemaAndDbpageWritesAreRefused) {
  expect_refused("UPDATE sqlite_schema SET sql = 'CREATE TABLE t(a, b)' WHERE name = 't';", "sqlite_master");
  expect_refused("DELETE FROM sqlite_master WHERE name = 't';", "sqlite_master");
  expect_refused("PRAGMA writable_schema = 1; UPDATE sqlite_schema SET sql = 'x' WHERE name = 't';",
                 "PRAGMA writable_schema");
  // On a libsqlite3 without the sqlite_dbpage table this is "no such table", with it the refusal.
  expect_refused("INSERT INTO sqlite_dbpage VALUES (1, zeroblob(4096));", "sqlite_dbpage");
  expect_refused("UPDATE sqlite_dbpage SET data = zeroblob(4096) WHERE pgno = 1;", "sqlite_dbpage");
  // Shadow tables of an allowed module are read-only to SQL (defensive mode).
  expect_refused("CREATE VIRTUAL TABLE f USING fts5(x); INSERT INTO f_data VALUES (99, x'00');", "f_data");
}

TEST(DbSandbox, HugeAllocationsAreRefused) {
  expect_refused("SELECT zeroblob(1000000000);", "too big");
  expect_refused("SELECT length(randomblob(100000000));", "too big");
  expect_refused(
      "CREATE TABLE h AS WITH RECURSIVE c(x) AS (SELECT 'x' UNION ALL SELECT x || x FROM c LIMIT 40) "
      "SELECT max(length(x)) AS n FROM c;",
      "too big");
  expect_refused(
      "SELECT group_concat(zeroblob(1000000)) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
      "SELECT i + 1 FROM c WHERE i < 100) SELECT i FROM c);",
      "too big");
  expect_refused(
      "SELECT zeroblob(60000000) || '', zeroblob(60000000) || '', zeroblob(60000000) || '', "
      "zeroblob(60000000) || '', zeroblob(60000000) || '', zeroblob(60000000) || '';",
      "memory limit");
  // printf() stops at the length limit: its result is NULL, never a string over the limit. (The
  // width is 100 MB, not 1 GB: the call fills characters up to the width, and a test need not
  // burn that time.)
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->run("CREATE TABLE p AS SELECT printf('%.*c', 100000000, 'x') AS v;"));
  EXPECT_EQ((*t.d.query("SELECT v FROM p"))[0][0], db::Value(nullptr));
  // The process-wide heap ceiling is held only while a statement of the script runs.
  EXPECT_EQ(db::sqlite_heap_limit(), 0);
}

TEST(DbSandbox, LimitsAreSetOnTheConnection) {
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  const db::SandboxSettings set = sb->settings();
  EXPECT_EQ(set.length, db::kSandboxMaxLength);
  EXPECT_EQ(set.sql_length, db::kSandboxMaxSqlLength);
  EXPECT_EQ(set.expr_depth, db::kSandboxMaxExprDepth);
  EXPECT_EQ(set.compound_select, db::kSandboxMaxCompoundSelect);
  EXPECT_EQ(set.vdbe_ops, db::kSandboxMaxVdbeOps);
  EXPECT_EQ(set.function_args, db::kSandboxMaxFunctionArgs);
  EXPECT_EQ(set.like_pattern, db::kSandboxMaxLikePattern);
  EXPECT_EQ(set.trigger_depth, db::kSandboxMaxTriggerDepth);
  EXPECT_EQ(set.attached, 0);
  EXPECT_TRUE(set.defensive);
  EXPECT_FALSE(set.fts3_tokenizer);
  // A statement longer than the limit is refused; a script of many short ones is not.
  expect_refused("SELECT '" + std::string(db::kSandboxMaxSqlLength, 'x') + "';", "too big");
  std::string many;
  const std::string one = "SELECT '" + std::string(1000, 'y') + "';\n";
  while (many.size() <= static_cast<std::size_t>(db::kSandboxMaxSqlLength)) many += one;
  ASSERT_TRUE(sb->run(many));
}

TEST(DbSandbox, TransactionControlAndNulBytesAreRefused) {
  expect_refused("COMMIT;", "transaction control");
  expect_refused("SAVEPOINT s; RELEASE s;", "SAVEPOINT");
  std::string nul = "INSERT INTO t VALUES (3);";
  nul += '\0';
  expect_refused(nul + " DROP TABLE t;", "NUL byte");
}

TEST(DbSandbox, RunawayScriptStopsAtItsDeadline) {
  Target t;
  auto sb = db::Sandbox::harden(t.d, 200);
  ASSERT_TRUE(sb);
  auto r = sb->run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("time limit"), std::string::npos) << r.error().what();
}

// What a schema migration does stays allowed, and the caller's own statements are not checked.
TEST(DbSandbox, OrdinaryMigrationWorkRuns) {
  Target t;
  auto sb = db::Sandbox::harden(t.d, 10000);
  ASSERT_TRUE(sb);
  auto r = sb->run(
      "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'; ALTER TABLE t RENAME COLUMN b TO c; ALTER TABLE t DROP COLUMN c;"
      "ALTER TABLE t RENAME TO t2; ALTER TABLE t2 RENAME TO t; CREATE INDEX t_a ON t(a);"
      "CREATE TABLE j AS SELECT json_object('a', 1) ->> '$.a' AS a, datetime(0, 'unixepoch') AS d, "
      "count(*) OVER () AS n, coalesce(NULL, lower('X')) AS l, round(pi(), 2) AS p FROM t;"
      "CREATE VIRTUAL TABLE f USING fts5(body); INSERT INTO f VALUES ('hello'); DROP TABLE f;"
      "CREATE VIRTUAL TABLE g USING rtree(id, x0, x1); INSERT INTO g VALUES (1, 0, 1); DROP TABLE g;"
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE j SET n = n + 1; END; INSERT INTO t VALUES (3);"
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10) INSERT INTO t SELECT i FROM c;");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(t.d.exec("PRAGMA journal_mode"));
}

}  // namespace
}  // namespace airlock::test

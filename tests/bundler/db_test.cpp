// core/db on real SQLite files: open modes, bound parameters, dumps that compare states, backup.
#include "core/db/db.hpp"

#include <gtest/gtest.h>

#include "tests/support/tmpdir.hpp"

using airlock::ErrorClass;
using airlock::db::Database;
using airlock::db::OpenMode;
using airlock::db::Value;
using airlock::test::TempDir;

TEST(Db, CreateExecQueryWithBoundParameters) {
  TempDir t;
  auto db = Database::open((t / "a.db").string(), OpenMode::create);
  ASSERT_TRUE(db) << db.error().what();
  ASSERT_TRUE(db->exec("CREATE TABLE t(a INTEGER, b TEXT, c REAL, d BLOB); INSERT INTO t VALUES (1,'x',1.5,NULL);"));
  ASSERT_TRUE(db->query("INSERT INTO t VALUES (?,?,?,?)",
                        {Value(std::int64_t{2}), Value(std::string("it's")), Value(2.25), Value(nullptr)}));
  auto rows = db->query("SELECT a, b, c, d FROM t WHERE a >= ? ORDER BY a", {Value(std::int64_t{1})});
  ASSERT_TRUE(rows) << rows.error().what();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>((*rows)[1][0]), 2);
  EXPECT_EQ(std::get<std::string>((*rows)[1][1]), "it's");
  EXPECT_DOUBLE_EQ(std::get<double>((*rows)[1][2]), 2.25);
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>((*rows)[1][3]));
}

TEST(Db, OpenFailuresAreIoAndNameThePath) {
  TempDir t;
  auto missing = (t / "missing.db").string();
  auto r = Database::open(missing, OpenMode::read_write);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io);
  EXPECT_NE(r.error().what().find(missing), std::string::npos);
  airlock::test::spit(t / "junk.db", std::string(4096, 'x'));
  r = Database::open((t / "junk.db").string(), OpenMode::read_only);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io);
}

TEST(Db, SqlErrorsAreInternalWithMessageAndPath) {
  auto db = Database::open_memory();
  ASSERT_TRUE(db);
  auto s = db->exec("CREATE TABLE t(a); SELECT nope FROM t;");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::internal);
  EXPECT_NE(s.error().what().find("no such column: nope"), std::string::npos) << s.error().what();
  auto q = db->query("SELEC 1");
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().what().find("syntax error"), std::string::npos);
}

TEST(Db, ReadOnlyRefusesWrites) {
  TempDir t;
  auto path = (t / "ro.db").string();
  {
    auto db = Database::open(path, OpenMode::create);
    ASSERT_TRUE(db && db->exec("CREATE TABLE t(a)"));
  }
  auto db = Database::open(path, OpenMode::read_only);
  ASSERT_TRUE(db);
  EXPECT_FALSE(db->exec("INSERT INTO t VALUES (1)"));
}

TEST(Db, SchemaDumpSeesSchemaChangesOnly) {
  auto db = Database::open_memory();
  ASSERT_TRUE(db && db->exec("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)"));
  auto before = db->schema_dump();
  ASSERT_TRUE(before);
  EXPECT_NE(before->find("CREATE TABLE items"), std::string::npos) << *before;
  ASSERT_TRUE(db->exec("INSERT INTO items(name) VALUES ('a')"));
  EXPECT_EQ(*db->schema_dump(), *before);
  ASSERT_TRUE(db->exec("ALTER TABLE items ADD COLUMN price INTEGER"));
  EXPECT_NE(*db->schema_dump(), *before);
  ASSERT_TRUE(db->exec("ALTER TABLE items DROP COLUMN price"));
  EXPECT_EQ(*db->schema_dump(), *before);
}

TEST(Db, FullDumpIndependentOfInsertOrderButSeesData) {
  auto a = Database::open_memory();
  auto b = Database::open_memory();
  ASSERT_TRUE(a && b);
  const char* schema = "CREATE TABLE t(x TEXT, y INTEGER); CREATE TABLE u(z);";
  ASSERT_TRUE(a->exec(schema) && b->exec(schema));
  ASSERT_TRUE(a->exec("INSERT INTO t VALUES ('p',1),('q',2); INSERT INTO u VALUES (NULL)"));
  ASSERT_TRUE(b->exec("INSERT INTO u VALUES (NULL); INSERT INTO t VALUES ('q',2),('p',1)"));
  auto da = a->full_dump(), db_ = b->full_dump();
  ASSERT_TRUE(da && db_);
  EXPECT_EQ(*da, *db_);
  EXPECT_NE(da->find("'p', 1"), std::string::npos) << *da;
  ASSERT_TRUE(b->exec("UPDATE t SET y = 3 WHERE x = 'q'"));
  EXPECT_NE(*a->full_dump(), *b->full_dump());
}

TEST(Db, BackupCopiesEverything) {
  TempDir t;
  auto src = Database::open((t / "src.db").string(), OpenMode::create);
  ASSERT_TRUE(src && src->exec("CREATE TABLE t(a); INSERT INTO t VALUES (1),(2);"));
  auto dest = (t / "copy.db").string();
  auto s = src->backup_to(dest);
  ASSERT_TRUE(s) << s.error().what();
  auto copy = Database::open(dest, OpenMode::read_only);
  ASSERT_TRUE(copy);
  EXPECT_EQ(*copy->full_dump(), *src->full_dump());
}

TEST(Db, BusyTimeoutIsSettable) {
  auto db = Database::open_memory();
  ASSERT_TRUE(db);
  EXPECT_TRUE(db->busy_timeout_ms(100));
}

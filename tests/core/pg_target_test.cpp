// The PostgreSQL target (core/db/postgres_target.hpp) on a real private cluster
// (tests/support/pg_cluster.hpp): migrate forward and back, a failing migration rolled back whole,
// the refusals (a password in the conninfo, a superuser role, a script that ends the transaction),
// snapshot and restore replacing the schema whole, a restore refused while a connection is live.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/db/pg_handles.hpp"
#include "core/db/pg_script.hpp"
#include "core/db/target.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

db::TargetSpec pg_spec(const std::string& conninfo) {
  db::TargetSpec s{"main", "postgres", conninfo, db::Durability::durable};
  return s;
}

std::unique_ptr<db::Target> pg_target(const std::string& conninfo) {
  auto t = db::open_target(pg_spec(conninfo));
  EXPECT_TRUE(t) << t.error().what();
  return std::move(*t);
}

db::MigrationStep up(const std::string& id, const std::string& sql) {
  return {id, "1.0.0", sql, db::Direction::up, 30000};
}
db::MigrationStep down(const std::string& id, const std::string& sql) {
  return {id, "1.0.0", sql, db::Direction::down, 30000};
}

bool has_table(const std::string& dbname, const std::string& table) {
  return pg_admin_query(dbname, "SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
}

TEST(PgTarget, MigratesForwardAndBackRecordingEachStep) {
  AIRLOCK_NEED_PG();
  auto t = pg_target(pg_fresh_database("mig_fwd"));
  auto ran = t->migrate(up("0001", "CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items VALUES (1)"));
  ASSERT_TRUE(ran) << ran.error().what();
  EXPECT_TRUE(*ran);
  EXPECT_TRUE(*t->migration_recorded("0001"));
  EXPECT_EQ(*t->schema_version(), 1);
  EXPECT_FALSE(*t->migrate(up("0001", "CREATE TABLE items(id int)"))) << "an applied migration is skipped";
  ASSERT_TRUE(*t->migrate(up("0002", "ALTER TABLE items ADD COLUMN name text")));
  EXPECT_EQ(*t->schema_version(), 2);
  EXPECT_EQ(t->snapshot_facts()->last_migration, "0002");
  ASSERT_TRUE(*t->migrate(down("0002", "ALTER TABLE items DROP COLUMN name")));
  ASSERT_TRUE(*t->migrate(down("0001", "DROP TABLE items")));
  EXPECT_FALSE(has_table("mig_fwd", "items"));
  EXPECT_FALSE(has_table("mig_fwd", "_airlock_migrations")) << "the first install's reverse leaves nothing";
  EXPECT_EQ(*t->schema_version(), 0);
}

TEST(PgTarget, AFailingMigrationRollsBackWhole) {
  AIRLOCK_NEED_PG();
  auto t = pg_target(pg_fresh_database("mig_fail"));
  auto ran =
      t->migrate(up("0001", "CREATE TABLE half(a int); INSERT INTO half VALUES (1); INSERT INTO nosuch VALUES (1)"));
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().cls(), ErrorClass::internal);
  EXPECT_NE(ran.error().what().find("nosuch"), std::string::npos) << ran.error().what();
  EXPECT_FALSE(has_table("mig_fail", "half"));
  EXPECT_FALSE(has_table("mig_fail", "_airlock_migrations"));
}

TEST(PgTarget, AScriptWithTransactionControlIsRefusedBeforeItRuns) {
  AIRLOCK_NEED_PG();
  auto t = pg_target(pg_fresh_database("mig_commit"));
  auto ran = t->migrate(up("0001", "CREATE TABLE a(x int); COMMIT; CREATE TABLE b(x int)"));
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().what().find("transaction control 'COMMIT' in statement 2"), std::string::npos)
      << ran.error().what();
  EXPECT_FALSE(has_table("mig_commit", "a"));
  EXPECT_FALSE(has_table("mig_commit", "b"));
  EXPECT_FALSE(*t->migration_recorded("0001"));
}

TEST(PgTarget, StatementTimeoutBoundsAMigration) {
  AIRLOCK_NEED_PG();
  auto spec = pg_spec(pg_fresh_database("mig_slow"));
  spec.statement_timeout_ms = 200;
  auto t = std::move(*db::open_target(spec));
  auto ran = t->migrate(up("0001", "CREATE TABLE a(x int); SELECT pg_sleep(5)"));
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().what().find("statement timeout"), std::string::npos) << ran.error().what();
  EXPECT_FALSE(has_table("mig_slow", "a"));
}

TEST(PgScript, TransactionControlAndConcurrentlyAreFoundOutsideLiteralsOnly) {
  EXPECT_FALSE(db::pg_script_problem("CREATE TABLE t(a int); INSERT INTO t VALUES (1)"));
  EXPECT_FALSE(db::pg_script_problem("INSERT INTO t VALUES ('BEGIN; COMMIT'); -- ROLLBACK\n/* SAVEPOINT x */"));
  EXPECT_FALSE(
      db::pg_script_problem("CREATE FUNCTION f() RETURNS void AS $body$ BEGIN PERFORM 1; END $body$ LANGUAGE plpgsql"));
  EXPECT_FALSE(db::pg_script_problem("SELECT \"concurrently\" FROM t"));
  EXPECT_TRUE(db::pg_script_problem("begin; CREATE TABLE t(a int)"));
  EXPECT_TRUE(db::pg_script_problem("CREATE TABLE t(a int);\n  Commit"));
  EXPECT_TRUE(db::pg_script_problem("SAVEPOINT s1"));
  EXPECT_TRUE(db::pg_script_problem("start transaction"));
  auto c = db::pg_script_problem("CREATE TABLE t(a int); CREATE INDEX CONCURRENTLY ix ON t(a)");
  ASSERT_TRUE(c);
  EXPECT_NE(c->find("CONCURRENTLY in statement 2"), std::string::npos) << *c;
}

TEST(PgTarget, APasswordInTheConninfoIsRefused) {
  auto t = db::open_target(pg_spec("host=/run/x dbname=app password=hunter2"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().cls(), ErrorClass::usage);
  EXPECT_NE(t.error().what().find("databases.main.connection"), std::string::npos) << t.error().what();
  EXPECT_EQ(t.error().what().find("hunter2"), std::string::npos) << "the secret is not repeated";
  EXPECT_FALSE(db::check_spec(pg_spec("postgresql://app:hunter2@localhost/app")));
  EXPECT_TRUE(db::check_spec(pg_spec("host=/run/x dbname=app")));
}

TEST(PgTarget, ASuperuserRoleIsRefusedUnlessAllowed) {
  AIRLOCK_NEED_PG();
  pg_fresh_database("superuser");
  auto spec = pg_spec(pg_cluster()->admin("superuser"));
  auto ready = std::move(*db::open_target(spec))->ready(db::Missing::refuse);
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().cls(), ErrorClass::usage);
  EXPECT_NE(ready.error().what().find("superuser"), std::string::npos) << ready.error().what();
  EXPECT_NE(ready.error().what().find("allow_superuser"), std::string::npos) << ready.error().what();
  spec.allow_superuser = true;
  EXPECT_TRUE(std::move(*db::open_target(spec))->ready(db::Missing::refuse));
}

TEST(PgTarget, RestoreReplacesTheSchemaWhole) {
  AIRLOCK_NEED_PG();
  TempDir dir;
  auto t = pg_target(pg_fresh_database("snap"));
  ASSERT_TRUE(*t->migrate(up("0001", "CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)")));
  const std::string file = (dir / t->snapshot_file()).string();
  auto version = t->snapshot_to(file);
  ASSERT_TRUE(version) << version.error().what();
  EXPECT_EQ(*version, 1);
  EXPECT_TRUE(*t->same_content_as(file));
  // A failed release: a new table, a new schema, and changed rows.
  ASSERT_TRUE(*t->migrate(up("0002",
                             "CREATE TABLE added(a int); CREATE SCHEMA extra; CREATE TABLE extra.e(a int); "
                             "DELETE FROM items WHERE id = 1")));
  EXPECT_FALSE(*t->same_content_as(file));
  bool midway = false;
  auto restored = t->restore_from(file, [&] { midway = true; });
  ASSERT_TRUE(restored) << restored.error().what();
  EXPECT_TRUE(midway);
  EXPECT_FALSE(has_table("snap", "added"));
  EXPECT_FALSE(has_table("snap", "extra.e"));
  EXPECT_EQ(pg_admin_query("snap", "SELECT count(*) FROM items"), "2");
  EXPECT_EQ(*t->schema_version(), 1);
  EXPECT_TRUE(*t->same_content_as(file));
}

// The drop of the old schemas and the restore of the snapshot are one transaction: a statement of
// the restore refused after the drop (here by an event trigger the administrator adds at the
// midway seam, in a schema the role cannot drop) leaves every table and row as it was.
TEST(PgTarget, ARestoreFailingAfterTheDropLeavesTheDatabaseAsItWas) {
  AIRLOCK_NEED_PG();
  TempDir dir;
  auto t = pg_target(pg_fresh_database("half"));
  ASSERT_TRUE(*t->migrate(up("0001", "CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)")));
  const std::string file = (dir / t->snapshot_file()).string();
  ASSERT_TRUE(t->snapshot_to(file));
  ASSERT_TRUE(*t->migrate(up("0002", "CREATE TABLE added(a int); DELETE FROM items WHERE id = 1")));
  auto restored = t->restore_from(file, [] {
    EXPECT_EQ(
        pg_admin_exec("half",
                      "CREATE SCHEMA guard; CREATE FUNCTION guard.refuse() RETURNS event_trigger LANGUAGE plpgsql "
                      "AS $$ BEGIN RAISE EXCEPTION 'no new tables'; END $$; CREATE EVENT TRIGGER refuse_tables "
                      "ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION guard.refuse()"),
        "");
  });
  ASSERT_FALSE(restored);
  EXPECT_NE(restored.error().what().find("no new tables"), std::string::npos) << restored.error().what();
  EXPECT_TRUE(has_table("half", "added")) << "the drop was rolled back with the restore";
  EXPECT_EQ(pg_admin_query("half", "SELECT string_agg(id::text, ',' ORDER BY id) FROM items"), "2");
  EXPECT_EQ(*t->schema_version(), 2);
  ASSERT_EQ(pg_admin_exec("half", "DROP EVENT TRIGGER refuse_tables"), "");
  ASSERT_TRUE(t->restore_from(file, nullptr));
  EXPECT_FALSE(has_table("half", "added"));
  EXPECT_EQ(pg_admin_query("half", "SELECT count(*) FROM items"), "2");
}

TEST(PgTarget, RestoreIsRefusedWhileAnotherConnectionIsLiveAndNamesIt) {
  AIRLOCK_NEED_PG();
  TempDir dir;
  const std::string conninfo = pg_fresh_database("live");
  auto t = pg_target(conninfo);
  ASSERT_TRUE(*t->migrate(up("0001", "CREATE TABLE items(id int)")));
  const std::string file = (dir / t->snapshot_file()).string();
  ASSERT_TRUE(t->snapshot_to(file));
  ASSERT_TRUE(*t->migrate(up("0002", "CREATE TABLE added(a int)")));
  db::PgConnPtr squatter(PQconnectdb((conninfo + " application_name=squatter").c_str()));
  ASSERT_EQ(PQstatus(squatter.get()), CONNECTION_OK);
  auto restored = t->restore_from(file, nullptr);
  ASSERT_FALSE(restored);
  EXPECT_NE(restored.error().what().find("squatter"), std::string::npos) << restored.error().what();
  EXPECT_NE(restored.error().what().find("pid " + std::to_string(PQbackendPID(squatter.get()))), std::string::npos)
      << restored.error().what();
  EXPECT_TRUE(has_table("live", "added")) << "nothing changed";
  squatter.reset();
  // The server notices the closed connection a moment later.
  for (int i = 0; i < 100 && !t->restore_ready(); ++i) ::usleep(20000);
  ASSERT_TRUE(t->restore_from(file, nullptr));
  EXPECT_FALSE(has_table("live", "added"));
}

TEST(PgTarget, SchemaTextIsTheSameAfterUpDownUp) {
  AIRLOCK_NEED_PG();
  auto t = pg_target(pg_fresh_database("roundtrip"));
  const std::string sql = "CREATE TABLE items(id int PRIMARY KEY, name text NOT NULL); CREATE INDEX ix ON items(name)";
  ASSERT_TRUE(*t->migrate(up("0001", sql)));
  auto first = t->schema_text();
  ASSERT_TRUE(first) << first.error().what();
  EXPECT_NE(first->find("CREATE TABLE public.items"), std::string::npos) << *first;
  ASSERT_TRUE(*t->migrate(down("0001", "DROP TABLE items")));
  ASSERT_TRUE(*t->migrate(up("0001", sql)));
  EXPECT_EQ(*t->schema_text(), *first);
}

TEST(PgTarget, ProbeAnswersTheFirstColumnTyped) {
  AIRLOCK_NEED_PG();
  auto t = pg_target(pg_fresh_database("probe"));
  auto v = t->probe({"SELECT 42", 100, nullptr});
  ASSERT_TRUE(v) << v.error().what();
  EXPECT_EQ(std::get<std::int64_t>(**v), 42);
  EXPECT_EQ(std::get<std::string>(**t->probe({"SELECT 'ok'::text", 100, nullptr})), "ok");
  EXPECT_FALSE(*t->probe({"SELECT 1 WHERE false", 100, nullptr}));
  EXPECT_GT(t->size_estimate(), 0u);
}

}  // namespace
}  // namespace airlock::test

// The build's round-trip check of a PostgreSQL database's migrations (bundler/migration_check.cpp):
// up, down, up on a scratch PostgreSQL, comparing the normalised `pg_dump --schema-only` — on a
// throwaway cluster airlock starts itself, or on the server the recipe names. A reverse that does
// not undo its up, transaction control and CONCURRENTLY are build refusals (20).
#include <gtest/gtest.h>

#include "bundler/bundler.hpp"
#include "tests/bundler/bundler_fixture.hpp"
#include "tests/support/pg_cluster.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

const std::string kPostgres = "[databases.main]\nkind = \"postgres\"\n";
const std::string kMigration =
    "[[migrations]]\nid = \"0001_items\"\ndatabase = \"main\"\nup = \"m/1.up.sql\"\ndown = \"m/1.down.sql\"\n";

Result<bundler::BuildReport> build(RecipeDir& d, const std::string& up, const std::string& down,
                                   const std::string& databases = kPostgres) {
  d.file("m/1.up.sql", up);
  d.file("m/1.down.sql", down);
  return build_with(d.recipe(databases + kMigration), d.out(), {demo_key("demo-hq")});
}

const char* kUp =
    "CREATE TABLE items(id bigint PRIMARY KEY, name text NOT NULL);\nCREATE INDEX items_name ON items(name);\n";

TEST(PgMigrationCheck, AGoodReverseBuildsOnAThrowawayCluster) {
  AIRLOCK_NEED_PG();
  RecipeDir d;
  auto r = build(d, kUp, "DROP TABLE items;\n");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(fs::exists(d.out()));
}

TEST(PgMigrationCheck, AReverseThatLeavesSchemaBehindIsRefused) {
  AIRLOCK_NEED_PG();
  RecipeDir d;
  // PostgreSQL-only SQL: the check runs on PostgreSQL, not SQLite.
  auto r = build(d, kUp + std::string("CREATE TYPE mood AS ENUM ('ok', 'sad');\n"), "DROP TABLE items;\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::build_refused) << r.error().what();
  EXPECT_NE(r.error().what().find("does not undo"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("mood"), std::string::npos) << "names what was left over: " << r.error().what();
  EXPECT_FALSE(fs::exists(d.out()));
}

TEST(PgMigrationCheck, TransactionControlAndConcurrentlyAreRefused) {
  AIRLOCK_NEED_PG();
  for (const std::string up :
       {"BEGIN;\nCREATE TABLE items(id int);\nCOMMIT;\n", "CREATE TABLE items(id int);\nSAVEPOINT s;\n",
        "CREATE TABLE items(id int);\nCREATE INDEX CONCURRENTLY ix ON items(id);\n"}) {
    RecipeDir d;
    auto r = build(d, up, "DROP TABLE items;\n");
    ASSERT_FALSE(r) << up;
    EXPECT_EQ(r.error().cls(), ErrorClass::build_refused) << r.error().what();
    EXPECT_NE(r.error().what().find("0001_items"), std::string::npos) << r.error().what();
    EXPECT_FALSE(fs::exists(d.out()));
  }
}

TEST(PgMigrationCheck, RunsOnTheServerTheRecipeNames) {
  AIRLOCK_NEED_PG();
  const std::string conninfo = pg_fresh_database("named_scratch");
  RecipeDir d;
  auto r =
      build(d, kUp, "DROP TABLE items;\n", "[databases.main]\nkind = \"postgres\"\nscratch = \"" + conninfo + "\"\n");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(pg_admin_query("named_scratch", "SELECT to_regclass('items') IS NOT NULL"), "t")
      << "the check ran there (up, down, up)";
}

TEST(PgMigrationCheck, APasswordInTheScratchConninfoIsRefused) {
  RecipeDir d;
  auto r = build(d, kUp, "DROP TABLE items;\n",
                 "[databases.main]\nkind = \"postgres\"\nscratch = \"host=/tmp dbname=x password=hunter2\"\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("databases.main.scratch"), std::string::npos) << r.error().what();
}

}  // namespace

// A site whose database is PostgreSQL (core/db/postgres_target.hpp), on the tests' private cluster
// (tests/support/pg_cluster.hpp), through the same apply phases as an SQLite site: an apply whose
// hard check fails after a migration rolls back and restores the Postgres data; a manual snapshot
// restore refused while a connection is live (naming it) and on a schema-version mismatch without
// --force.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "core/db/db.hpp"
#include "core/db/pg_handles.hpp"
#include "tests/applier/fixture.hpp"
#include "tests/support/pg_cluster.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const std::map<std::string, std::string> kFiles = {
    {"m/items_up.sql",
     "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);\n"
     "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"},
    {"m/items_down.sql", "DROP TABLE items;\n"},
    {"m/lose_up.sql", "DELETE FROM items WHERE id = 1;\nCREATE TABLE added(a INTEGER);\n"},
    {"m/lose_down.sql", "DROP TABLE added;\n"},
};

const char* kItems =
    "[[migrations]]\nid = \"0001_items\"\ndatabase = \"main\"\nup = \"m/items_up.sql\"\n"
    "down = \"m/items_down.sql\"\n";
// A reverse that undoes the schema and not the data: only the snapshot brings the row back.
const char* kLose =
    "[[migrations]]\nid = \"0002_lose\"\ndatabase = \"main\"\nup = \"m/lose_up.sql\"\n"
    "down = \"m/lose_down.sql\"\n";

struct PgSite {
  TempDir dir;
  std::string site = (dir / "site.toml").string();
  std::string dbname;
  explicit PgSite(const std::string& name) : dbname(name) {
    const std::string conninfo = pg_fresh_database(name);
    fs::copy_file(repo("keys/trust.toml"), dir / "trust.toml");
    spit(dir / "topology.toml", kTopology);
    spit(site,
         "[site]\nname = \"test\"\nproduct = \"demo\"\nstate_dir = \"state\"\ntrust_root = \"trust.toml\"\n\n"
         "[databases.main]\nkind = \"postgres\"\nconnection = \"" +
             conninfo +
             "\"\nstatement_timeout = \"30s\"\nlock_timeout = \"2s\"\n\n"
             "[config]\ntopology = \"topology.toml\"\n\n"
             "[[checks]]\nname = \"items\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
             "query = \"SELECT count(*) FROM items\"\nexpect = 3\ntimeout = \"5s\"\n");
  }
  std::string items() const { return pg_admin_query(dbname, "SELECT string_agg(name, ',' ORDER BY id) FROM items"); }
  bool has(const std::string& table) const {
    return pg_admin_query(dbname, "SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
  }
};

std::string bundle(const TempDir& b, const std::string& version, const std::string& body) {
  return build_bundle(write_recipe(b, "r" + version, "", version, body, kFiles),
                      (b / ("demo-" + version + ".tar.zst")).string());
}

TEST(PgApply, AHardCheckFailingAfterAMigrationRollsBackAndRestoresThePostgresData) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("apply_rollback");
  auto first = applier::apply(s.site, bundle(b, "1.0.0", kItems), quiet_env());
  ASSERT_TRUE(first) << first.error().what();
  ASSERT_EQ(first->outcome, Outcome::applied);
  ASSERT_EQ(s.items(), "a,b,c");

  auto second = applier::apply(s.site, bundle(b, "1.1.0", std::string(kItems) + kLose), quiet_env());
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_EQ(second->outcome, Outcome::rolled_back);
  EXPECT_EQ(s.items(), "a,b,c") << "the row the release deleted is back from the snapshot";
  EXPECT_FALSE(s.has("added")) << "the table the failed release added does not survive";
  EXPECT_EQ(pg_admin_query(s.dbname, "SELECT string_agg(id, ',' ORDER BY seq) FROM _airlock_migrations"), "0001_items");
}

TEST(PgApply, SnapshotRestoreIsRefusedWhileAConnectionIsLiveAndNamesIt) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("restore_live");
  ASSERT_EQ(applier::apply(s.site, bundle(b, "1.0.0", kItems), quiet_env())->outcome, Outcome::applied);
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  ASSERT_EQ(pg_admin_exec(s.dbname, "DELETE FROM items WHERE id = 3"), "");

  db::PgConnPtr squatter(PQconnectdb((pg_cluster()->app(s.dbname) + " application_name=squatter").c_str()));
  ASSERT_EQ(PQstatus(squatter.get()), CONNECTION_OK);
  auto refused = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what().find("squatter"), std::string::npos) << refused.error().what();
  EXPECT_EQ(s.items(), "a,b") << "nothing was replaced";

  squatter.reset();
  auto restored = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  ASSERT_TRUE(restored) << restored.error().what();
  EXPECT_EQ(s.items(), "a,b,c");
}

TEST(PgApply, SnapshotRestoreOnASchemaVersionMismatchNeedsForce) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("restore_version");
  ASSERT_EQ(applier::apply(s.site, bundle(b, "1.0.0", kItems), quiet_env())->outcome, Outcome::applied);
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  // The database moved on by a migration the snapshot does not have.
  ASSERT_EQ(pg_admin_exec(s.dbname, "INSERT INTO _airlock_migrations(id, release) VALUES ('0002_x', '1.1.0')"), "");

  auto refused = applier::snapshot_restore(s.site, snap->id, applier::Force::no, quiet_env());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cls(), ErrorClass::usage);
  EXPECT_NE(refused.error().what().find("schema version"), std::string::npos) << refused.error().what();
  EXPECT_NE(refused.error().what().find("--force"), std::string::npos) << refused.error().what();
  EXPECT_EQ(pg_admin_query(s.dbname, "SELECT count(*) FROM _airlock_migrations"), "2");

  auto forced = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  ASSERT_TRUE(forced) << forced.error().what();
  EXPECT_EQ(pg_admin_query(s.dbname, "SELECT count(*) FROM _airlock_migrations"), "1");
}

// A snapshot taken while the database held a migration its release does not list (one recorded
// outside a release) would put back release 1.0.0 with a schema 1.0.0 never had: refused without
// --force even though the database equals the snapshot; a snapshot that fits its release restores.
TEST(PgApply, SnapshotRestoreRefusesASchemaVersionItsReleaseDoesNotExpect) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("restore_release");
  ASSERT_EQ(applier::apply(s.site, bundle(b, "1.0.0", kItems), quiet_env())->outcome, Outcome::applied);
  auto fits = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(fits) << fits.error().what();
  auto fine = applier::snapshot_restore(s.site, fits->id, applier::Force::no, quiet_env());
  ASSERT_TRUE(fine) << fine.error().what();

  ASSERT_EQ(pg_admin_exec(s.dbname, "INSERT INTO _airlock_migrations(id, release) VALUES ('0002_x', 'manual')"), "");
  auto odd = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(odd) << odd.error().what();
  auto refused = applier::snapshot_restore(s.site, odd->id, applier::Force::no, quiet_env());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cls(), ErrorClass::usage);
  const std::string why = refused.error().what();
  EXPECT_NE(why.find("schema version 2 (last migration '0002_x')"), std::string::npos) << why;
  EXPECT_NE(why.find("release 1.0.0 expects 1 (last migration '0001_items')"), std::string::npos) << why;
  EXPECT_NE(why.find("--force"), std::string::npos) << why;

  auto forced = applier::snapshot_restore(s.site, odd->id, applier::Force::yes, quiet_env());
  ASSERT_TRUE(forced) << forced.error().what();
  EXPECT_EQ(pg_admin_query(s.dbname, "SELECT string_agg(id, ',' ORDER BY seq) FROM _airlock_migrations"),
            "0001_items,0002_x");
}

// The write test of a `postgres` check: a migration that takes the right to write away from the
// site's role fails it, and the automatic rollback reverses that migration.
TEST(PgApply, APostgresCheckFailsWhenWritesAreRevokedAndTheRollbackReversesIt) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("health_write");
  std::string toml = slurp(s.site);
  spit(s.site, toml + "\n[[checks]]\nname = \"writable\"\nkind = \"postgres\"\ndatabase = \"main\"\nwithin = \"2s\"\n");
  const std::string revoke =
      "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, CURRENT_USER', current_database()); "
      "END $$;\n";
  const std::string grant =
      "DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC, CURRENT_USER', current_database()); "
      "END $$;\n";
  TempDir r;
  auto files = kFiles;
  files["m/revoke.sql"] = revoke;
  files["m/grant.sql"] = grant;
  const std::string pg = "[databases.main]\nkind = \"postgres\"\n";
  auto v1 = build_bundle(write_recipe(r, "r1", "", "1.0.0", pg + kItems, files), (r / "v1.tar.zst").string());
  const std::string body = pg + kItems +
                           "[[migrations]]\nid = \"0002_revoke\"\ndatabase = \"main\"\nup = \"m/revoke.sql\"\n"
                           "down = \"m/grant.sql\"\n";
  auto v2 = build_bundle(write_recipe(r, "r2", "", "1.1.0", body, files), (r / "v2.tar.zst").string());

  auto first = applier::apply(s.site, v1, quiet_env());
  ASSERT_TRUE(first) << first.error().what();
  ASSERT_EQ(first->outcome, Outcome::applied);
  auto second = applier::apply(s.site, v2, quiet_env());
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_EQ(second->outcome, Outcome::rolled_back);
  bool named = false;
  for (const auto& sig : second->failing_signals) named = named || sig.find("writable") != std::string::npos;
  EXPECT_TRUE(named) << "the write check decided the rollback";
  EXPECT_EQ(pg_admin_query(s.dbname, "SELECT has_database_privilege('airlock_app', current_database(), 'TEMP')"), "t")
      << "the reverse migration gave the right back";
  EXPECT_EQ(s.items(), "a,b,c");
}

// Everything the SQL of one SQLite database shows of it, as text: schema, rows and bookkeeping.
std::string sqlite_picture(const std::string& path) {
  auto d = db::Database::open(path, db::OpenMode::read_only);
  if (!d) return "unreadable: " + d.error().what();
  std::string out;
  for (const char* sql :
       {"SELECT group_concat(name || '=' || coalesce(sql, ''), '|') FROM (SELECT * FROM sqlite_schema ORDER BY name)",
        "SELECT group_concat(id || ':' || body || ':' || typeof(body), ',') FROM (SELECT * FROM notes ORDER BY id)",
        "SELECT group_concat(id, ',') FROM (SELECT id FROM _airlock_migrations ORDER BY id)", "PRAGMA user_version"}) {
    auto rows = d->query(sql);
    if (!rows) return "error: " + rows.error().what();
    const auto& v = (*rows)[0][0];
    out += (std::holds_alternative<std::string>(v)    ? std::get<std::string>(v)
            : std::holds_alternative<std::int64_t>(v) ? std::to_string(std::get<std::int64_t>(v))
                                                      : std::string("null")) +
           "\n";
  }
  return out;
}

// Everything the SQL of the PostgreSQL database shows of it: every column, the rows, the bookkeeping.
std::string pg_picture(const std::string& dbname) {
  return pg_admin_query(dbname,
                        "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY "
                        "table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'") +
         "\n" + pg_admin_query(dbname, "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items") + "\n" +
         pg_admin_query(dbname, "SELECT string_agg(id, ',' ORDER BY seq) FROM _airlock_migrations");
}

// One site, two databases of two kinds, one release migrating both: the hard check fails, and the
// automatic rollback puts both back exactly as they were (the SQLite one by its reverse migration,
// the PostgreSQL one, whose reverse leaves it unhealthy, from the snapshot).
TEST(PgApply, ASiteWithSqliteAndPostgresRollsBackBothAsOneUnit) {
  AIRLOCK_NEED_PG();
  TempDir b;
  PgSite s("mixed");
  const std::string local = (s.dir / "local.db").string();
  std::string toml = slurp(s.site);
  toml.replace(toml.find("[databases.main]"), 0, "[databases]\nlocal = \"local.db\"\n\n");
  spit(s.site, toml +
                   "\n[[checks]]\nname = \"notes\"\nkind = \"sqlite\"\ndatabase = \"local\"\n"
                   "query = \"SELECT count(*) FROM notes\"\nexpect = 2\n");
  auto files = kFiles;
  files["m/notes_up.sql"] =
      "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO notes VALUES (1, 'x'), (2, 'y');\n";
  files["m/notes_down.sql"] = "DROP TABLE notes;\n";
  files["m/tag_up.sql"] = "ALTER TABLE notes ADD COLUMN tag TEXT;\nUPDATE notes SET tag = 't';\n";
  files["m/tag_down.sql"] = "ALTER TABLE notes DROP COLUMN tag;\n";
  const std::string notes =
      "[[migrations]]\nid = \"0001_notes\"\ndatabase = \"local\"\nup = \"m/notes_up.sql\"\ndown = "
      "\"m/notes_down.sql\"\n";
  const std::string tag =
      "[[migrations]]\nid = \"0002_tag\"\ndatabase = \"local\"\nup = \"m/tag_up.sql\"\ndown = \"m/tag_down.sql\"\n";
  auto v1 =
      build_bundle(write_recipe(b, "m1", "", "1.0.0", std::string(kItems) + notes, files), (b / "m1.tar.zst").string());
  auto v2 = build_bundle(write_recipe(b, "m2", "", "1.1.0", std::string(kItems) + notes + kLose + tag, files),
                         (b / "m2.tar.zst").string());

  auto first = applier::apply(s.site, v1, quiet_env());
  ASSERT_TRUE(first) << first.error().what();
  ASSERT_EQ(first->outcome, Outcome::applied);
  const std::string sqlite_before = sqlite_picture(local), pg_before = pg_picture(s.dbname);
  ASSERT_NE(sqlite_before.find("1:x:text"), std::string::npos) << sqlite_before;
  ASSERT_EQ(pg_before.substr(pg_before.find('\n') + 1), "1:a,2:b,3:c\n0001_items");

  auto second = applier::apply(s.site, v2, quiet_env());
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_EQ(second->outcome, Outcome::rolled_back);
  bool items = false;
  for (const auto& sig : second->failing_signals) items = items || sig.find("items") != std::string::npos;
  EXPECT_TRUE(items) << "the check on the PostgreSQL database decided the rollback";
  EXPECT_EQ(sqlite_picture(local), sqlite_before);
  EXPECT_EQ(pg_picture(s.dbname), pg_before);
  EXPECT_FALSE(s.has("added")) << "the table the failed release added does not survive";
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->installed, "1.0.0");
}

// Killed (_exit at a crash point, in a forked child: its connection dies with it) while the
// migrations of a Postgres database run, or just after: `recover` leaves the database exactly as
// before the apply or exactly as after it, and a second recover changes nothing.
TEST(PgApply, ACrashDuringPostgresMigrationsConvergesToOldOrNew) {
  AIRLOCK_NEED_PG();
  TempDir b;
  auto files = kFiles;
  files["m/a_up.sql"] = "CREATE TABLE a(x INTEGER);\nINSERT INTO a VALUES (1);\n";
  files["m/a_down.sql"] = "DROP TABLE a;\n";
  files["m/b_up.sql"] = "ALTER TABLE items ADD COLUMN note TEXT;\nUPDATE items SET note = 'n';\n";
  files["m/b_down.sql"] = "ALTER TABLE items DROP COLUMN note;\n";
  const std::string two =
      "[[migrations]]\nid = \"0002_a\"\ndatabase = \"main\"\nup = \"m/a_up.sql\"\ndown = \"m/a_down.sql\"\n"
      "[[migrations]]\nid = \"0003_b\"\ndatabase = \"main\"\nup = \"m/b_up.sql\"\ndown = \"m/b_down.sql\"\n";
  auto v1 = build_bundle(write_recipe(b, "c1", "", "1.0.0", kItems, files), (b / "c1.tar.zst").string());
  auto v2 =
      build_bundle(write_recipe(b, "c2", "", "1.1.0", std::string(kItems) + two, files), (b / "c2.tar.zst").string());
  auto observable = [](const std::string& dbname) {
    return pg_admin_query(dbname,
                          "SELECT string_agg(table_name || ':' || column_name, ',' ORDER BY table_name, "
                          "column_name) FROM information_schema.columns WHERE table_schema = 'public'") +
           "|" + pg_admin_query(dbname, "SELECT string_agg(id, ',' ORDER BY seq) FROM _airlock_migrations") + "|" +
           pg_admin_query(dbname, "SELECT string_agg(name, ',' ORDER BY id) FROM items");
  };
  std::string before, after;
  {
    PgSite ref("crash_ref");
    ASSERT_EQ(applier::apply(ref.site, v1, quiet_env())->outcome, Outcome::applied);
    before = observable(ref.dbname);
    ASSERT_EQ(applier::apply(ref.site, v2, quiet_env())->outcome, Outcome::applied);
    after = observable(ref.dbname);
  }
  ASSERT_NE(before, after);
  for (const std::string point : {"mid_migrations", "after_migrations"}) {
    PgSite s("crash_" + point);
    ASSERT_EQ(applier::apply(s.site, v1, quiet_env())->outcome, Outcome::applied);
    int code = in_child(point, [&] { return bool(applier::apply(s.site, v2, quiet_env())); });
    ASSERT_EQ(code, 99) << point << ": the crash point was not reached";
    auto rec = applier::recover(s.site, quiet_env());
    ASSERT_TRUE(rec) << point << ": " << rec.error().what();
    const std::string got = observable(s.dbname);
    EXPECT_TRUE(got == before || got == after) << point << ": " << got;
    auto again = applier::recover(s.site, quiet_env());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->outcome, Outcome::nothing_to_do) << point;
    EXPECT_EQ(observable(s.dbname), got) << point;
  }
}

}  // namespace
}  // namespace airlock::test

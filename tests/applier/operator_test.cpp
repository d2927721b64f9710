// Operator commands and the second rollback path: manual rollback (and its rollback_to floor),
// snapshot create/list/restore guards, the audit chain under tampering, and an irreversible
// migration undone by restoring the snapshot.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "tests/applier/crafted_bundle.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

// 1.2.0 variants built from the example's files: healthy for a site whose check does not query
// `items`, optionally with a rollback_to marker, or with an irreversible migration.
std::string variant(const TempDir& dir, const std::string& name, const std::string& release_extra,
                    const std::string& migration) {
  std::string recipe = write_recipe(dir, name, release_extra + "min_installed = \"1.1.0\"\n", "1.2.0", migration,
                                    {{"m/up.sql", "ALTER TABLE items RENAME TO items_v2;\n"},
                                     {"m/down.sql", "ALTER TABLE items_v2 RENAME TO items;\n"},
                                     {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
  return build_bundle(recipe, (dir / (name + ".tar.zst")).string());
}

const char* kReversible =
    "[[migrations]]\nid = \"0003_rename\"\ndatabase = \"main\"\nup = \"m/up.sql\"\ndown = \"m/down.sql\"\n"
    "fixture = \"m/main.sql\"\n";
const char* kIrreversible =
    "[[migrations]]\nid = \"0003_rename\"\ndatabase = \"main\"\nup = \"m/up.sql\"\nirreversible = true\n"
    "fixture = \"m/main.sql\"\n";

const char* kNoItemsCheck = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";

TEST(Operator, ManualRollbackToThePreviousRelease) {
  TempDir b;
  std::string v120 = variant(b, "ok", "", kReversible);
  SiteDir s(kNoItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string topo_110 = slurp(s.topology);
  auto up = applier::apply(s.site, v120, quiet_env());
  ASSERT_TRUE(up) << up.error().what();
  ASSERT_EQ(up->outcome, Outcome::applied);
  EXPECT_EQ(s.pointer(), "releases/1.2.0");
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::reverted);
  EXPECT_EQ(r->to_version, "1.1.0");
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  EXPECT_TRUE(d->query("SELECT count(*) FROM items")) << "the reverse migration ran";
  EXPECT_EQ(slurp(s.topology), topo_110);
  EXPECT_EQ(applier::history(s.site)->back().outcome, "reverted");
  // Nothing before 1.1.0: a second rollback is refused.
  auto again = applier::rollback(s.site, quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::usage);
}

TEST(Operator, ManualRollbackKilledMidwayIsUndoneByRecover) {
  TempDir b;
  std::string v120 = variant(b, "ok", "", kReversible);
  for (const char* point : {"mid_rollback", "after_rollback"}) {
    SiteDir s(kNoItemsCheck);
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
    ASSERT_TRUE(applier::apply(s.site, v120, quiet_env()));
    std::string before = s.observable();
    ASSERT_EQ(in_child(point, [&] { return bool(applier::rollback(s.site, quiet_env())); }), 99) << point;
    auto rec = applier::recover(s.site, quiet_env());
    ASSERT_TRUE(rec) << rec.error().what();
    EXPECT_EQ(s.observable(), before) << point;  // back on 1.2.0, exactly
    EXPECT_EQ(applier::status(s.site)->installed, "1.2.0");
    EXPECT_TRUE(s.integrity_ok());
    // And the rollback can then be done for real.
    auto r = applier::rollback(s.site, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  }
}

TEST(Operator, ManualRollbackNeverBelowTheMarker) {
  TempDir b;
  std::string v120 = variant(b, "marked", "rollback_to = \"1.2.0\"\n", kReversible);
  SiteDir s(kNoItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  ASSERT_TRUE(applier::apply(s.site, v120, quiet_env()));
  std::string before = s.observable();
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy);
  EXPECT_NE(r.error().what().find("1.2.0"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

TEST(Operator, IrreversibleMigrationIsUndoneFromTheSnapshot) {
  TempDir b;
  std::string v120 = variant(b, "irrev", "rollback_to = \"1.2.0\"\n", kIrreversible);
  SiteDir s;  // the items check fails once the table is renamed
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string before = s.observable();
  auto r = applier::apply(s.site, v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  // Restored from the snapshot, byte for byte: the dump equals the one before.
  EXPECT_EQ(s.observable(), before);
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Operator, SnapshotRestoreGuards) {
  SiteDir s(kNoItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  std::string before = s.observable();
  std::string topo = slurp(s.topology);
  auto list = applier::snapshot_list(s.site);
  ASSERT_TRUE(list);
  bool found = false;
  for (const auto& i : *list) found |= i.id == snap->id && i.sealed && i.release == "1.1.0";
  EXPECT_TRUE(found);
  // Identical targets: restoring is allowed (and changes nothing).
  ASSERT_TRUE(applier::snapshot_restore(s.site, snap->id, applier::Force::no, quiet_env()));
  EXPECT_EQ(s.observable(), before);
  // A changed config file is not overwritten without --force.
  spit(s.topology, "mode = \"edited\"\n");
  auto r = applier::snapshot_restore(s.site, snap->id, applier::Force::no, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("--force"), std::string::npos);
  EXPECT_EQ(slurp(s.topology), "mode = \"edited\"\n");
  // A database whose schema version moved on is refused, naming both versions.
  spit(s.topology, topo);
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("PRAGMA user_version = 5"));
  }
  r = applier::snapshot_restore(s.site, snap->id, applier::Force::no, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("user_version"), std::string::npos) << r.error().what();
  ASSERT_TRUE(applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env()));
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(applier::history(s.site)->back().outcome, "restored");
  // A snapshot whose files were altered is not sealed any more.
  spit(s.state + "/snapshots/" + snap->id + "/config-topology", "tampered");
  r = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(s.observable(), before);
}

TEST(Operator, SignedMigrationThatAttachesIsRefusedAndTheSiteStaysOld) {
  TempDir b;
  std::string recipe = write_recipe(
      b, "attach", "min_installed = \"1.1.0\"\n", "1.2.0",
      "[[migrations]]\nid = \"0003_sneaky\"\ndatabase = \"main\"\nup = \"m/up.sql\"\ndown = \"m/down.sql\"\n",
      {{"m/up.sql", "CREATE TABLE t2(a);\nATTACH DATABASE ':memory:' AS x;\nDETACH DATABASE x;\n"},
       {"m/down.sql", "DROP TABLE t2;\n"}});
  // The build refuses it (the same sandbox); a bundle signed by hand reaches the site.
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.keys = {demo_key()};
  req.out_path = (b / "attach.tar.zst").string();
  auto built = bundler::build(req);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().cls(), ErrorClass::build_refused) << built.error().what();
  auto bundle = crafted_migration_bundle(b, "1.2.0", "0003_sneaky", slurp(b / "attach/m/up.sql"),
                                         slurp(b / "attach/m/down.sql"), "1.1.0");
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundle, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals[0].find("ATTACH"), std::string::npos) << r->failing_signals[0];
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  EXPECT_FALSE(d->query("SELECT * FROM t2"));
}

TEST(Operator, SnapshotRestoreKilledMidwayIsUndoneByRecover) {
  SiteDir s(kNoItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap);
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("INSERT INTO items(name) VALUES ('later')"));
  }
  spit(s.topology, "mode = \"edited later\"\n");
  std::string before = s.observable();
  // The restore dies while putting the items back.
  ASSERT_EQ(
      in_child("recover_mid_restore",
               [&] { return bool(applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env())); }),
      99);
  auto rec = applier::recover(s.site, quiet_env());
  ASSERT_TRUE(rec) << rec.error().what();
  EXPECT_EQ(s.observable(), before);  // not a mix: exactly as before the restore
  EXPECT_TRUE(s.integrity_ok());
}

// A trust root that trusts demo-hq and demo-hq2 (threshold 1), for the rotation tests.
std::string rotated_root() {
  std::string pub2 = slurp(repo("keys/demo-hq2.pub"));
  std::string b64 = pub2.substr(pub2.find('\n') + 1);
  b64 = b64.substr(0, b64.find('\n'));
  std::string root = slurp(repo("keys/trust.toml"));
  root.replace(root.find("threshold = 1"), 13, "serial = 1\nthreshold = 1");  // newer than the site's
  return root + "\n[[keys]]\nname = \"demo-hq2\"\npublic_key = \"" + b64 + "\"\n";
}

TEST(Operator, TrustUpdateIsInstalledOnlyByAHealthyApply) {
  TempDir b;
  std::string next = rotated_root();
  auto make = [&](const std::string& name, const std::string& up_sql, const std::string& down_sql) {
    std::string recipe =
        write_recipe(b, name, "min_installed = \"1.1.0\"\n", "1.2.0",
                     "[[migrations]]\nid = \"0003_x\"\ndatabase = \"main\"\nup = \"m/up.sql\"\ndown = \"m/down.sql\"\n"
                     "fixture = \"m/main.sql\"\n[trust_update]\npath = \"t/next.toml\"\n",
                     {{"m/up.sql", up_sql},
                      {"m/down.sql", down_sql},
                      {"t/next.toml", next},
                      {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
    return build_bundle(recipe, (b / (name + ".tar.zst")).string());
  };
  std::string good = make("good", "CREATE TABLE extra(a);\n", "DROP TABLE extra;\n");
  std::string bad = make("bad", "CREATE TABLE extra(a);\nALTER TABLE items RENAME TO gone;\n",
                         "ALTER TABLE gone RENAME TO items;\nDROP TABLE extra;\n");

  SiteDir failing;
  ASSERT_TRUE(applier::apply(failing.site, bundles().v110, quiet_env()));
  std::string root_before = slurp(failing.dir / "trust.toml");
  auto r = applier::apply(failing.site, bad, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(slurp(failing.dir / "trust.toml"), root_before);

  SiteDir healthy;
  ASSERT_TRUE(applier::apply(healthy.site, bundles().v110, quiet_env()));
  r = applier::apply(healthy.site, good, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  EXPECT_EQ(slurp(healthy.dir / "trust.toml"), next);
}

TEST(Operator, DataLossTheReverseCannotUndoFallsBackToTheSnapshot) {
  TempDir b;
  std::string recipe = write_recipe(
      b, "lossy", "min_installed = \"1.1.0\"\n", "1.2.0",
      "[[migrations]]\nid = \"0003_lossy\"\ndatabase = \"main\"\nup = \"m/up.sql\"\ndown = \"m/down.sql\"\n"
      "fixture = \"m/main.sql\"\n",
      {{"m/up.sql", "CREATE TABLE extra(a);\nDELETE FROM items WHERE id = 1;\n"},
       {"m/down.sql", "DROP TABLE extra;\n"},
       {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
  std::string bundle = build_bundle(recipe, (b / "lossy.tar.zst").string());
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundle, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(s.observable(), before);  // the deleted row is back: restored from the snapshot
}

class AuditTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
    ASSERT_TRUE(applier::apply(s.site, bundles().v120, quiet_env()));
    ASSERT_TRUE(applier::snapshot_create(s.site, quiet_env()));
    auto ok = applier::audit_verify(s.site);
    ASSERT_TRUE(ok) << ok.error().what();
    ASSERT_EQ(ok->entries.size(), 3u);
    head = ok->head;
  }
  void tamper(const std::string& sql) {
    auto d = db::Database::open(s.state + "/state.db", db::OpenMode::read_write);
    ASSERT_TRUE(d->exec(sql));
  }
  void expect_broken() {
    auto r = applier::audit_verify(s.site);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().cls(), ErrorClass::audit_broken) << r.error().what();
  }
  SiteDir s;
  std::string head;
};

TEST_F(AuditTamper, EditedEntry) {
  tamper("UPDATE audit SET data = replace(data, 'rolled_back', 'applied') WHERE seq = 2");
  expect_broken();
}
TEST_F(AuditTamper, RemovedEntry) {
  tamper("DELETE FROM audit WHERE seq = 2");
  expect_broken();
}
TEST_F(AuditTamper, ReorderedEntries) {
  tamper(
      "UPDATE audit SET seq = -seq WHERE seq IN (1, 2); UPDATE audit SET seq = 2 WHERE seq = -1; "
      "UPDATE audit SET seq = 1 WHERE seq = -2");
  expect_broken();
}
TEST_F(AuditTamper, TruncatedTailIsCaughtByTheHeadRecord) {
  tamper("DELETE FROM audit WHERE seq = 3");  // a clean prefix is a valid chain ...
  expect_broken();                            // ... but not the head the site recorded
}

}  // namespace
}  // namespace airlock::test

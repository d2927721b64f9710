// The site's release history: a rollback reverses exactly what the release being left applied
// (never a migration an earlier release owns), the installed release is never applied twice,
// a snapshot restore rewinds the history with the files, and a damaged run record is reported
// (and recoverable) instead of stopping every command.
#include <gtest/gtest.h>

#include <stdexcept>

#include "applier/applier.hpp"
#include "applier/lock.hpp"
#include "tests/applier/fixture.hpp"
#include "tests/support/craft.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

// Full releases of "demo": release n lists migrations 0001..000n (a full release re-lists what the
// releases before it applied, so a fresh site can install it). 0001 creates table a with two
// rows, 0002 table b, 0003 table c. Each release names its own image.
struct Releases {
  TempDir dir;
  std::string build(const std::string& version, int migrations) {
    static const char* kTables[] = {"a", "b", "c"};
    std::string body = "[[images]]\nref = \"registry.example.org/demo/api:" + version +
                       "\"\ndigest = \"sha256:" + std::string(64, static_cast<char>('0' + migrations)) + "\"\n";
    std::map<std::string, std::string> files;
    for (int i = 0; i < migrations; ++i) {
      std::string t = kTables[i];
      std::string id = "000" + std::to_string(i + 1) + "_" + t;
      body += "[[migrations]]\nid = \"" + id + "\"\ndatabase = \"main\"\nup = \"m/" + id + ".up.sql\"\ndown = \"m/" +
              id + ".down.sql\"\n";
      std::string up = "CREATE TABLE " + t + " (id INTEGER PRIMARY KEY, v TEXT);\n";
      if (i == 0) up += "INSERT INTO a VALUES (1, 'x'), (2, 'y');\n";
      files["m/" + id + ".up.sql"] = up;
      files["m/" + id + ".down.sql"] = "DROP TABLE " + t + ";\n";
    }
    std::string recipe = write_recipe(dir, "r" + version, "", version, body, files);
    return build_bundle(recipe, (dir / ("demo-" + version + ".tar.zst")).string());
  }
};

const char* kAlwaysHealthy = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";
// Fails once table b exists: 1.1.0 is the bad release.
const char* kNoTableB =
    "[[checks]]\nname = \"no_b\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
    "query = \"SELECT count(*) FROM sqlite_master WHERE name = 'b'\"\nexpect = 0\ntimeout = \"5s\"\n";

void add_user_row(const SiteDir& s) {
  auto d = db::Database::open(s.db, db::OpenMode::read_write);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->exec("INSERT INTO a VALUES (3, 'written by the users of 1.0.0')"));
}

bool has_table(const SiteDir& s, const std::string& t) {
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  auto r = d->query("SELECT count(*) FROM sqlite_master WHERE name = ?", {t});
  return r && std::get<std::int64_t>((*r)[0][0]) == 1;
}

std::int64_t rows_of_a(const SiteDir& s) {
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  auto r = d->query("SELECT count(*) FROM a");
  return r ? std::get<std::int64_t>((*r)[0][0]) : -1;
}

TEST(ReleaseHistory, AutoRollbackKeepsTheMigrationsOfTheReleaseBefore) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
  SiteDir s(kNoTableB);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  add_user_row(s);
  std::string before = s.observable();
  auto r = applier::apply(s.site, v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(rows_of_a(s), 3) << "1.0.0's table and its rows survive the rollback of 1.1.0";
  EXPECT_FALSE(has_table(s, "b"));
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(applier::status(s.site)->installed, "1.0.0");
}

TEST(ReleaseHistory, ManualRollbackKeepsTheMigrationsOfTheReleaseBefore) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  add_user_row(s);
  std::string before = s.observable();
  auto up = applier::apply(s.site, v110, quiet_env());
  ASSERT_TRUE(up) << up.error().what();
  ASSERT_EQ(up->outcome, Outcome::applied);
  ASSERT_TRUE(has_table(s, "b"));
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->to_version, "1.0.0");
  EXPECT_EQ(rows_of_a(s), 3) << "1.0.0's table and its rows survive the manual rollback of 1.1.0";
  EXPECT_FALSE(has_table(s, "b"));
  EXPECT_EQ(s.observable(), before);
}

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) ++n;
  return n;
}

TEST(ReleaseHistory, ReapplyingTheInstalledReleaseIsRefusedBeforeAnythingIsTouched) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  add_user_row(s);
  std::string before = s.observable();
  std::size_t payload = count_entries(s.state + "/releases/1.0.0");
  std::size_t snapshots = count_entries(s.state + "/snapshots");
  auto r = applier::apply(s.site, v100, quiet_env());
  ASSERT_FALSE(r) << "re-applying the installed release was accepted";
  EXPECT_EQ(r.error().cls(), ErrorClass::policy);
  EXPECT_NE(r.error().what().find("already installed"), std::string::npos) << r.error().what();
  EXPECT_EQ(count_entries(s.state + "/releases/1.0.0"), payload);
  EXPECT_EQ(count_entries(s.state + "/snapshots"), snapshots);
  EXPECT_EQ(s.observable(), before);
  // The refusal is recorded with the version it refused.
  auto h = applier::history(s.site);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->back().outcome, "aborted");
  EXPECT_EQ(h->back().to_version, "1.0.0");
  // And a rollback afterwards still has nothing to go back to.
  auto back = applier::rollback(s.site, quiet_env());
  EXPECT_FALSE(back);
  EXPECT_EQ(rows_of_a(s), 3);
}

// A bundle the verifier's policy refuses (here a downgrade) is recorded with the version it
// refused, not as "(nothing)".
TEST(ReleaseHistory, PolicyRefusalIsRecordedWithTheRefusedVersion) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1);
  std::string v110 = rel.build("1.1.0", 2);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v110, quiet_env()));
  auto r = applier::apply(s.site, v100, quiet_env());
  ASSERT_FALSE(r) << "a downgrade was accepted";
  EXPECT_EQ(r.error().cls(), ErrorClass::policy);
  auto h = applier::history(s.site);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->back().outcome, "aborted");
  EXPECT_EQ(h->back().from_version, "1.1.0");
  EXPECT_EQ(h->back().to_version, "1.0.0");
}

TEST(ReleaseHistory, SnapshotRestoreRewindsTheReleaseHistory) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2), v120 = rel.build("1.2.0", 3);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  add_user_row(s);
  std::string on_100 = s.observable();
  ASSERT_TRUE(applier::apply(s.site, v110, quiet_env()));
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  auto up = applier::apply(s.site, v120, quiet_env());
  ASSERT_TRUE(up) << up.error().what();
  ASSERT_EQ(up->outcome, Outcome::applied);
  ASSERT_TRUE(has_table(s, "c"));

  auto restored = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  ASSERT_TRUE(restored) << restored.error().what();
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->installed, "1.1.0");
  EXPECT_EQ(st->pointer, "releases/1.1.0");
  ASSERT_EQ(st->images.size(), 1u);
  EXPECT_NE(st->images[0].find("api:1.1.0@"), std::string::npos) << st->images[0];
  EXPECT_FALSE(has_table(s, "c"));
  EXPECT_TRUE(has_table(s, "b"));

  // The rollback now leaves 1.1.0 (not 1.2.0) for 1.0.0, reversing 1.1.0's migration only.
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->from_version, "1.1.0");
  EXPECT_EQ(r->to_version, "1.0.0");
  EXPECT_EQ(applier::status(s.site)->installed, "1.0.0");
  EXPECT_EQ(s.observable(), on_100);
  EXPECT_EQ(rows_of_a(s), 3);
  // Nothing before 1.0.0.
  auto again = applier::rollback(s.site, quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::usage);
}

// Writes `sql` into the site's state.db directly (what a damaged disk or a hand edit leaves).
void poke_state(const SiteDir& s, const std::string& sql) {
  auto d = db::Database::open(s.state + "/state.db", db::OpenMode::read_write);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->exec(sql));
}

// A crashed apply of 1.1.0 after its migrations, with the run record then damaged by `damage`.
struct DamagedRun {
  Releases rel;
  SiteDir s{kAlwaysHealthy};
  std::string on_100;
  explicit DamagedRun(const std::string& damage) {
    std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
    EXPECT_TRUE(applier::apply(s.site, v100, quiet_env()));
    add_user_row(s);
    on_100 = s.observable();
    EXPECT_EQ(in_child("after_migrations", [&] { return bool(applier::apply(s.site, v110, quiet_env())); }), 99);
    poke_state(s, damage);
  }
};

TEST(ReleaseHistory, DamagedRunRecordIsReportedAndRecoverRestoresTheSnapshot) {
  for (const char* damage :
       {"UPDATE run SET phase = 42", "UPDATE run SET started_at = x'00ff'", "UPDATE run SET kind = x'6170706c79'",
        "UPDATE run SET data = '{\"baseline\": 5}'", "UPDATE run SET data = '[1, 2]'"}) {
    DamagedRun d(damage);
    auto a = applier::apply(d.s.site, d.rel.build("1.1.0", 2), quiet_env());
    ASSERT_FALSE(a) << damage;
    EXPECT_EQ(a.error().cls(), ErrorClass::io) << damage << ": " << a.error().what();
    EXPECT_NE(a.error().what().find("run record"), std::string::npos) << a.error().what();
    auto rb = applier::rollback(d.s.site, quiet_env());
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().cls(), ErrorClass::io) << damage;
    auto st = applier::status(d.s.site);
    ASSERT_TRUE(st) << st.error().what();
    ASSERT_TRUE(st->pending_phase);

    auto rec = applier::recover(d.s.site, quiet_env());
    ASSERT_TRUE(rec) << damage << ": " << rec.error().what();
    EXPECT_EQ(rec->outcome, Outcome::recovered_old) << damage;
    EXPECT_EQ(d.s.observable(), d.on_100) << damage;
    EXPECT_EQ(applier::status(d.s.site)->installed, "1.0.0");
    EXPECT_FALSE(applier::status(d.s.site)->pending_phase);
    EXPECT_EQ(applier::history(d.s.site)->back().outcome, "recovered_old");
    EXPECT_TRUE(applier::apply(d.s.site, d.rel.build("1.1.0", 2), quiet_env())) << damage;
  }
}

TEST(ReleaseHistory, DamagedSnapshotIdLeavesSnapshotRestoreForceWorking) {
  DamagedRun d("UPDATE run SET snapshot_id = x'3137'");
  auto rec = applier::recover(d.s.site, quiet_env());
  ASSERT_FALSE(rec);
  EXPECT_EQ(rec.error().cls(), ErrorClass::io) << rec.error().what();
  EXPECT_NE(rec.error().what().find("snapshot_id"), std::string::npos) << rec.error().what();
  // The snapshot the crashed apply took before 1.1.0 holds 1.0.0.
  auto list = applier::snapshot_list(d.s.site);
  ASSERT_TRUE(list);
  std::string id;
  for (const auto& i : *list)
    if (i.release == "1.0.0") id = i.id;
  ASSERT_FALSE(id.empty());
  auto r = applier::snapshot_restore(d.s.site, id, applier::Force::yes, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(d.s.observable(), d.on_100);
  auto st = applier::status(d.s.site);
  EXPECT_EQ(st->installed, "1.0.0");
  EXPECT_FALSE(st->pending_phase);
  auto h = applier::history(d.s.site);
  ASSERT_GE(h->size(), 2u);
  EXPECT_EQ((*h)[h->size() - 2].outcome, "discarded");
  EXPECT_TRUE(applier::audit_verify(d.s.site));
}

}  // namespace
}  // namespace airlock::test

namespace airlock::test {
namespace {

// A bundle whose payload carries a file named like airlock's own copy of the manifest, used as the
// down of its migration: it must reach the site as signed, and the reverse must run it.
TEST(ReleaseHistory, PayloadFileNamedLikeTheKeptManifestIsKept) {
  craft::Key k = craft::make_key("hq");
  craft::BundleSpec spec;
  spec.product = "demo";
  spec.version = "1.0.0";
  spec.files = {{"notes/en.md", "# 1.0.0\n", false},
                {"migrations/up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n", false},
                {".airlock-manifest.toml", "DROP TABLE a;\n", false}};
  spec.extra_toml =
      "\n[[migrations]]\nid = \"0001_a\"\ndatabase = \"main\"\nup = \"migrations/up.sql\"\n"
      "down = \".airlock-manifest.toml\"\n";
  TempDir b;
  craft::good_bundle(spec, {&k}).write(b / "demo.tar.zst");
  // Fails once table a exists: the first install is rolled back by its reverse migration.
  SiteDir s(
      "[[checks]]\nname = \"no_a\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
      "query = \"SELECT count(*) FROM sqlite_master WHERE name = 'a'\"\nexpect = 0\ntimeout = \"5s\"\n");
  spit(s.dir / "trust.toml", craft::trust_toml(craft::trust_root({craft::trust_key(k)})));
  std::vector<std::string> events;
  std::string kept;  // the payload file as the site holds it once the release is applied
  auto env = quiet_env();
  env.events = [&](const applier::SiteEvent& e) {
    events.push_back(e.message);
    if (e.message == "phase check") kept = slurp(s.state + "/releases/1.0.0/.airlock-manifest.toml");
  };
  auto r = applier::apply(s.site, (b / "demo.tar.zst").string(), env);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(kept, "DROP TABLE a;\n");
  EXPECT_NE(std::find(events.begin(), events.end(), "reversed migration 0001_a"), events.end())
      << "the reverse ran the payload's file, not airlock's manifest text";
  EXPECT_FALSE(has_table(s, "a"));
}

// An exception thrown inside a phase (here by the event sink while the apply phase reports a
// migration) is that phase's failure: the run rolls back like any failed apply.
TEST(ReleaseHistory, ExceptionInsideAPhaseIsThatPhasesFailure) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  add_user_row(s);
  std::string before = s.observable();
  auto env = quiet_env();
  env.events = [](const applier::SiteEvent& e) {
    if (e.message.rfind("migration 0002_b", 0) == 0) throw std::runtime_error("sink failed");
  };
  Result<applier::RunReport> r = fail(ErrorClass::internal, "not run");
  ASSERT_NO_THROW(r = applier::apply(s.site, v110, env));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(s.observable(), before);
  EXPECT_FALSE(applier::status(s.site)->pending_phase);
  EXPECT_EQ(applier::history(s.site)->back().outcome, "rolled_back");
}

TEST(ReleaseHistory, RefusedRollbackAndRestoreAreRecorded) {
  Releases rel;
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, rel.build("1.0.0", 1), quiet_env()));
  auto before = applier::audit_export(s.site)->entries.size();
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_FALSE(r);
  auto h = applier::history(s.site);
  EXPECT_EQ(h->back().outcome, "refused");
  EXPECT_NE(h->back().detail.find("no previous release"), std::string::npos) << h->back().detail;
  auto x = applier::snapshot_restore(s.site, "no-such-snapshot", applier::Force::no, quiet_env());
  ASSERT_FALSE(x);
  h = applier::history(s.site);
  EXPECT_EQ(h->back().outcome, "refused");
  EXPECT_NE(h->back().detail.find("no-such-snapshot"), std::string::npos) << h->back().detail;
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(log->entries.size(), before + 2);
}

TEST(ReleaseHistory, RevertRecordsItsOwnDurationAndSnapshot) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
  SiteDir s(kNoTableB);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  auto r = applier::apply(s.site, v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  auto h = applier::history(s.site)->back();
  EXPECT_EQ(h.outcome, "rolled_back");
  ASSERT_TRUE(h.revert_ms);
  EXPECT_GE(*h.revert_ms, 0);
  EXPECT_FALSE(h.snapshot_id.empty());
  auto list = applier::snapshot_list(s.site);
  ASSERT_TRUE(list);
  bool listed = false;
  for (const auto& i : *list) listed = listed || i.id == h.snapshot_id;
  EXPECT_TRUE(listed) << h.snapshot_id;
}

TEST(ReleaseHistory, StatusSeesALiveRunByItsLock) {
  Releases rel;
  std::string v100 = rel.build("1.0.0", 1), v110 = rel.build("1.1.0", 2);
  SiteDir s(kAlwaysHealthy);
  ASSERT_TRUE(applier::apply(s.site, v100, quiet_env()));
  ASSERT_EQ(in_child("after_migrations", [&] { return bool(applier::apply(s.site, v110, quiet_env())); }), 99);
  auto crashed = applier::status(s.site);
  ASSERT_TRUE(crashed->pending_phase);
  EXPECT_FALSE(crashed->running) << "nobody holds the lock: the run crashed";
  {
    auto lock = applier::SiteLock::acquire(s.state);
    ASSERT_TRUE(lock);
    auto live = applier::status(s.site);
    ASSERT_TRUE(live->pending_phase);
    EXPECT_TRUE(live->running) << "the lock is held: the run is live";
  }
  EXPECT_TRUE(applier::recover(s.site, quiet_env()));
}

}  // namespace
}  // namespace airlock::test

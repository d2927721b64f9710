// The operator's runs as runs of the state machine: a manual rollback and a snapshot restore drain
// the services before they change anything and resume them after, a failed drain changes nothing,
// and a resume that fails after a restore is reported, the restore recorded.
#include <gtest/gtest.h>

#include <csignal>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const char* kNoItemsCheck = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";

// Each hook appends its name to hooks.log; drain fails while fail-drain exists, resume while
// fail-resume exists.
const char* kLoggingHooks =
    "[hooks]\n"
    "drain = { run = \"echo drain >> hooks.log; test ! -e fail-drain\", timeout = \"5s\" }\n"
    "resume = { run = \"echo resume >> hooks.log; test ! -e fail-resume\", timeout = \"5s\" }\n\n";

std::string take_log(const SiteDir& s) {
  const std::string log = fs::exists(s.dir / "hooks.log") ? slurp(s.dir / "hooks.log") : "";
  fs::remove(s.dir / "hooks.log");
  return log;
}

std::string snapshot_of_110(SiteDir& s) {
  EXPECT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto snap = applier::snapshot_create(s.site, quiet_env());
  EXPECT_TRUE(snap);
  auto d = db::Database::open(s.db, db::OpenMode::read_write);
  EXPECT_TRUE(d->exec("INSERT INTO items(name) VALUES ('later')"));
  take_log(s);
  return snap ? snap->id : "";
}

TEST(RunKinds, SnapshotRestoreDrainsThenResumes) {
  SiteDir s(kNoItemsCheck, kLoggingHooks);
  const std::string id = snapshot_of_110(s);
  ASSERT_TRUE(applier::snapshot_restore(s.site, id, applier::Force::yes, quiet_env()));
  EXPECT_EQ(take_log(s), "drain\nresume\n");
  EXPECT_EQ(applier::history(s.site)->back().outcome, "restored");
}

TEST(RunKinds, FailedDrainBeforeARestoreChangesNothingAndResumes) {
  SiteDir s(kNoItemsCheck, kLoggingHooks);
  const std::string id = snapshot_of_110(s);
  const std::string before = s.observable();
  spit(s.dir / "fail-drain", "");
  auto r = applier::snapshot_restore(s.site, id, applier::Force::yes, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(take_log(s), "drain\nresume\n");
  EXPECT_EQ(applier::history(s.site)->back().outcome, "aborted");
  EXPECT_FALSE(applier::status(s.site)->pending_phase);
}

TEST(RunKinds, ResumeFailingAfterARestoreIsReportedAndTheRestoreRecorded) {
  SiteDir s(kNoItemsCheck, kLoggingHooks);
  const std::string id = snapshot_of_110(s);
  spit(s.dir / "fail-resume", "");
  auto r = applier::snapshot_restore(s.site, id, applier::Force::yes, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::rollback_failed) << r.error().what();
  EXPECT_NE(r.error().what().find("resume hook failed"), std::string::npos) << r.error().what();
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  auto n = d->query("SELECT count(*) FROM items WHERE name = 'later'");
  ASSERT_TRUE(n);
  EXPECT_EQ(std::get<std::int64_t>((*n)[0][0]), 0) << "the restore stands";
  const auto h = applier::history(s.site)->back();
  EXPECT_EQ(h.outcome, "restored");
  EXPECT_NE(h.detail.find("resume hook failed"), std::string::npos) << h.detail;
}

TEST(RunKinds, ManualRollbackDrainsThenResumesAndAFailedDrainChangesNothing) {
  TempDir b;
  std::string recipe = write_recipe(b, "ok", "min_installed = \"1.1.0\"\n", "1.2.0",
                                    "[[migrations]]\nid = \"0003_x\"\ndatabase = \"main\"\nup = \"m/up.sql\"\n"
                                    "down = \"m/down.sql\"\nfixture = \"m/main.sql\"\n",
                                    {{"m/up.sql", "CREATE TABLE extra(a);\n"},
                                     {"m/down.sql", "DROP TABLE extra;\n"},
                                     {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
  const std::string v120 = build_bundle(recipe, (b / "ok.tar.zst").string());
  SiteDir s(kNoItemsCheck, kLoggingHooks);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  ASSERT_TRUE(applier::apply(s.site, v120, quiet_env()));
  take_log(s);
  const std::string before = s.observable();
  spit(s.dir / "fail-drain", "");
  auto refused = applier::rollback(s.site, quiet_env());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cls(), ErrorClass::preflight) << refused.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(applier::status(s.site)->installed, "1.2.0");
  EXPECT_EQ(take_log(s), "drain\nresume\n");
  fs::remove(s.dir / "fail-drain");
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::reverted);
  EXPECT_EQ(take_log(s), "drain\nresume\n");
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
}

TEST(RunKinds, SignalBeforeTheSafetySnapshotStopsARestoreWithNothingChanged) {
  SiteDir s(kNoItemsCheck, kLoggingHooks);
  const std::string id = snapshot_of_110(s);
  const std::string before = s.observable();
  auto env = quiet_env();
  env.interrupted = [] { return SIGTERM; };
  auto r = applier::snapshot_restore(s.site, id, applier::Force::yes, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find("interrupted by SIGTERM after the preflight phase"), std::string::npos)
      << r.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(take_log(s), "") << "no hook ran";
  EXPECT_EQ(applier::history(s.site)->back().outcome, "aborted");
  EXPECT_FALSE(applier::status(s.site)->pending_phase);
}

}  // namespace
}  // namespace airlock::test

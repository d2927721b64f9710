// Scheduled jobs on a real site folder with real bundles, time driven through Env::now (never by
// sleeping): a job fires at its time, a failed preflight cancels it, a changed site cancels it, a
// job found after its window is missed, a crash in its apply is finalized by recover (never run
// again), a busy site is left for the next tick, and --at is checked against now and `expires`.
#include <gtest/gtest.h>

#include "applier/lock.hpp"
#include "applier/schedule.hpp"
#include "applier/staged.hpp"
#include "core/sys/local_time.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::DueAction;
using applier::Outcome;

// A clock the test moves; every Env it makes reads it.
struct Clock {
  std::int64_t t = now_utc().unix_seconds;
  applier::Env env() {
    auto e = quiet_env();
    e.now = [this] { return Timestamp{t, 0, 0}; };
    return e;
  }
  std::string at(std::int64_t from_now) const { return format_rfc3339(Timestamp{t + from_now, 0, 0}); }
};

applier::ScheduleRequest req(const std::string& bundle, const std::string& at) {
  applier::ScheduleRequest r;
  r.bundle = bundle;
  r.at = at;
  return r;
}

std::vector<std::string> outcomes(const SiteDir& s) {
  std::vector<std::string> out;
  auto hist = applier::history(s.site);
  EXPECT_TRUE(hist) << hist.error().what();
  if (hist)
    for (const auto& h : *hist) out.push_back(h.outcome);
  return out;
}

applier::ScheduledJob job(const SiteDir& s, std::int64_t id) {
  auto all = applier::schedule_list(s.site);
  EXPECT_TRUE(all) << all.error().what();
  for (const auto& v : *all)
    if (v.job.id == id) return v.job;
  ADD_FAILURE() << "no job " << id;
  return {};
}

TEST(Schedule, AJobFiresAtItsTimeAfterItsPreflight) {
  SiteDir s;
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, clock.at(3600)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  EXPECT_EQ(added->job.state, "pending");
  EXPECT_EQ(added->job.preflight_at, clock.at(1800));
  EXPECT_EQ(added->job.window_end, clock.at(3600 + 7200));
  EXPECT_EQ(added->job.expect_installed, "");
  ASSERT_EQ(applier::staged_list(s.site)->size(), 1u) << "staged at add: the stick may leave";

  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::waiting);
  clock.t += 1800;
  due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::preflight);
  EXPECT_FALSE(job(s, added->job.id).preflight_done.empty());
  EXPECT_EQ(applier::status(s.site)->installed, "") << "nothing applied before its time";
  clock.t += 1799;
  EXPECT_EQ(applier::run_due(s.site, clock.env())->action, DueAction::preflight);
  clock.t += 1;
  due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  ASSERT_EQ(due->action, DueAction::ran);
  ASSERT_TRUE(due->run);
  EXPECT_EQ(due->run->outcome, Outcome::applied);
  EXPECT_FALSE(due->cls);
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  const auto j = job(s, added->job.id);
  EXPECT_EQ(j.state, "finished");
  EXPECT_EQ(j.outcome, "applied");
  EXPECT_EQ(outcomes(s), (std::vector<std::string>{"scheduled", "applied"}));
  EXPECT_NE(applier::history(s.site)->back().started_by.find("job 1"), std::string::npos);
  EXPECT_TRUE(applier::staged_list(s.site)->empty()) << "applied: the staged copy has done its work";
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  std::string kinds;
  for (const auto& e : log->entries) kinds += e.kind + " ";
  for (const char* k : {"stage", "schedule-add", "schedule-preflight", "schedule-finished"})
    EXPECT_NE(kinds.find(k), std::string::npos) << k << " in " << kinds;
  clock.t += 60;
  EXPECT_EQ(applier::run_due(s.site, clock.env())->action, DueAction::none);
}

TEST(Schedule, AFailedPreflightCancelsTheJobAndNotifies) {
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\nnotify = { run = \"echo $AIRLOCK_OUTCOME $AIRLOCK_TO >> notified\", timeout = \"5s\" }\n\n");
  Clock clock;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, clock.env()));
  auto added = applier::schedule_add(s.site, req(bundles().v120, clock.at(600)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  EXPECT_EQ(added->job.preflight_at, clock.at(0)) << "max(now, at - preflight_before)";
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("DELETE FROM items WHERE rowid = (SELECT min(rowid) FROM items)"));
  }
  const std::string before = s.observable();
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::cancelled);
  EXPECT_EQ(due->cls, ErrorClass::preflight);
  EXPECT_EQ(job(s, added->job.id).state, "cancelled");
  EXPECT_NE(job(s, added->job.id).detail.find("preflight failed"), std::string::npos) << job(s, 1).detail;
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  EXPECT_EQ(outcomes(s).back(), "cancelled");
  EXPECT_NE(applier::history(s.site)->back().detail.find("preflight failed"), std::string::npos);
  EXPECT_TRUE(applier::audit_verify(s.site));
  EXPECT_EQ(slurp(s.dir / "notified"), "applied 1.1.0\ncancelled 1.2.0\n");
  clock.t += 600;
  EXPECT_EQ(applier::run_due(s.site, clock.env())->action, DueAction::none) << "a cancelled job never runs";
}

// The preflight hashes every staged file again: a file changed since `schedule add` cancels.
TEST(Schedule, AStagedFileChangedAfterAddCancelsAtPreflight) {
  SiteDir s;
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, clock.at(600)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  const fs::path payload = fs::path(s.state) / "staged" / added->job.staged / "payload";
  spit(payload / "migrations/0001_create_items.up.sql", "DROP TABLE IF EXISTS precious;\n");
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::cancelled);
  EXPECT_NE(due->detail.find("0001_create_items.up.sql"), std::string::npos) << due->detail;
  EXPECT_EQ(applier::status(s.site)->installed, "");
}

TEST(Schedule, AJobIsCancelledWhenAnotherReleaseIsInstalled) {
  SiteDir s;
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, clock.at(3600)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, clock.env()));  // by hand, before the job
  const std::string before = s.observable();
  clock.t += 3600;
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::cancelled);
  EXPECT_EQ(due->cls, ErrorClass::policy);
  EXPECT_NE(due->detail.find("release 1.1.0 is installed, the job expected nothing"), std::string::npos) << due->detail;
  EXPECT_EQ(s.observable(), before);
  EXPECT_EQ(outcomes(s), (std::vector<std::string>{"scheduled", "applied", "cancelled"}));
  EXPECT_TRUE(applier::audit_verify(s.site));
}

TEST(Schedule, AJobFoundAfterItsWindowIsMissedNeverRunLate) {
  SiteDir s;
  Clock clock;
  auto r = req(bundles().v110, clock.at(600));
  r.window_s = 3600;
  auto added = applier::schedule_add(s.site, r, clock.env());
  ASSERT_TRUE(added) << added.error().what();
  clock.t += 600 + 3600;  // the machine was off through the whole window
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::missed);
  EXPECT_FALSE(due->run);
  EXPECT_EQ(applier::status(s.site)->installed, "");
  EXPECT_EQ(job(s, added->job.id).state, "missed");
  EXPECT_EQ(outcomes(s), (std::vector<std::string>{"scheduled", "missed"}));
  EXPECT_TRUE(applier::audit_verify(s.site));
  EXPECT_EQ(applier::run_due(s.site, clock.env())->action, DueAction::none);
}

TEST(Schedule, ACrashInAScheduledApplyIsFinalizedByRecoverAndNeverRunAgain) {
  SiteDir s;
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, clock.at(60)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  const std::string before = s.observable();
  clock.t += 60;
  const int code = in_child("after_migrations", [&] { return bool(applier::run_due(s.site, clock.env())); });
  ASSERT_EQ(code, 99) << "the crash point was not reached";
  EXPECT_EQ(job(s, added->job.id).state, "running");
  auto rec = applier::recover(s.site, clock.env());
  ASSERT_TRUE(rec) << rec.error().what();
  EXPECT_EQ(rec->outcome, Outcome::recovered_old);
  EXPECT_EQ(s.observable(), before);
  const auto j = job(s, added->job.id);
  EXPECT_EQ(j.state, "finished");
  EXPECT_EQ(j.outcome, "recovered_old");
  clock.t += 60;
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::none) << "never re-run";
  EXPECT_EQ(applier::status(s.site)->installed, "");
  EXPECT_TRUE(applier::audit_verify(s.site));
}

TEST(Schedule, RunDueOnABusySiteTriesAgainOnTheNextTick) {
  SiteDir s;
  Clock clock;
  ASSERT_TRUE(applier::schedule_add(s.site, req(bundles().v110, clock.at(60)), clock.env()));
  clock.t += 60;
  {
    auto held = applier::SiteLock::acquire(s.state);
    ASSERT_TRUE(held) << held.error().what();
    auto due = applier::run_due(s.site, clock.env());
    ASSERT_TRUE(due) << due.error().what();
    EXPECT_EQ(due->action, DueAction::busy);
    EXPECT_FALSE(due->cls) << "exit 0: the timer tries again";
    EXPECT_EQ(job(s, 1).state, "pending");
  }
  auto due = applier::run_due(s.site, clock.env());
  ASSERT_TRUE(due) << due.error().what();
  EXPECT_EQ(due->action, DueAction::ran);
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
}

TEST(Schedule, AddRefusesThePastASecondJobAndATimeAfterExpiry) {
  SiteDir s;
  Clock clock;
  auto past = applier::schedule_add(s.site, req(bundles().v110, clock.at(-1)), clock.env());
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().cls(), ErrorClass::usage);
  EXPECT_NE(past.error().what().find("in the past"), std::string::npos) << past.error().what();
  auto now = applier::schedule_add(s.site, req(bundles().v110, clock.at(0)), clock.env());
  ASSERT_FALSE(now);
  EXPECT_EQ(now.error().cls(), ErrorClass::usage);
  EXPECT_TRUE(applier::staged_list(s.site)->empty()) << "refused before anything was staged";

  // A release that expires: built from the demo recipe with an `expires`.
  TempDir t;
  fs::copy(repo("manifests/example"), t / "r", fs::copy_options::recursive);
  std::string recipe = slurp(t / "r/recipe.toml");
  const std::string created = "created = 2026-01-01T00:00:00Z";
  recipe.replace(recipe.find(created), created.size(),
                 created + "\nexpires = " + format_rfc3339(Timestamp{clock.t + 86400, 0, 0}));
  spit(t / "r/recipe.toml", recipe);
  const std::string expiring = build_bundle((t / "r/recipe.toml").string(), (t / "e.tar.zst").string());
  auto late = applier::schedule_add(s.site, req(expiring, clock.at(2 * 86400)), clock.env());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().cls(), ErrorClass::policy);
  EXPECT_NE(late.error().what().find("expires"), std::string::npos) << late.error().what();
  EXPECT_TRUE(applier::staged_list(s.site)->empty()) << "a refused job leaves nothing staged";
  ASSERT_TRUE(applier::schedule_add(s.site, req(expiring, clock.at(3600)), clock.env()));

  auto second = applier::schedule_add(s.site, req(bundles().v110, clock.at(7200)), clock.env());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().cls(), ErrorClass::policy);
  EXPECT_NE(second.error().what().find("cancel it first"), std::string::npos) << second.error().what();
  auto cancelled = applier::schedule_cancel(s.site, 1, clock.env());
  ASSERT_TRUE(cancelled) << cancelled.error().what();
  EXPECT_EQ(cancelled->job.state, "cancelled");
  EXPECT_FALSE(applier::schedule_cancel(s.site, 1, clock.env())) << "only a pending job is cancelled";
  ASSERT_TRUE(applier::schedule_add(s.site, req(bundles().v110, clock.at(7200)), clock.env()));
  EXPECT_EQ(outcomes(s), (std::vector<std::string>{"scheduled", "cancelled", "scheduled"}));
  EXPECT_TRUE(applier::audit_verify(s.site));
}

// The scheduled job's staged release is kept by retention and cannot be removed under it.
TEST(Schedule, TheJobsStagedReleaseStaysStaged) {
  SiteDir s;
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, clock.at(600)), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  auto rm = applier::staged_remove(s.site, added->job.staged, clock.env());
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().cls(), ErrorClass::policy);
  EXPECT_EQ(applier::staged_list(s.site)->size(), 1u);
}

// HH:MM is the next occurrence in the site's time zone, stored in UTC and shown in both.
TEST(Schedule, WallTimeInTheSitesTimeZone) {
  SiteDir s;
  std::string text = slurp(s.site);
  text.replace(text.find("channel ="), 0, "timezone = \"Europe/Berlin\"\n");
  spit(s.site, text);
  Clock clock;
  auto added = applier::schedule_add(s.site, req(bundles().v110, "02:00"), clock.env());
  ASSERT_TRUE(added) << added.error().what();
  auto want = next_wall_time("Europe/Berlin", 2, 0, Timestamp{clock.t, 0, 0});
  ASSERT_TRUE(want);
  EXPECT_EQ(added->job.at, format_rfc3339(Timestamp{want->unix_seconds, 0, 0}));
  EXPECT_EQ(added->at_local, format_rfc3339(*want));
  EXPECT_EQ(added->at_local.substr(11, 5), "02:00");
  EXPECT_EQ(added->timezone, "Europe/Berlin");
}

TEST(Schedule, AnUnknownTimeZoneIsAUsageErrorNamingTheKey) {
  SiteDir s;
  std::string text = slurp(s.site);
  text.replace(text.find("channel ="), 0, "timezone = \"Mars/Olympus\"\n");
  spit(s.site, text);
  auto st = applier::status(s.site);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().cls(), ErrorClass::usage);
  EXPECT_NE(st.error().what().find("timezone"), std::string::npos) << st.error().what();
}

}  // namespace
}  // namespace airlock::test

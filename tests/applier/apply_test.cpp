// End-to-end apply on a real site folder with the real demo bundles: healthy apply, automatic
// rollback, degraded rollback, preflight and policy refusals, busy, history and audit.
#include <gtest/gtest.h>

#include <algorithm>

#include "applier/applier.hpp"
#include "applier/lock.hpp"
#include "core/sys/time.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

TEST(Apply, FirstReleaseAppliesMigrationsConfigAndPointer) {
  SiteDir s;
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  EXPECT_FALSE(applier::report_class(*r));
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  auto rows = d->query("SELECT count(*), sum(price_cents) FROM items");
  ASSERT_TRUE(rows) << rows.error().what();
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), 3);
  auto applied = d->query("SELECT id, release FROM _airlock_migrations ORDER BY id");
  ASSERT_EQ(applied->size(), 2u);
  EXPECT_EQ(std::get<std::string>((*applied)[1][1]), "1.1.0");
  std::string topo = slurp(s.topology);
  EXPECT_NE(topo.find("fast"), std::string::npos) << topo;
  EXPECT_EQ(topo.find("option"), std::string::npos) << topo;
  // The payload (reverse migrations) is kept for a later manual rollback.
  EXPECT_TRUE(fs::exists(s.state + "/releases/1.1.0/migrations/0002_add_price.down.sql"));
  auto st = applier::status(s.site);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->installed, "1.1.0");
  EXPECT_FALSE(st->pending_phase);
  EXPECT_FALSE(st->audit_head.empty());
}

TEST(Apply, BadReleaseRollsBackByItself) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string topo_before = slurp(s.topology);
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(applier::report_class(*r), ErrorClass::rolled_back);
  ASSERT_TRUE(r->signal_to_rollback_ms);
  EXPECT_GE(*r->signal_to_rollback_ms, 0);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals[0].find("items"), std::string::npos) << r->failing_signals[0];
  // The reverse migration ran: the table is back under its old name, the pointer is back.
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  EXPECT_TRUE(d->query("SELECT count(*) FROM items"));
  auto m = d->query("SELECT count(*) FROM _airlock_migrations WHERE id = '0003_rename_items'");
  EXPECT_EQ(std::get<std::int64_t>((*m)[0][0]), 0);
  EXPECT_EQ(slurp(s.topology), topo_before);
  EXPECT_TRUE(s.integrity_ok());
  auto st = applier::status(s.site);
  EXPECT_EQ(st->installed, "1.1.0");
  EXPECT_FALSE(st->degraded);
  auto h = applier::history(s.site);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].outcome, "rolled_back");
  EXPECT_EQ((*h)[1].to_version, "1.2.0");
  EXPECT_EQ((*h)[1].from_version, "1.1.0");
  EXPECT_TRUE((*h)[1].signal_to_rollback_ms);
  EXPECT_NE((*h)[1].steps_json.find("rollback"), std::string::npos);
  ASSERT_TRUE(applier::audit_verify(s.site));
}

TEST(Apply, RollbackThatStaysUnhealthyIsDegraded) {
  // A hard check that fails as soon as 1.2.0's payload exists: rolling back cannot fix it.
  SiteDir s(std::string(SiteDir::kItemsCheck) +
            "\n[[checks]]\nname = \"never-1.2\"\nkind = \"exec\"\nrun = \"test ! -e state/releases/1.2.0\"\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::degraded);
  EXPECT_EQ(applier::report_class(*r), ErrorClass::rollback_failed);
  auto st = applier::status(s.site);
  EXPECT_TRUE(st->degraded);
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
}

TEST(Apply, SoftFailureKeepsTheUpgrade) {
  SiteDir s(std::string(SiteDir::kItemsCheck) +
            "\n[[checks]]\nname = \"soft\"\nkind = \"exec\"\nhard = false\nrun = \"false\"\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  auto h = applier::history(s.site);
  EXPECT_NE((*h)[0].detail.find("soft"), std::string::npos) << (*h)[0].detail;
}

TEST(Apply, PreflightFailuresChangeNothing) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  // The site is unhealthy before the apply: refuse (33).
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("INSERT INTO items(name) VALUES('extra')"));
  }
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_EQ(s.observable(), before);
  // Trust root unreadable: the site's configuration, a usage error (2, spec §8); nothing changed.
  fs::remove(s.dir / "trust.toml");
  r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_EQ(s.observable(), before);
  // status reads the trust root too (its key windows): put it back before asking.
  fs::copy_file(repo("keys/trust.toml"), s.dir / "trust.toml");
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_FALSE(st->pending_phase);
}

TEST(Apply, CorruptDatabaseFailsPreflight) {
  SiteDir s;
  spit(s.db, std::string("SQLite format 3") + std::string(1, '\0') + std::string(200, 'x'));
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_EQ(s.pointer(), "");
}

TEST(Apply, ConfigPreconditionRefusesBeforeAnyWrite) {
  SiteDir s;
  spit(s.topology, "mode = \"drifted\"\n[legacy]\noption = 1\n");
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_NE(r.error().what().find("mode"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.observable(), before);  // no migration ran either
}

TEST(Apply, VerifierPolicyComesFromTheSite) {
  SiteDir s;
  // 1.2.0 requires 1.1.0 installed: a site on nothing... accepts a first release; but a downgrade is refused.
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto again = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::policy) << again.error().what();
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
}

TEST(Apply, SecondApplyIsBusy) {
  SiteDir s;
  auto lock = applier::SiteLock::acquire(s.state);
  ASSERT_TRUE(lock);
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::busy);
  EXPECT_EQ(s.pointer(), "");
}

TEST(Apply, HooksRunAndDrainFailureAborts) {
  SiteDir ok(SiteDir::kItemsCheck,
             "[hooks]\ndrain = { run = \"echo drain >> hooks.log\", timeout = \"5s\" }\n"
             "resume = { run = \"echo resume >> hooks.log\" }\n"
             "notify = { run = \"echo notify $AIRLOCK_OUTCOME $AIRLOCK_TO >> hooks.log\" }\n\n");
  ASSERT_TRUE(applier::apply(ok.site, bundles().v110, quiet_env()));
  EXPECT_EQ(slurp(ok.dir / "hooks.log"), "drain\nresume\nnotify applied 1.1.0\n");

  SiteDir bad(SiteDir::kItemsCheck, "[hooks]\ndrain = { run = \"exit 3\" }\n\n");
  std::string before = bad.observable();
  auto r = applier::apply(bad.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight);
  EXPECT_EQ(bad.observable(), before);
}

TEST(Apply, NetworkChecksAgainstALoopbackServer) {
  HttpServer server(200);
  std::string port = std::to_string(server.port());
  SiteDir s(std::string(SiteDir::kItemsCheck) + "\n[[checks]]\nname = \"api\"\nkind = \"http\"\nurl = \"" +
            server.url() +
            "\"\n"
            "\n[[checks]]\nname = \"port\"\nkind = \"tcp\"\naddress = \"127.0.0.1:" +
            port +
            "\"\n"
            "\n[[checks]]\nname = \"speed\"\nkind = \"latency\"\nurl = \"" +
            server.url() + "\"\nsamples = 3\nmax_increase_percent = 100000\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  int passed = 0;
  for (const auto& c : r->checks) passed += c.ok;
  EXPECT_EQ(passed, 4);
  auto st = applier::status(s.site);
  ASSERT_EQ(st->images.size(), 2u);
  EXPECT_NE(st->images[0].find("@sha256:"), std::string::npos);
  // The latency check of the second apply compares with the baseline measured in its preflight.
  auto second = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->outcome, Outcome::rolled_back);
  bool compared = false;
  for (const auto& c : second->checks) compared |= c.name == "speed" && c.detail.find("baseline") != std::string::npos;
  EXPECT_TRUE(compared);
}

TEST(Apply, FailingNotifyHookIsRecordedAndChangesNothing) {
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\nnotify = { run = \"exit 7\" }\n\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  ASSERT_EQ(log->entries.size(), 2u);
  EXPECT_EQ(log->entries[1].kind, "notify-failed");
}

TEST(Apply, FailingResumeHookIsAHardFailure) {
  // Fails only while the pointer names 1.2.0: after the rollback it succeeds.
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\nresume = { run = \"test \\\"$(readlink state/current)\\\" != releases/1.2.0\" }\n\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals[0].find("resume"), std::string::npos) << r->failing_signals[0];
}

TEST(Apply, SiteRefusesOtherProductsAndDeltaAsFirstRelease) {
  TempDir b;
  std::string delta =
      build_bundle(write_recipe(b, "delta", "", "1.0.0", "[delta]\nbase = \"" + bundles().v110 + "\"\n", {}),
                   (b / "delta.tar.zst").string());
  SiteDir s;
  auto r = applier::apply(s.site, delta, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_NE(r.error().what().find("delta"), std::string::npos) << r.error().what();
  std::string text = slurp(s.site);
  text.replace(text.find("product = \"demo\""), 16, "product = \"other\"");
  spit(s.site, text);
  r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_EQ(s.pointer(), "");
}

TEST(Apply, RecordedTimesComeFromTheInjectedClock) {
  SiteDir s;
  applier::Env env = quiet_env();
  env.now = [] { return *parse_rfc3339("2026-03-12T10:00:00Z"); };
  env.started_by = "test-clock";
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, env));
  auto h = applier::history(s.site);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].started_at, "2026-03-12T10:00:00Z");
  EXPECT_EQ((*h)[0].finished_at, "2026-03-12T10:00:00Z");
  EXPECT_EQ((*h)[0].started_by, "test-clock");
  // The verifier judges time by the same clock: before the release was created, it is refused.
  SiteDir early;
  env.now = [] { return *parse_rfc3339("2025-01-01T00:00:00Z"); };
  auto r = applier::apply(early.site, bundles().v110, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
}

TEST(Apply, OldAutomaticSnapshotsArePrunedButNeededOnesKept) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto first = applier::snapshot_list(s.site);
  ASSERT_EQ(first->size(), 1u);  // taken before 1.1.0: what a manual rollback of 1.1.0 needs
  auto manual = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(manual);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(applier::apply(s.site, bundles().v120, quiet_env()));
  auto list = applier::snapshot_list(s.site);
  ASSERT_TRUE(list);
  std::vector<std::string> ids;
  for (const auto& i : *list) ids.push_back(i.id);
  EXPECT_EQ(ids.size(), 4u);  // the needed one, the manual one, the two newest
  EXPECT_NE(std::find(ids.begin(), ids.end(), (*first)[0].id), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), manual->id), ids.end());
}

TEST(Apply, DemoSiteTemplatePlaysTheDemo) {
  TempDir d;
  fs::copy(repo("manifests/demo-site"), d.path(), fs::copy_options::recursive);
  fs::copy_file(repo("keys/trust.toml"), d / "trust.toml");
  std::string site = (d / "site.toml").string();
  auto first = applier::apply(site, bundles().v110, quiet_env());
  ASSERT_TRUE(first) << first.error().what();
  EXPECT_EQ(first->outcome, Outcome::applied);
  auto second = applier::apply(site, bundles().v120, quiet_env());
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_EQ(second->outcome, Outcome::rolled_back);
  auto h = applier::history(site);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].outcome, "rolled_back");
  EXPECT_NE(slurp(d / "hooks.log").find("notify"), std::string::npos);
}

}  // namespace
}  // namespace airlock::test

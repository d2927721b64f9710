// The crash-point matrix: the apply is killed (_exit at a named point, in a forked child) at every
// point it reaches; `recover` must then leave every database, config file and the pointer exactly
// as before or exactly as after, databases passing integrity_check, history saying what happened.
// Recovery is killed at its own points too, and must finish when run again.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "applier/applier.hpp"
#include "applier/crash.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

enum class Want { before, after };

struct Scenario {
  std::string name;
  bool preinstall_110;  // start from 1.1.0 installed, apply 1.2.0 (which rolls back)
  std::vector<std::pair<std::string, Want>> points;
};

// A site in the scenario's starting state, with its observable state "before" and, from a
// reference run without crash, "after".
struct Prepared {
  std::unique_ptr<SiteDir> site;
  std::string before, after, installed_before, installed_after;
};

std::string bundle_of(const Scenario& s) { return s.preinstall_110 ? bundles().v120 : bundles().v110; }

std::unique_ptr<SiteDir> start(const Scenario& s) {
  auto site = std::make_unique<SiteDir>();
  if (s.preinstall_110) {
    auto r = applier::apply(site->site, bundles().v110, quiet_env());
    EXPECT_TRUE(r && r->outcome == Outcome::applied);
  }
  return site;
}

Prepared prepare(const Scenario& s) {
  Prepared p;
  auto ref = start(s);
  p.before = ref->observable();
  p.installed_before = applier::status(ref->site)->installed;
  auto r = applier::apply(ref->site, bundle_of(s), quiet_env());
  EXPECT_TRUE(r) << (r ? "" : r.error().what());
  p.after = ref->observable();
  p.installed_after = applier::status(ref->site)->installed;
  return p;
}

void expect_state(const SiteDir& site, const Prepared& p, Want want, const std::string& label) {
  EXPECT_EQ(site.observable(), want == Want::before ? p.before : p.after) << label;
  EXPECT_TRUE(site.integrity_ok()) << label;
  auto st = applier::status(site.site);
  ASSERT_TRUE(st) << label;
  EXPECT_FALSE(st->pending_phase) << label;
  EXPECT_EQ(st->installed, want == Want::before ? p.installed_before : p.installed_after) << label;
  EXPECT_TRUE(applier::audit_verify(site.site)) << label;
}

void run_matrix(const Scenario& sc) {
  Prepared p = prepare(sc);
  for (const auto& [point, want] : sc.points) {
    std::string label = sc.name + " @ " + point;
    auto site = start(sc);
    std::string bundle = bundle_of(sc);
    int code = in_child(point, [&] { return bool(applier::apply(site->site, bundle, quiet_env())); });
    ASSERT_EQ(code, 99) << label << ": the crash point was not reached";
    auto st = applier::status(site->site);
    ASSERT_TRUE(st);
    auto rec = applier::recover(site->site, quiet_env());
    ASSERT_TRUE(rec) << label << ": " << rec.error().what();
    // A crash after the record leaves nothing to recover; every other point is found in the journal.
    EXPECT_EQ(rec->outcome == Outcome::nothing_to_do, point == "after_record") << label;
    expect_state(*site, p, want, label);
    auto h = applier::history(site->site);
    ASSERT_TRUE(h);
    if (point != "after_record") {
      EXPECT_NE(h->back().detail.find("crashed during"), std::string::npos) << label;
    }
    // Idempotent: a second recover finds nothing and changes nothing.
    auto again = applier::recover(site->site, quiet_env());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->outcome, Outcome::nothing_to_do) << label;
    expect_state(*site, p, want, label + " (second recover)");
  }
}

TEST(Crash, FirstInstallAtEveryPoint) {
  run_matrix({"first install 1.1.0",
              false,
              {{"after_preflight", Want::before},
               {"after_verify", Want::before},
               {"mid_snapshot", Want::before},
               {"after_snapshot", Want::before},
               {"after_drain", Want::before},
               {"after_payload", Want::before},
               {"mid_migrations", Want::before},
               {"after_migrations", Want::before},
               {"mid_config", Want::before},
               {"after_config", Want::before},
               {"after_pointer", Want::before},
               {"after_checks", Want::before},
               {"before_record", Want::after},
               {"after_record", Want::after}}});
}

TEST(Crash, FailingUpgradeAtEveryPoint) {
  run_matrix({"1.1.0 -> 1.2.0 (rolls back)",
              true,
              {{"after_preflight", Want::before},
               {"after_verify", Want::before},
               {"mid_snapshot", Want::before},
               {"after_snapshot", Want::before},
               {"after_drain", Want::before},
               {"after_payload", Want::before},
               {"mid_migrations", Want::before},
               {"after_migrations", Want::before},
               {"after_config", Want::before},
               {"after_pointer", Want::before},
               {"mid_rollback", Want::before},
               {"after_rollback", Want::before},
               {"after_record", Want::after}}});
}

TEST(Crash, RecoveryKilledAtItsOwnPointsFinishesWhenRunAgain) {
  Scenario sc{"first install", false, {}};
  Prepared p = prepare(sc);
  for (auto rpoint : applier::kRecoverCrashPoints) {
    std::string label = "apply @ after_config, recover @ " + std::string(rpoint);
    auto site = start(sc);
    ASSERT_EQ(in_child("after_config", [&] { return bool(applier::apply(site->site, bundles().v110, quiet_env())); }),
              99);
    ASSERT_EQ(in_child(std::string(rpoint), [&] { return bool(applier::recover(site->site, quiet_env())); }), 99)
        << label;
    EXPECT_TRUE(applier::status(site->site)->pending_phase) << label;
    auto rec = applier::recover(site->site, quiet_env());
    ASSERT_TRUE(rec) << label << ": " << rec.error().what();
    expect_state(*site, p, Want::before, label);
  }
}

TEST(Crash, LeftoverIsRecoveredBeforeTheNextBundle) {
  Scenario sc{"first install", false, {}};
  auto site = start(sc);
  ASSERT_EQ(in_child("mid_migrations", [&] { return bool(applier::apply(site->site, bundles().v110, quiet_env())); }),
            99);
  auto r = applier::apply(site->site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  auto h = applier::history(site->site);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].outcome, "recovered_old");
  EXPECT_EQ((*h)[1].outcome, "applied");
}

}  // namespace
}  // namespace airlock::test

// I/O faults through the filesystem seam (core/sys/sys.hpp), the crash-point matrix's sibling: every
// mutating filesystem call (our own writes and SQLite's, through its VFS shim) of a clean run is
// failed in turn, once with EIO and once with ENOSPC, without performing it.
//  - snapshot create: fails with io (3) and leaves no snapshot that list or restore would take
//    (no .partial folder, no unsealed one); the site's database, config and pointer untouched.
//  - apply (snapshot, migrations, config, pointer, record; a first install, a two-release upgrade
//    and an upgrade that rolls back by itself; also a disk that stays full from call N on):
//    whatever the apply returned, `recover` with the disk healthy again leaves the site exactly as
//    before or exactly as after — databases passing integrity_check, no pending run, not degraded,
//    the installed release matching, the audit chain intact, no staging or .partial leftovers.
//  - recover itself (restoring the old release, finishing the new one), faulted the same way: a
//    second recover finishes the job.
// AIRLOCK_SHOW_ERRORS=1 prints one line per faulted call (the table in docs/reliability.md).
#include <gtest/gtest.h>

#include <optional>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "applier/snapshot.hpp"
#include "core/sys/sys.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

bool show() { return std::getenv("AIRLOCK_SHOW_ERRORS") != nullptr; }

std::string label_of(int err, std::uint64_t n, std::uint64_t calls, const std::string& op) {
  return std::string(err == EIO ? "EIO" : "ENOSPC") + " at call " + std::to_string(n) + "/" + std::to_string(calls) +
         " (" + op + ")";
}

// Folders a finished (or recovered) run must not leave: staging runs and unsealed snapshots.
std::vector<std::string> leftovers(const SiteDir& s) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s.state + "/staging", ec)) out.push_back(e.path().string());
  for (const auto& e : fs::directory_iterator(s.state + "/snapshots", ec))
    if (e.path().filename().string().ends_with(".partial")) out.push_back(e.path().string());
  return out;
}

// The message says why: the errno's text, or SQLite's words for it.
bool names_reason(const std::string& what, int err) {
  for (const char* w : {static_cast<const char*>(std::strerror(err)),
                        err == EIO ? "disk I/O error" : "database or disk is full", "unable to open database file"})
    if (what.find(w) != std::string::npos) return true;
  return false;
}

// --- snapshot create ---

// A site with 1.1.0 installed (so there is a database with rows, a config and a pointer).
std::unique_ptr<SiteDir> installed_110() {
  auto s = std::make_unique<SiteDir>();
  auto r = applier::apply(s->site, bundles().v110, quiet_env());
  EXPECT_TRUE(r && r->outcome == Outcome::applied) << (r ? "" : r.error().what());
  return s;
}

std::vector<std::string> snapshot_ids(const SiteDir& s) {
  std::vector<std::string> ids;
  auto l = applier::snapshot_list(s.site);
  EXPECT_TRUE(l) << (l ? "" : l.error().what());
  if (l)
    for (const auto& i : *l) {
      EXPECT_TRUE(i.sealed) << "unsealed snapshot listed: " << i.id;
      ids.push_back(i.id);
    }
  return ids;
}

void snapshot_sweep(int err) {
  std::uint64_t calls = 0;
  {
    auto s = installed_110();
    sys::ArmedFault count({});
    auto r = applier::snapshot_create(s->site, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    calls = count.calls();
  }
  ASSERT_GE(calls, 10u);
  for (std::uint64_t n = 1; n <= calls; ++n) {
    auto s = installed_110();
    const auto ids_before = snapshot_ids(*s);
    const std::string before = s->observable();
    Result<applier::SnapshotInfo> r = fail(ErrorClass::internal, "not run");
    std::string op;
    bool fired = false;
    {
      sys::ArmedFault fault({err, n});
      r = applier::snapshot_create(s->site, quiet_env());
      op = fault.fired_op();
      fired = fault.fired();
    }
    const std::string label = "snapshot create, " + label_of(err, n, calls, op);
    if (show()) std::cerr << "  " << label << ": " << (r ? "created " + r->id : r.error().what()) << "\n";
    EXPECT_EQ(s->observable(), before) << label;
    EXPECT_TRUE(leftovers(*s).empty()) << label << ": " << leftovers(*s).front();
    const auto ids = snapshot_ids(*s);  // every listed one sealed
    if (r) {
      // Only a call that needs no room goes through ENOSPC (a removal, opening what exists).
      EXPECT_TRUE(!fired) << label << ": succeeded although the fault fired";
      EXPECT_EQ(ids.size(), ids_before.size() + 1) << label;
      continue;
    }
    ASSERT_TRUE(fired) << label;
    EXPECT_EQ(r.error().cls(), ErrorClass::io) << label << ": " << r.error().what();
    EXPECT_TRUE(names_reason(r.error().what(), err)) << label << ": the reason is missing: " << r.error().what();
    EXPECT_EQ(ids, ids_before) << label << ": a failed snapshot create left a snapshot";
  }
}

TEST(IoFaults, SnapshotCreateEio) { snapshot_sweep(EIO); }
TEST(IoFaults, SnapshotCreateEnospc) { snapshot_sweep(ENOSPC); }

// --- apply ---

// A check the demo passes with 1.1.0 (table items) and with 1.2.0 (renamed to items_v2), so the
// upgrade is a real two-release apply that keeps the new release.
constexpr const char* kEitherTableCheck =
    "[[checks]]\nname = \"items\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
    "query = \"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('items', 'items_v2')\"\n"
    "expect = 1\ntimeout = \"5s\"\n";

struct ApplyScenario {
  std::string name;
  bool preinstall_110;
  std::string checks;
  Outcome clean;  // the outcome of the run without faults
};

// A fresh site in the scenario's starting state. The upgrade's 1.1.0 is applied once, into a
// template whose files (database, config, state folder) each run then copies: the site file names
// them relative to its folder, so a copy is the same site (and the sweep stays fast).
std::unique_ptr<SiteDir> start(const ApplyScenario& sc) {
  auto s = std::make_unique<SiteDir>(sc.checks);
  if (!sc.preinstall_110) return s;
  static std::map<std::string, std::unique_ptr<SiteDir>> templates;
  auto& t = templates[sc.checks];
  if (!t) {
    t = std::make_unique<SiteDir>(sc.checks);
    auto r = applier::apply(t->site, bundles().v110, quiet_env());
    EXPECT_TRUE(r && r->outcome == Outcome::applied) << (r ? "" : r.error().what());
  }
  const auto opts =
      fs::copy_options::overwrite_existing | fs::copy_options::recursive | fs::copy_options::copy_symlinks;
  fs::copy(t->db, s->db, opts);
  fs::copy(t->topology, s->topology, opts);
  fs::copy(t->state, s->state, opts);
  return s;
}

// The observable state with identifiers in the schema's SQL unquoted: reverse migrations give the
// old schema back, but ALTER TABLE ... RENAME rewrites the stored SQL with quoted names
// (CREATE TABLE "items"), which is the same schema (faults_test's unquote_items, generalised).
std::string canonical(const std::string& observable) {
  std::string out;
  std::istringstream in(observable);
  const std::regex quoted("\"([A-Za-z_][A-Za-z0-9_]*)\"");
  for (std::string line; std::getline(in, line);) {
    const bool schema = line.starts_with("'table' |") || line.starts_with("'index' |") || line.starts_with("  ") ||
                        line.starts_with(", ");
    out += (schema ? std::regex_replace(line, quoted, "$1") : line) + "\n";
  }
  return out;
}
std::string bundle_of(const ApplyScenario& sc) { return sc.preinstall_110 ? bundles().v120 : bundles().v110; }

struct Expected {
  std::string before, after, installed_before, installed_after;
  std::uint64_t calls = 0;
};

std::string installed(const SiteDir& s) {
  auto st = applier::status(s.site);
  return st ? st->installed : "<status: " + st.error().what() + ">";
}

Expected reference(const ApplyScenario& sc) {
  Expected e;
  auto s = start(sc);
  e.before = s->observable();
  // status() of a fresh site would create state.db: ask another fresh site, so the counted run
  // starts from exactly what each faulted run starts from.
  e.installed_before = installed(*start(sc));
  {
    sys::ArmedFault count({});
    auto r = applier::apply(s->site, bundle_of(sc), quiet_env());
    EXPECT_TRUE(r) << r.error().what();
    if (r) {
      EXPECT_EQ(r->outcome, sc.clean);
    }
    e.calls = count.calls();
    if (show()) {
      std::string ops;
      for (const auto& op : count.ops()) ops += op + ", ";
      std::cerr << "  " << sc.name << ": clean run, " << e.calls << " mutating calls: " << ops << "\n";
    }
  }
  e.after = s->observable();
  e.installed_after = installed(*s);
  return e;
}

std::string describe(const Result<applier::RunReport>& r) {
  if (!r) return "error class " + std::to_string(exit_code(r.error().cls())) + ": " + r.error().what();
  return applier::outcome_name(r->outcome);
}

// Which N to fault: all of them, unless AIRLOCK_IO_SWEEP_STRIDE asks for a spread (local runs).
std::uint64_t stride() {
  const char* s = std::getenv("AIRLOCK_IO_SWEEP_STRIDE");
  return s && std::atoi(s) > 0 ? static_cast<std::uint64_t>(std::atoi(s)) : 1;
}

// `sticky`: the disk stays full from call N on (every later space-taking call fails, removals
// still work), through the apply and a first `recover`; only the second recover has room again.
void apply_sweep(const ApplyScenario& sc, int err, bool sticky = false, std::uint64_t step = stride()) {
  const Expected e = reference(sc);
  ASSERT_GE(e.calls, 20u);
  // A run that rolls back by itself ends where it started.
  ASSERT_EQ(canonical(e.before) == canonical(e.after), sc.clean == Outcome::rolled_back);
  // Up to the clean count, and on while the fault still fires (a failed step may make the run
  // longer than the clean one); a run the fault never reached must be the clean run.
  for (std::uint64_t n = 1; n <= 2 * e.calls; n += step) {
    auto s = start(sc);
    Result<applier::RunReport> r = fail(ErrorClass::internal, "not run");
    Result<applier::RunReport> still_full = fail(ErrorClass::internal, "not run");
    std::string op;
    bool fired = false;
    {
      sys::ArmedFault fault({err, n, sticky});
      r = applier::apply(s->site, bundle_of(sc), quiet_env());
      if (sticky) still_full = applier::recover(s->site, quiet_env());
      op = fault.fired_op();
      fired = fault.fired();
    }
    const std::string label = sc.name + (sticky ? " (disk stays full)" : "") + ", " + label_of(err, n, e.calls, op);
    if (sticky && !still_full) {
      EXPECT_EQ(still_full.error().cls(), ErrorClass::io) << label << ": " << still_full.error().what();
    }
    if (!fired && n > e.calls) {
      ASSERT_TRUE(r) << label << ": " << r.error().what();
      EXPECT_EQ(r->outcome, sc.clean) << label;
      EXPECT_EQ(s->observable(), e.after) << label;
      break;
    }
    if (!r) {
      EXPECT_EQ(r.error().cls(), ErrorClass::io) << label << ": " << r.error().what();
      EXPECT_TRUE(names_reason(r.error().what(), err)) << label << ": the reason is missing: " << r.error().what();
    }
    auto rec = applier::recover(s->site, quiet_env());
    ASSERT_TRUE(rec) << label << ": recover failed: " << rec.error().what();
    const std::string now = s->observable();
    const bool is_before = canonical(now) == canonical(e.before), is_after = canonical(now) == canonical(e.after);
    if (show())
      std::cerr << "  " << label << ": apply -> " << describe(r)
                << (sticky ? "; recover on the full disk -> " + describe(still_full) : std::string()) << "; recover -> "
                << describe(rec) << "; site "
                << (is_after    ? "after"
                    : is_before ? "before"
                                : "HALF")
                << "\n";
    EXPECT_TRUE(is_before || is_after) << label << ": half state after recover\napply: " << describe(r)
                                       << "\nrecover: " << describe(rec) << "\nsite:\n"
                                       << now;
    EXPECT_TRUE(s->integrity_ok()) << label;
    auto st = applier::status(s->site);
    ASSERT_TRUE(st) << label;
    EXPECT_FALSE(st->pending_phase) << label;
    EXPECT_FALSE(st->degraded) << label << ": apply " << describe(r);
    EXPECT_EQ(st->installed, is_after ? e.installed_after : e.installed_before) << label;
    EXPECT_TRUE(applier::audit_verify(s->site)) << label;
    EXPECT_TRUE(leftovers(*s).empty()) << label << ": " << leftovers(*s).front();
    // The site takes the same bundle again once the disk is healthy (every 5th faulted call: a
    // second full apply per call would double the sweep's time for little news).
    if (is_before && n % 5 == 0) {
      auto again = applier::apply(s->site, bundle_of(sc), quiet_env());
      ASSERT_TRUE(again) << label << ": re-apply: " << again.error().what();
      EXPECT_EQ(again->outcome, sc.clean) << label;
      EXPECT_EQ(canonical(s->observable()), canonical(e.after)) << label;
    }
  }
}

const ApplyScenario kFirstInstall{"first install 1.1.0", false, SiteDir::kItemsCheck, Outcome::applied};
const ApplyScenario kUpgrade{"upgrade 1.1.0 -> 1.2.0", true, kEitherTableCheck, Outcome::applied};

// 1.2.0 fails the demo's hard check (its migration renames the table the check reads), so the
// clean run rolls back by itself: the faults land in the rollback too.
const ApplyScenario kFailingUpgrade{"failing upgrade 1.1.0 -> 1.2.0", true, SiteDir::kItemsCheck, Outcome::rolled_back};

TEST(IoFaults, FirstInstallEio) { apply_sweep(kFirstInstall, EIO); }
TEST(IoFaults, FirstInstallEnospc) { apply_sweep(kFirstInstall, ENOSPC); }
TEST(IoFaults, UpgradeEio) { apply_sweep(kUpgrade, EIO); }
TEST(IoFaults, UpgradeEnospc) { apply_sweep(kUpgrade, ENOSPC); }
TEST(IoFaults, FailingUpgradeEio) { apply_sweep(kFailingUpgrade, EIO); }
TEST(IoFaults, FailingUpgradeEnospc) { apply_sweep(kFailingUpgrade, ENOSPC); }
// A disk that stays full from call N on.
TEST(IoFaults, DiskStaysFullFirstInstall) { apply_sweep(kFirstInstall, ENOSPC, true); }
TEST(IoFaults, DiskStaysFullFailingUpgrade) { apply_sweep(kFailingUpgrade, ENOSPC, true); }

// --- recover ---

// An apply killed at a crash point (in a forked child, as in crash_test), then `recover` with every
// mutating call of a clean recovery failed in turn. A faulted recover either finishes or leaves
// the run pending; a second recover with the disk healthy must then leave the site exactly as the
// crash matrix says (before, or after when the new release was complete).
struct RecoverCase {
  ApplyScenario scenario;
  std::string point;
  bool want_after;
};

std::unique_ptr<SiteDir> crashed(const RecoverCase& rc) {
  auto s = start(rc.scenario);
  const std::string bundle = bundle_of(rc.scenario);
  const int code = in_child(rc.point, [&] { return bool(applier::apply(s->site, bundle, quiet_env())); });
  EXPECT_EQ(code, 99) << rc.point << ": the crash point was not reached";
  return s;
}

void recover_sweep(const RecoverCase& rc, int err) {
  const Expected e = reference(rc.scenario);
  const std::string& want = rc.want_after ? e.after : e.before;
  std::uint64_t calls = 0;
  {
    auto s = crashed(rc);
    sys::ArmedFault count({});
    auto r = applier::recover(s->site, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    calls = count.calls();
    ASSERT_EQ(canonical(s->observable()), canonical(want));
  }
  ASSERT_GE(calls, 10u);
  for (std::uint64_t n = 1; n <= calls; n += stride()) {
    auto s = crashed(rc);
    Result<applier::RunReport> r = fail(ErrorClass::internal, "not run");
    std::string op;
    {
      sys::ArmedFault fault({err, n});
      r = applier::recover(s->site, quiet_env());
      op = fault.fired_op();
    }
    const std::string label =
        rc.scenario.name + " crashed " + rc.point + ", recover with " + label_of(err, n, calls, op);
    if (!r) {
      EXPECT_EQ(r.error().cls(), ErrorClass::io) << label << ": " << r.error().what();
      EXPECT_TRUE(names_reason(r.error().what(), err)) << label << ": the reason is missing: " << r.error().what();
    }
    auto again = applier::recover(s->site, quiet_env());
    ASSERT_TRUE(again) << label << ": second recover: " << again.error().what();
    const bool ok = canonical(s->observable()) == canonical(want);
    if (show())
      std::cerr << "  " << label << ": recover -> " << describe(r) << "; again -> " << describe(again) << "; site "
                << (ok ? (rc.want_after ? "after" : "before") : "HALF") << "\n";
    EXPECT_TRUE(ok) << label << "\nrecover: " << describe(r) << "\nagain: " << describe(again) << "\nsite:\n"
                    << s->observable();
    EXPECT_TRUE(s->integrity_ok()) << label;
    auto st = applier::status(s->site);
    ASSERT_TRUE(st) << label;
    EXPECT_FALSE(st->pending_phase) << label;
    EXPECT_FALSE(st->degraded) << label << ": recover " << describe(r);
    EXPECT_EQ(st->installed, rc.want_after ? e.installed_after : e.installed_before) << label;
    EXPECT_TRUE(applier::audit_verify(s->site)) << label;
    EXPECT_TRUE(leftovers(*s).empty()) << label << ": " << leftovers(*s).front();
  }
}

const RecoverCase kRestoreOld{kUpgrade, "after_config", false};
const RecoverCase kFinishNew{kFirstInstall, "before_record", true};

// A fault that does not go away (the same write fails on every attempt, while state.db still
// works): after three failed restores recover records the site degraded and clears the run, so
// status, history and the operator's snapshot commands work again (otherwise the run would
// stay pending forever and block every command on the site).
TEST(IoFaults, RecoverThatKeepsFailingHandsTheSiteToTheOperator) {
  // The first call whose failure leaves the run pending: the same index fails every attempt.
  std::uint64_t calls = 0;
  {
    auto s = crashed(kRestoreOld);
    sys::ArmedFault count({});
    ASSERT_TRUE(applier::recover(s->site, quiet_env()));
    calls = count.calls();
  }
  std::optional<std::uint64_t> lasting;
  for (std::uint64_t n = 1; n <= calls && !lasting; ++n) {
    auto s = crashed(kRestoreOld);
    sys::ArmedFault fault({EIO, n});
    auto r = applier::recover(s->site, quiet_env());
    if (!r && r.error().what().find("stays pending") != std::string::npos) lasting = n;
  }
  ASSERT_TRUE(lasting) << "no call of the restore left the run pending";
  auto s = crashed(kRestoreOld);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    sys::ArmedFault fault({EIO, *lasting});
    auto r = applier::recover(s->site, quiet_env());
    ASSERT_FALSE(r) << "attempt " << attempt;
    EXPECT_NE(r.error().what().find("attempt " + std::to_string(attempt) + " of 3"), std::string::npos)
        << r.error().what();
    auto st = applier::status(s->site);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->pending_phase) << "attempt " << attempt;
  }
  Result<applier::RunReport> third = fail(ErrorClass::internal, "not run");
  {
    sys::ArmedFault fault({EIO, *lasting});
    third = applier::recover(s->site, quiet_env());
  }
  ASSERT_TRUE(third) << third.error().what();
  EXPECT_EQ(third->outcome, applier::Outcome::degraded);
  auto st = applier::status(s->site);
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->pending_phase);
  EXPECT_TRUE(st->degraded);
  EXPECT_TRUE(applier::audit_verify(s->site));
  // The operator's tools work again; with the disk healthy, a recover has nothing left to do.
  EXPECT_TRUE(applier::snapshot_list(s->site));
  auto again = applier::recover(s->site, quiet_env());
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->outcome, applier::Outcome::nothing_to_do);
}

TEST(IoFaults, RecoverRestoringTheOldReleaseEio) { recover_sweep(kRestoreOld, EIO); }
TEST(IoFaults, RecoverRestoringTheOldReleaseEnospc) { recover_sweep(kRestoreOld, ENOSPC); }
TEST(IoFaults, RecoverFinishingTheNewReleaseEio) { recover_sweep(kFinishNew, EIO); }
TEST(IoFaults, RecoverFinishingTheNewReleaseEnospc) { recover_sweep(kFinishNew, ENOSPC); }

}  // namespace
}  // namespace airlock::test

// Apply-time faults, each a real scenario on a real site folder: the site database
// locked by another process, a health check that never returns, two applies started at once, and
// SIGTERM to the real airlock binary in the middle of an apply. What each one must leave behind is
// in docs/reliability.md ("Apply-time faults").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

std::string installed(const SiteDir& s) {
  auto st = applier::status(s.site);
  return st ? st->installed : "<status failed: " + st.error().what() + ">";
}

// Polls (bounded) until pred holds; the test then asserts on the state, never on the time taken.
template <class P>
bool eventually(P pred, int max_ms = 10000) {
  for (int waited = 0; waited < max_ms; waited += 20) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// True while a live process has `needle` in its command line (zombies have an empty one).
bool process_running(const std::string& needle) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string unquote_items(std::string text) {
  for (auto at = text.find("\"items\""); at != std::string::npos; at = text.find("\"items\"", at))
    text.replace(at, 7, "items");
  return text;
}

// Another process holding an EXCLUSIVE transaction on a database until destroyed.
class ExclusiveHolder {
 public:
  explicit ExclusiveHolder(const std::string& db_path) {
    int ready[2], stop[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(stop), 0);
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(stop[1]);
      auto d = db::Database::open(db_path, db::OpenMode::read_write);
      char ok = (d && d->exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS _holder(x);")) ? 'y' : 'n';
      (void)::write(ready[1], &ok, 1);
      char c;
      (void)::read(stop[0], &c, 1);  // EOF when the parent lets go
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(stop[0]);
    stop_ = stop[1];
    char ok = 'n';
    EXPECT_EQ(::read(ready[0], &ok, 1), 1);
    ::close(ready[0]);
    held_ = ok == 'y';
  }
  ~ExclusiveHolder() {
    ::close(stop_);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  bool held() const { return held_; }

 private:
  pid_t pid_ = -1;
  int stop_ = -1;
  bool held_ = false;
};

TEST(Faults, DatabaseLockedByAnotherProcessFailsClearlyAndChangesNothing) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string dump_before = s.dump();
  std::string config_before = slurp(s.topology);
  std::string pointer_before = s.pointer();
  {
    ExclusiveHolder holder(s.db);
    ASSERT_TRUE(holder.held());
    auto r = applier::apply(s.site, bundles().v120, quiet_env());  // waits out the busy timeout
    ASSERT_FALSE(r) << "apply went through a database another process holds exclusively";
    EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
    std::string msg = r.error().what();
    EXPECT_NE(msg.find("main.db"), std::string::npos) << msg;  // names the database
    EXPECT_NE(msg.find("locked"), std::string::npos) << msg;   // and the reason
  }
  EXPECT_EQ(s.dump(), dump_before);
  EXPECT_EQ(slurp(s.topology), config_before);
  EXPECT_EQ(s.pointer(), pointer_before);
  EXPECT_EQ(installed(s), "1.1.0");
  auto st = applier::status(s.site);
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->pending_phase);
  EXPECT_TRUE(s.integrity_ok());
  // Once the other process lets go, the same bundle goes through.
  auto again = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(again) << again.error().what();
}

TEST(Faults, HealthCheckThatHangsIsKilledAtItsDeadlineAndRollsBack) {
  // Passes on 1.1.0 (and in preflight) and hangs once 1.2.0 renamed items to items_v2. The sleep
  // is a grandchild (sh -c ...; not exec'd): the whole process group must go at the deadline.
  const std::string marker = "sleep 987.654321";
  SiteDir s(std::string("[[checks]]\nname = \"hangs\"\nkind = \"exec\"\nhard = true\ntimeout = \"1s\"\n"
                        "run = \"if sqlite3 main.db 'SELECT 1 FROM items_v2' >/dev/null 2>&1; then ") +
            marker + "; fi\"\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  ASSERT_EQ(installed(s), "1.1.0");
  ASSERT_FALSE(process_running(marker));
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(applier::report_class(*r), ErrorClass::rolled_back);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals[0].find("hangs"), std::string::npos) << r->failing_signals[0];
  EXPECT_NE(r->failing_signals[0].find("timed out"), std::string::npos) << r->failing_signals[0];
  // The reverse migration renames items_v2 back; SQLite then stores the name quoted ("items") in
  // the schema text. Same schema, same rows, same config and pointer.
  EXPECT_EQ(unquote_items(s.observable()), before);
  EXPECT_EQ(installed(s), "1.1.0");
  EXPECT_TRUE(eventually([&] { return !process_running(marker); }, 3000))
      << "the hung check's process outlived its deadline";
}

TEST(Faults, TwoAppliesAtOnceExactlyOneProceeds) {
  // The drain hook holds whichever apply got the lock until the other one has answered.
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\ndrain = { run = \"touch draining; while [ ! -f go ]; do sleep 0.02; done\", "
            "timeout = \"20s\" }\n\n");
  std::optional<Result<applier::RunReport>> a, b;
  std::atomic<int> ready{0}, answered{0};
  auto one = [&](std::optional<Result<applier::RunReport>>& out) {
    ready++;
    while (ready < 2) std::this_thread::yield();
    out.emplace(applier::apply(s.site, bundles().v110, quiet_env()));
    answered++;
  };
  std::thread ta([&] { one(a); });
  std::thread tb([&] { one(b); });
  // One of them answers busy while the other waits in its drain hook; then let it finish.
  bool one_answered = eventually([&] { return fs::exists(s.dir / "draining") && answered > 0; }, 15000);
  spit(s.dir / "go", "");
  ta.join();
  tb.join();
  ASSERT_TRUE(one_answered);
  int applied = 0, busy = 0;
  for (auto* r : {&*a, &*b}) {
    if (*r && (*r)->outcome == Outcome::applied) ++applied;
    if (!*r && r->error().cls() == ErrorClass::busy) ++busy;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(busy, 1);
  EXPECT_EQ(installed(s), "1.1.0");
  auto h = applier::history(s.site);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size(), 1u);  // the busy one left no trace
  EXPECT_TRUE(applier::audit_verify(s.site));
}

// A rollback by reverse migrations gives the old schema back, not its text: ALTER TABLE RENAME
// quotes names, and airlock's own bookkeeping table stays (empty). Compares everything else.
std::string rolled_back_view(std::string obs) {
  std::string out, line;
  std::istringstream in(obs);
  while (std::getline(in, line)) {
    if (line.find("'_airlock_migrations'") != std::string::npos || line == "-- table _airlock_migrations (0 rows)")
      continue;
    std::erase(line, '"');
    out += line + "\n";
  }
  return out;
}

// SIGTERM to the real binary while `hook` (drain: nothing written yet; resume: the release is
// already applied) is running. airlock records the signal, lets the running step finish, and
// then rolls the run back (docs/site.md, "Signals"): exit 30, no pending run, the old release
// byte for byte, the interruption named in history.
void sigterm_during(const std::string& hook) {
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\n" + hook + " = { run = \"touch in-hook; sleep 2\", timeout = \"10s\" }\n\n");
  std::string before = s.observable();
  pid_t pid = spawn({AIRLOCK_BIN, "apply", bundles().v110, "--site", s.site});
  ASSERT_TRUE(eventually([&] { return fs::exists(s.dir / "in-hook"); }));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << "airlock died of the signal instead of handling it: status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 30) << "an interrupted apply is rolled back";
  auto status = applier::status(s.site);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->pending_phase) << "nothing left for recover";
  EXPECT_EQ(status->installed, "");
  EXPECT_EQ(rolled_back_view(s.observable()), rolled_back_view(before));
  EXPECT_TRUE(s.integrity_ok());
  EXPECT_TRUE(!fs::exists(s.state + "/staging") || fs::is_empty(s.state + "/staging"));
  auto h = applier::history(s.site);
  ASSERT_TRUE(h && !h->empty());
  EXPECT_NE(h->back().detail.find("interrupted by SIGTERM after the " + hook + " phase"), std::string::npos)
      << h->back().detail;
  EXPECT_TRUE(applier::audit_verify(s.site));
  // recover finds nothing to do.
  auto rec = run(std::string(AIRLOCK_BIN) + " recover --site " + s.site + " 2>&1");
  EXPECT_EQ(rec.status, 0) << rec.output;
  EXPECT_EQ(rolled_back_view(s.observable()), rolled_back_view(before));
}

// Before the first write (here: during verify, which the fixture cannot slow down, so the signal
// is sent by the test's own Env before the run starts) the run stops with 33, nothing changed.
TEST(Faults, SignalBeforeTheFirstWriteStopsWithNothingChanged) {
  SiteDir s(SiteDir::kItemsCheck);
  std::string before = s.observable();
  applier::Env env;
  env.interrupted = [] { return SIGINT; };
  auto r = applier::apply(s.site, bundles().v110, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("interrupted by SIGINT after the preflight phase; nothing was changed"),
            std::string::npos)
      << r.error().what();
  EXPECT_EQ(s.observable(), before);
  auto status = applier::status(s.site);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->pending_phase);
}

// An Env whose "signal handler" has seen SIGTERM from the first event of `phase` on.
applier::Env signalled_from(const std::string& phase) {
  auto seen = std::make_shared<bool>(false);
  applier::Env env;
  env.events = [seen, phase](const applier::SiteEvent& e) { *seen = *seen || e.phase == phase; };
  env.interrupted = [seen] { return *seen ? SIGTERM : 0; };
  return env;
}

// A signal during verify stops it between chunks: exit 33, staging removed, nothing changed.
TEST(Faults, SignalDuringVerifyStopsItWithNothingChanged) {
  SiteDir s(SiteDir::kItemsCheck);
  std::string before = s.observable();
  applier::Env env = signalled_from("verify");
  auto r = applier::apply(s.site, bundles().v110, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("interrupted by SIGTERM during verify; nothing was changed"), std::string::npos)
      << r.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_TRUE(!fs::exists(s.state + "/staging") || fs::is_empty(s.state + "/staging"));
  auto status = applier::status(s.site);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->pending_phase);
}

// The signal handling:
// nohup: a SIGHUP ignored when airlock started stays ignored; the apply goes through.
TEST(Faults, SignalIgnoredAtStartStaysIgnored) {
  if (!fs::exists(AIRLOCK_BIN)) GTEST_SKIP() << "needs the airlock binary: build the `airlock` target";
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\ndrain = { run = \"touch in-hook; sleep 1\", timeout = \"10s\" }\n\n");
  pid_t pid = spawn({AIRLOCK_BIN, "apply", bundles().v110, "--site", s.site}, -1, SIGHUP);
  ASSERT_TRUE(eventually([&] { return fs::exists(s.dir / "in-hook"); }));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << "status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_EQ(installed(s), "1.1.0");
}

// `airlock apply 2>&1 | tee log` and Ctrl-C: tee is gone before airlock's next progress line.
// airlock must not die of SIGPIPE mid-run: it rolls back as for any signal.
TEST(Faults, SignalWithItsOutputPipeClosedStillRollsBackCleanly) {
  if (!fs::exists(AIRLOCK_BIN)) GTEST_SKIP() << "needs the airlock binary: build the `airlock` target";
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\ndrain = { run = \"touch in-hook; sleep 1\", timeout = \"10s\" }\n\n");
  std::string before = s.observable();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = spawn({AIRLOCK_BIN, "apply", bundles().v110, "--site", s.site}, fds[1]);
  ::close(fds[1]);
  ASSERT_TRUE(eventually([&] { return fs::exists(s.dir / "in-hook"); }));
  ::close(fds[0]);  // the reader is gone
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << "airlock died instead of finishing: status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 30);
  auto status = applier::status(s.site);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->pending_phase);
  EXPECT_EQ(rolled_back_view(s.observable()), rolled_back_view(before));
}

// A signal does not hide a verdict: a bundle for another product is refused by policy (13), not
// reported as an interruption (33).
TEST(Faults, SignalDoesNotHideTheBundlesVerdict) {
  SiteDir s(SiteDir::kItemsCheck);
  std::string text = slurp(s.site);
  text.replace(text.find("product = \"demo\""), 16, "product = \"other\"");
  spit(s.site, text);
  applier::Env env = signalled_from("verify");
  auto r = applier::apply(s.site, bundles().v110, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 13) << r.error().what();
}

// A rollback whose snapshot cannot be loaded (here: its SEALED marker removed by the drain hook,
// then a signal) ends degraded with a clear error; it used to retry on the unloaded snapshot.
TEST(Faults, RollbackWithAnUnsealedSnapshotEndsDegraded) {
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\ndrain = { run = \"touch drained; rm -f state/snapshots/*/SEALED\", timeout = \"5s\" }\n\n");
  applier::Env env;
  const auto flag = s.dir / "drained";
  env.interrupted = [flag] { return fs::exists(flag) ? SIGTERM : 0; };
  auto r = applier::apply(s.site, bundles().v110, env);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::degraded);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals.back().find("is not sealed"), std::string::npos) << r->failing_signals.back();
}

// A signal that arrives while the run is rolling back does not stop the rollback.
TEST(Faults, SignalDuringRollbackLetsItFinish) {
  SiteDir s(SiteDir::kItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110));
  std::string before = s.observable();
  applier::Env env = signalled_from("rollback");
  auto r = applier::apply(s.site, bundles().v120, env);  // 1.2.0 renames items: its hard check fails
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(rolled_back_view(s.observable()), rolled_back_view(before));
}

TEST(Faults, SigtermDuringDrainIsRolledBackToTheOldRelease) {
  if (!fs::exists(AIRLOCK_BIN)) GTEST_SKIP() << "needs the airlock binary: build the `airlock` target";
  sigterm_during("drain");
}

TEST(Faults, SigtermAfterTheReleaseWasAppliedIsUndoneToTheOldRelease) {
  if (!fs::exists(AIRLOCK_BIN)) GTEST_SKIP() << "needs the airlock binary: build the `airlock` target";
  sigterm_during("resume");
}

}  // namespace
}  // namespace airlock::test

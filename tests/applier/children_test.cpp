// The site's children (hooks and exec checks): their own process group, recorded in the journal and
// stopped by recover when airlock was killed; killed with their group on timeout and cancel; default
// signal dispositions, a clean AIRLOCK_* environment, output captured (never airlock's stdout); a
// reason when they cannot start; and the preflight that finds an unrunnable one before anything
// changes. Also the config rules around drain: a missing config file on an installed site, and a
// drain hook that edits the config.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "applier/applier.hpp"
#include "core/json_text.hpp"
#include "core/sys/process.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

template <class P>
bool eventually(P pred, int max_ms = 10000) {
  for (int waited = 0; waited < max_ms; waited += 20) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ...
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  std::vector<std::string> f;
  if (close == std::string::npos) return f;
  std::istringstream rest(line.substr(close + 1));
  for (std::string t; rest >> t;) f.push_back(t);
  return f;
}

bool alive(pid_t pid) {
  auto f = stat_fields(pid);
  return !f.empty() && f[0] != "Z" && f[0] != "X";
}

// Live (not zombie) processes in group pgid.
int live_in_group(pid_t pgid) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto f = stat_fields(static_cast<pid_t>(std::stol(name)));
    if (f.size() > 2 && f[0] != "Z" && f[2] == std::to_string(pgid)) ++n;
  }
  return n;
}

airlock::ProcessResult sh(const std::string& script, const std::string& cwd, std::int64_t timeout_ms = 5000,
                          const std::atomic<bool>* cancel = nullptr, std::vector<std::string> env = {}) {
  return airlock::run_process({{"/bin/sh", "-c", script}, cwd, timeout_ms, cancel, std::move(env), nullptr, "test"});
}

std::string hooks_of(const std::string& lines) { return "[hooks]\n" + lines + "\n"; }

// A resume hook (a script, run as argv) that writes "alive" or "gone" for the process group whose
// id the drain hook wrote to in-hook.
constexpr const char* kResumeSeesGroup =
    "#!/bin/sh\npg=$(cat in-hook)\nseen=gone\nfor f in /proc/[0-9]*/stat; do\n"
    "  s=$(cat \"$f\" 2>/dev/null) || continue\n  set -- ${s##*) }\n"
    "  if [ \"$1\" != Z ] && [ \"$3\" = \"$pg\" ]; then seen=alive; fi\ndone\necho $seen >> resume-saw\n";

// airlock killed with SIGKILL in the middle of its drain hook: the hook's shell dies with it, but
// what the shell started (here a second shell that sleeps, then writes) lives on in the hook's
// process group. recover stops that group before it runs resume; the orphan never writes.
TEST(Children, RecoverKillsTheOrphanedHookGroupBeforeResume) {
  if (!fs::exists(AIRLOCK_BIN)) GTEST_SKIP() << "needs the airlock binary: build the `airlock` target";
  SiteDir s(SiteDir::kItemsCheck,
            hooks_of("drain = { run = \"echo $$ > in-hook.tmp; mv in-hook.tmp in-hook; sh -c 'sleep 4; touch "
                     "orphan-wrote'; true\", timeout = \"60s\" }\nresume = { run = [\"./resume.sh\"] }"));
  spit(s.dir / "resume.sh", kResumeSeesGroup);
  fs::permissions(s.dir / "resume.sh", fs::perms::owner_all);
  pid_t pid = spawn({AIRLOCK_BIN, "apply", bundles().v110, "--site", s.site});
  ASSERT_TRUE(eventually([&] { return fs::exists(s.dir / "in-hook"); }));
  pid_t pgid = static_cast<pid_t>(std::stol(slurp(s.dir / "in-hook")));
  ASSERT_TRUE(eventually([&] { return live_in_group(pgid) >= 2; }));  // the shell and its child
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_GE(live_in_group(pgid), 1) << "the orphan is left running";

  auto rec = run(std::string(AIRLOCK_BIN) + " recover --site " + s.site);
  EXPECT_EQ(rec.status, 0) << rec.output;
  EXPECT_NE(rec.output.find("stopped the drain hook left running"), std::string::npos) << rec.output;
  EXPECT_EQ(slurp(s.dir / "resume-saw"), "gone\n") << "resume ran while the drain hook's group was still alive";
  EXPECT_EQ(live_in_group(pgid), 0);
  std::this_thread::sleep_until(killed_at + std::chrono::milliseconds(4500));
  EXPECT_FALSE(fs::exists(s.dir / "orphan-wrote"));
}

// Makes a crashed run (killed right after its snapshot) whose journal names `child` as running.
void crashed_run_naming(const SiteDir& s, const airlock::ChildId& child) {
  ASSERT_EQ(in_child("after_snapshot", [&] { return static_cast<bool>(applier::apply(s.site, bundles().v110)); }), 99);
  auto d = db::Database::open(s.state + "/state.db", db::OpenMode::read_write);
  ASSERT_TRUE(d);
  nlohmann::json kids = nlohmann::json::array(
      {{{"pgid", child.pgid}, {"start", child.start_ticks}, {"boot", child.boot_id}, {"what", "drain hook"}}});
  ASSERT_TRUE(d->query("UPDATE run SET data = json_set(data, '$.children', json(?))", {dump_json(kids)}));
}

// A process group the test owns, standing in for one whose id was handed out again.
pid_t decoy_group() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

// A recorded group whose leader's start time differs is somebody else's: never killed. The same
// record with the right start time is (so the test can tell the two apart).
TEST(Children, RecoverNeverKillsAReusedGroupId) {
  SiteDir s;
  pid_t decoy = decoy_group();
  ASSERT_TRUE(eventually([&] { return alive(decoy); }));
  auto start = airlock::process_start_ticks(decoy);
  ASSERT_TRUE(start);
  crashed_run_naming(s, {decoy, *start + 1, airlock::current_boot_id()});
  ASSERT_TRUE(applier::recover(s.site, quiet_env()));
  EXPECT_TRUE(alive(decoy)) << "a group with another start time was killed";
  crashed_run_naming(s, {decoy, *start, "another-boot"});
  ASSERT_TRUE(applier::recover(s.site, quiet_env()));
  EXPECT_TRUE(alive(decoy)) << "a group recorded in another boot was killed";

  crashed_run_naming(s, {decoy, *start, airlock::current_boot_id()});
  ASSERT_TRUE(applier::recover(s.site, quiet_env()));
  EXPECT_FALSE(alive(decoy)) << "the recorded group was not stopped";
  ::kill(decoy, SIGKILL);
  ::waitpid(decoy, nullptr, 0);
}

// On a timeout and on a cancel the whole group dies, not only the shell.
TEST(Children, TimeoutAndCancelKillTheWholeGroup) {
  TempDir d;
  auto r = sh("sleep 30 & echo $! > bg.pid; wait", d.str(), 300);
  EXPECT_TRUE(r.timed_out);
  ASSERT_TRUE(eventually([&] { return fs::exists(d / "bg.pid"); }));
  pid_t bg = static_cast<pid_t>(std::stol(slurp(d / "bg.pid")));
  EXPECT_TRUE(eventually([&] { return !alive(bg); }, 2000)) << "a timed-out child's background process lives on";

  std::atomic<bool> cancel{false};
  std::thread t([&] {
    eventually([&] { return fs::exists(d / "bg2.pid"); });
    cancel = true;
  });
  r = sh("sleep 30 & echo $! > bg2.pid; wait", d.str(), 20000, &cancel);
  t.join();
  EXPECT_TRUE(r.cancelled);
  bg = static_cast<pid_t>(std::stol(slurp(d / "bg2.pid")));
  EXPECT_TRUE(eventually([&] { return !alive(bg); }, 2000)) << "a cancelled child's background process lives on";
}

// airlock ignores SIGPIPE (and a nohup'd airlock SIGHUP) and may block signals in a thread; its
// children start with every disposition at its default and nothing blocked.
TEST(Children, ChildrenGetDefaultSignalDispositions) {
  TempDir d;
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  auto old_hup = ::signal(SIGHUP, SIG_IGN);
  sigset_t usr, old_mask;
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &usr, &old_mask);
  auto r = sh("grep -E '^Sig(Ign|Blk)' /proc/self/status", d.str());
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  ::signal(SIGHUP, old_hup);
  ASSERT_TRUE(r.ok()) << r.describe() << r.output;
  EXPECT_NE(r.output.find("SigBlk:\t0000000000000000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("SigIgn:\t0000000000000000"), std::string::npos) << r.output;
  // And a pipeline whose reader quits early ends the writer with SIGPIPE, as in a shell.
  r = sh("yes | head -n 1 >/dev/null; echo done", d.str());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.output, "done\n");
}

// A stale AIRLOCK_* in airlock's own environment never reaches a hook: only what airlock sets.
TEST(Children, HookSeesNoStaleAirlockVariables) {
  SiteDir s(SiteDir::kItemsCheck, hooks_of("drain = { run = \"env | grep ^AIRLOCK_ | sort > env.log\" }"));
  ::setenv("AIRLOCK_TO", "9.9.9-stale", 1);
  ::setenv("AIRLOCK_STALE", "1", 1);
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ::unsetenv("AIRLOCK_TO");
  ::unsetenv("AIRLOCK_STALE");
  ASSERT_TRUE(r) << r.error().what();
  // AIRLOCK_AUDIT_HEAD is "0": nothing is in the audit log of a new site yet.
  EXPECT_EQ(slurp(s.dir / "env.log"),
            "AIRLOCK_AUDIT_HEAD=0\nAIRLOCK_FROM=\nAIRLOCK_PHASE=drain\nAIRLOCK_SITE=test\nAIRLOCK_TO=1.1.0\n");
}

// Output goes to a pipe: kept (the last 64 KiB, printable) and never written to airlock's stdout.
TEST(Children, OutputIsCapturedBoundedAndPrintable) {
  TempDir d;
  auto r = sh("echo out; echo err >&2; printf 'bad \\377 esc \\033[2J\\n'", d.str());
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.output, "out\nerr\nbad \\xFF esc \\u001B[2J\n");
  r = sh("head -c 200000 /dev/zero | tr '\\0' a; echo; echo last", d.str());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.output.size(), airlock::kMaxChildOutput);
  EXPECT_TRUE(r.output.ends_with("a\nlast\n"));
}

// A file that is not executable is reported as such (errno from the child), not as exit 127.
TEST(Children, NonExecutableFileReportsTheRealReason) {
  TempDir d;
  spit(d / "hook.sh", "#!/bin/sh\nexit 0\n");
  fs::permissions(d / "hook.sh", fs::perms::owner_read | fs::perms::owner_write);
  auto r = airlock::run_process({{"./hook.sh"}, d.str(), 5000, nullptr, {}, nullptr, "test"});
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.describe(), "could not start: cannot execute '" + (d / "hook.sh").string() + "': Permission denied");
  r = airlock::run_process({{"./missing.sh"}, d.str(), 5000, nullptr, {}, nullptr, "test"});
  EXPECT_NE(r.describe().find("No such file or directory"), std::string::npos) << r.describe();
  r = airlock::run_process({{"no-such-command-here"}, d.str(), 5000, nullptr, {}, nullptr, "test"});
  EXPECT_NE(r.describe().find("is not found in PATH"), std::string::npos) << r.describe();
}

// Preflight refuses a hook or an exec check that cannot start, naming it, before verify and
// snapshot: exit 33, nothing changed (no snapshot taken). A resume hook that cannot start used to
// be found only after the release was in, and every apply ended DEGRADED.
TEST(Children, PreflightRefusesAnUnrunnableHookWithNothingChanged) {
  for (const std::string hook : {"drain", "resume", "notify"}) {
    SiteDir s(SiteDir::kItemsCheck, hooks_of(hook + " = { run = [\"./" + hook + ".sh\"] }"));
    spit(s.dir / (hook + ".sh"), "#!/bin/sh\nexit 0\n");
    fs::permissions(s.dir / (hook + ".sh"), fs::perms::owner_read | fs::perms::owner_write);
    std::string before = s.observable();
    auto r = applier::apply(s.site, bundles().v110, quiet_env());
    ASSERT_FALSE(r) << hook;
    EXPECT_EQ(exit_code(r.error().cls()), 33);
    EXPECT_NE(
        r.error().what().find(hook + " hook cannot run: '" + (s.dir / (hook + ".sh")).string() + "' is not executable"),
        std::string::npos)
        << r.error().what();
    EXPECT_EQ(s.observable(), before);
    EXPECT_TRUE(!fs::exists(s.state + "/snapshots") || fs::is_empty(s.state + "/snapshots"));
  }
  SiteDir s(std::string(SiteDir::kItemsCheck) +
            "\n[[checks]]\nname = \"probe\"\nkind = \"exec\"\nrun = [\"nope-cmd\"]\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("check 'probe' cannot run: 'nope-cmd' is not found in PATH"), std::string::npos)
      << r.error().what();
}

TEST(Children, PreflightRefusesAMissingBundle) {
  SiteDir s;
  std::string before = s.observable();
  auto r = applier::apply(s.site, (s.dir / "no-such.tar.zst").string(), quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("no-such.tar.zst' does not exist"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

// Services may be half stopped after a drain that failed or timed out: resume runs either way, and
// the hook's own words are in the error and in history.
TEST(Children, ResumeRunsAfterAFailedOrTimedOutDrain) {
  for (const std::string& drain : {std::string("{ run = \"echo stopping; echo disk busy >&2; exit 3\" }"),
                                   std::string("{ run = \"echo stopping; sleep 30\", timeout = 300 }")}) {
    SiteDir s(SiteDir::kItemsCheck,
              hooks_of("drain = " + drain + "\nresume = { run = \"echo resumed >> hooks.log\" }"));
    std::string before = s.observable();
    auto r = applier::apply(s.site, bundles().v110, quiet_env());
    ASSERT_FALSE(r);
    EXPECT_EQ(exit_code(r.error().cls()), 33);
    EXPECT_EQ(slurp(s.dir / "hooks.log"), "resumed\n") << drain;
    EXPECT_EQ(s.observable(), before);
    auto h = applier::history(s.site);
    ASSERT_TRUE(h && !h->empty());
    EXPECT_NE(h->back().detail.find("stopping"), std::string::npos) << h->back().detail;
    auto steps = nlohmann::json::parse(h->back().steps_json);
    bool kept = false;
    for (const auto& st : steps)
      kept |= st.value("hook", "") == "drain" && st.value("output", "").starts_with("stopping\n");
    EXPECT_TRUE(kept) << h->back().steps_json;
  }
}

// The notify hook is told why the run failed.
TEST(Children, NotifyHookGetsTheFailureReason) {
  SiteDir s(
      SiteDir::kItemsCheck,
      hooks_of(
          "drain = { run = \"echo no room; exit 3\" }\n"
          "notify = { run = \"printf '%s|%s\\\\n' \\\"$AIRLOCK_OUTCOME\\\" \\\"$AIRLOCK_DETAIL\\\" > notify.log\" }"));
  ASSERT_FALSE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string got = slurp(s.dir / "notify.log");
  EXPECT_EQ(got.rfind("aborted|drain hook failed (exit code 3: no room); nothing was applied", 0), 0u) << got;
}

// A [config] file missing on an installed site is a typo in site.toml: 33 before anything changes,
// never a new file holding only the delta's keys.
TEST(Children, MissingConfigOnAnInstalledSiteIsRefused) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  fs::remove(s.topology);
  std::string before = s.dump() + s.pointer();
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("config 'topology': file '" + s.topology + "' does not exist"), std::string::npos)
      << r.error().what();
  EXPECT_FALSE(fs::exists(s.topology));
  EXPECT_EQ(s.dump() + s.pointer(), before);
}

// The delta is planned again on the text the drain hook left: its edits are kept, and a
// [require] that no longer holds stops the run (33, resume ran, nothing applied).
TEST(Children, ConfigEditedByTheDrainHookIsNotOverwritten) {
  SiteDir keep(SiteDir::kItemsCheck,
               hooks_of("drain = { run = \"printf '\\\\n[drained]\\\\nat = 1\\\\n' >> topology.toml\" }"));
  auto r = applier::apply(keep.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  std::string text = slurp(keep.topology);
  EXPECT_NE(text.find("[drained]"), std::string::npos) << text;
  EXPECT_NE(text.find("mode = \"fast\""), std::string::npos) << text;

  SiteDir flip(SiteDir::kItemsCheck, hooks_of("drain = { run = \"sed -i 's/safe/manual/' topology.toml\" }\n"
                                              "resume = { run = \"echo resumed >> hooks.log\" }"));
  std::string db_before = flip.dump();
  r = applier::apply(flip.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 33);
  EXPECT_NE(r.error().what().find("the config changed during drain"), std::string::npos) << r.error().what();
  EXPECT_EQ(slurp(flip.dir / "hooks.log"), "resumed\n");
  EXPECT_NE(slurp(flip.topology).find("mode = \"manual\""), std::string::npos);
  EXPECT_EQ(flip.dump(), db_before);
  EXPECT_EQ(flip.pointer(), "");
}

}  // namespace
}  // namespace airlock::test

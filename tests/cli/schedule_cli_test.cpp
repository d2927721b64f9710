// `airlock schedule` and `airlock run-due` through the real binary on a copy of the demo site,
// driven through time by the test build's clock (AIRLOCK_TEST_NOW), never by sleeping: a release
// scheduled a minute ahead is applied by run-due at its time; two run-due at once apply it once;
// a time in the past exits 2. The shipped systemd units pass `systemd-analyze verify`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/sys/time.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

class ScheduleCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!AIRLOCK_BIN_HAS_CRASH_POINTS) GTEST_SKIP() << "airlock built without AIRLOCK_TEST_HOOKS (no test clock)";
    airlock::test::copy_demo_site(dir.path());
    auto r = airlock::test::build_example("example", dir / "b110.tar.zst");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string at(std::int64_t from_now) const {
    return airlock::format_rfc3339(airlock::Timestamp{t0 + from_now, 0, 0});
  }
  // The binary with the test clock at t0 + from_now.
  std::string bin(std::int64_t from_now) const { return "AIRLOCK_TEST_NOW=" + at(from_now) + " " + kBin; }
  std::string site() const { return " --site " + q(dir / "site/site.toml"); }
  TempDir dir;
  std::int64_t t0 = airlock::now_utc().unix_seconds;
};

}  // namespace

TEST_F(ScheduleCli, AReleaseScheduledAMinuteAheadIsAppliedByRunDueAtItsTime) {
  auto r =
      run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at " + at(60) + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["job"]["id"], 1);
  EXPECT_EQ(j["job"]["state"], "pending");
  EXPECT_EQ(j["job"]["at"], at(60));
  EXPECT_EQ(j["job"]["at_local"], at(60)) << "the demo site's zone is UTC";
  EXPECT_EQ(j["job"]["preflight_at"], at(0));
  fs::remove(dir / "b110.tar.zst");  // the stick leaves

  r = run(bin(10) + " run-due" + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["action"], "preflight") << r.output;
  r = run(bin(60) + " run-due" + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  j = json_of(r.output);
  EXPECT_EQ(j["outcome"], "applied") << r.output;
  EXPECT_EQ(j["to"], "1.1.0");
  r = run(kBin + " schedule list" + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("job 1  finished  v1.1.0"), std::string::npos) << r.output;
  r = run(kBin + " history" + site());
  EXPECT_NE(r.output.find("scheduled"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("applied"), std::string::npos) << r.output;
  EXPECT_EQ(run(kBin + " audit verify" + site()).status, 0);
}

TEST_F(ScheduleCli, TwoRunDueAtOnceApplyTheJobOnce) {
  auto r = run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at " + at(60) + site() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string one = bin(60) + " run-due" + site() + " --json >" + q(dir / "a.json") + " 2>/dev/null";
  const std::string two = bin(60) + " run-due" + site() + " --json >" + q(dir / "b.json") + " 2>/dev/null";
  r = run("( " + one + "; echo $? > " + q(dir / "a.rc") + " ) & ( " + two + "; echo $? > " + q(dir / "b.rc") +
          " ) & wait");
  EXPECT_EQ(slurp(dir / "a.rc"), "0\n");
  EXPECT_EQ(slurp(dir / "b.rc"), "0\n");
  int applied = 0;
  for (const char* f : {"a.json", "b.json"}) {
    auto j = json_of(slurp(dir / f));
    ASSERT_FALSE(j.is_discarded()) << slurp(dir / f);
    if (j.value("outcome", "") == "applied") {
      ++applied;
    } else {
      const std::string action = j.value("action", "");
      EXPECT_TRUE(action == "busy" || action == "none") << j.dump();
    }
  }
  EXPECT_EQ(applied, 1);
  r = run(kBin + " history --json" + site() + " 2>/dev/null");
  auto h = json_of(r.output);
  int applied_rows = 0;
  for (const auto& e : h["history"]) applied_rows += e.value("outcome", "") == "applied";
  EXPECT_EQ(applied_rows, 1) << r.output;
}

TEST_F(ScheduleCli, ATimeInThePastExitsTwoAndASecondJobThirteen) {
  auto r = run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at " + at(-60) + site() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("in the past"), std::string::npos) << r.output;
  r = run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at 25:00" + site() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  r = run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at 02:00" + site() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("02:00:00Z"), std::string::npos) << r.output;
  r = run(bin(0) + " schedule add " + q(dir / "b110.tar.zst") + " --at 03:00" + site() + " 2>&1");
  EXPECT_EQ(r.status, 13) << r.output;
  r = run(bin(0) + " schedule cancel 1" + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["job"]["state"], "cancelled");
  r = run(kBin + " schedule cancel 1" + site() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(run(kBin + " schedule --help").status, 0);
  EXPECT_EQ(run(kBin + " run-due --help").status, 0);
  r = run(kBin + " --help");
  EXPECT_NE(r.output.find("run-due"), std::string::npos);
  EXPECT_NE(r.output.find("schedule"), std::string::npos);
}

// The units as shipped, checked by systemd's own verifier (ExecStart pointed at this build's
// binary: the verifier wants an executable there, and the package puts it at /usr/bin/airlock).
TEST(SystemdUnits, RunDueServiceAndTimerPassSystemdAnalyzeVerify) {
  if (run("command -v systemd-analyze >/dev/null").status != 0) GTEST_SKIP() << "systemd-analyze is not installed";
  TempDir dir;
  for (const char* unit : {"airlock-run-due.service", "airlock-run-due.timer"}) {
    std::string text = slurp(kSrc + "/contrib/systemd/" + unit);
    const std::string bin = "/usr/bin/airlock";
    if (auto p = text.find(bin); p != std::string::npos) text.replace(p, bin.size(), kBin);
    spit(dir / unit, text);
  }
  const std::string timer = slurp(dir / "airlock-run-due.timer");
  EXPECT_NE(timer.find("OnCalendar=minutely"), std::string::npos);
  EXPECT_NE(timer.find("Persistent=true"), std::string::npos);
  EXPECT_NE(slurp(dir / "airlock-run-due.service").find("Type=oneshot"), std::string::npos);
  auto r = run("cd " + q(dir.path()) + " && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no " +
               "./airlock-run-due.service ./airlock-run-due.timer 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "") << "warnings are failures too";
}

// [[services]] and the DEGRADED stop through the real binary, on a copy of the demo site: services
// replaced in dependency order after the resume hook and restored in reverse on rollback (the order
// written by their own commands), readiness waited for and its failure rolled back, a cycle refused
// as a configuration error, and a degraded site refusing apply until `airlock ack`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

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

// The record's chain, written out of order: the file order must not decide.
const char* kChain = R"(
[[services]]
name = "personas"
restart = "echo restart personas >> order.txt"
after = ["agents"]

[[services]]
name = "agents"
restart = "echo restart agents >> order.txt"
rollback = "echo rollback agents >> order.txt"
after = ["orchestrator"]

[[services]]
name = "dashboard"
restart = "echo restart dashboard >> order.txt"
rollback = "echo rollback dashboard >> order.txt"
ready = "topology-readable"

[[services]]
name = "orchestrator"
restart = "echo restart orchestrator >> order.txt"
after = ["dashboard"]
ready = { kind = "exec", run = "test -s order.txt", timeout = "2s" }
)";

class ServicesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    for (const auto& [recipe, out] :
         {std::pair{"example", "b110.tar.zst"}, std::pair{"example-1.2.0", "b120.tar.zst"}}) {
      auto r =
          airlock::test::build_example(recipe, dir / out);
      ASSERT_EQ(r.status, 0) << r.output;
    }
    demo = slurp(dir / "site/site.toml");
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  void with(const std::string& extra) { spit(dir / "site/site.toml", demo + extra); }
  airlock::test::ProcResult apply(const std::string& bundle, const std::string& flags = "") {
    return run(kBin + " apply " + q(dir / bundle) + " --site " + site() + " " + flags);
  }
  std::string order() const { return slurp(dir / "site/order.txt"); }
  TempDir dir;
  std::string demo;
};

}  // namespace

TEST_F(ServicesCli, ReplacedInDependencyOrderAndRestoredInReverseOnRollback) {
  with(kChain);
  auto r = apply("b110.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(order(), "restart dashboard\nrestart orchestrator\nrestart agents\nrestart personas\n");
  // 1.2.0 fails the items check after every service was replaced: they come back last first, each
  // with its rollback command where it has one.
  r = apply("b120.tar.zst");
  ASSERT_EQ(r.status, 30) << r.output;
  EXPECT_EQ(order(),
            "restart dashboard\nrestart orchestrator\nrestart agents\nrestart personas\n"
            "restart dashboard\nrestart orchestrator\nrestart agents\nrestart personas\n"
            "restart personas\nrollback agents\nrestart orchestrator\nrollback dashboard\n");
  // Each command's result is in history's steps.
  r = run(kBin + " history --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto h = json_of(r.output)["history"];
  ASSERT_EQ(h.size(), 2u) << r.output;
  int commands = 0;
  for (const auto& s : h[1]["steps"])
    if (s.contains("service") && s["action"] != "ready") ++commands;
  EXPECT_EQ(commands, 8) << h[1]["steps"].dump();
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
}

TEST_F(ServicesCli, CycleInAfterIsAConfigurationErrorNamingIt) {
  with(R"(
[[services]]
name = "a"
restart = "true"
after = ["c"]

[[services]]
name = "b"
restart = "true"
after = ["a"]

[[services]]
name = "c"
restart = "true"
after = ["b"]
)");
  auto r = apply("b110.tar.zst");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("cycle: 'a' after 'c' after 'b' after 'a'"), std::string::npos) << r.output;
  r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir / "site/state/current"));
}

TEST_F(ServicesCli, UnknownNameInAfterIsAConfigurationError) {
  with("[[services]]\nname = \"a\"\nrestart = \"true\"\nafter = [\"db\"]\n");
  auto r = apply("b110.tar.zst");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("after = ['db'] names no [[services]] entry"), std::string::npos) << r.output;
}

// The next service starts only once the one before is ready: `slow` becomes ready a second after
// its restart returned, and `next` checks that it is.
TEST_F(ServicesCli, WaitsForReadinessBeforeTheNextService) {
  with(R"(
[[services]]
name = "next"
restart = "test -e slow.ready && echo next-saw-slow-ready >> order.txt"
after = ["slow"]

[[services]]
name = "slow"
restart = "rm -f slow.ready; (sleep 1; touch slow.ready) >/dev/null 2>&1 &"
ready = { kind = "exec", run = "test -e slow.ready", timeout = "1s" }
ready_within = "30s"
)");
  auto r = apply("b110.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(order(), "next-saw-slow-ready\n");
}

// Release 1.2.0 never gets `web` ready: the apply stops at it (`after-web` is not touched), rolls
// back before any health check ran, and restores `web` on the old release, where it is ready.
TEST_F(ServicesCli, ReadinessFailureRollsBack) {
  with(R"toml(
[[services]]
name = "after-web"
restart = "echo restart after-web >> order.txt"
after = ["web"]

[[services]]
name = "web"
restart = "echo restart web >> order.txt"
rollback = "echo rollback web >> order.txt"
ready = { kind = "exec", run = 'test "$(readlink state/current)" != releases/1.2.0' }
ready_within = "1s"
)toml");
  ASSERT_EQ(apply("b110.tar.zst").status, 0);
  auto r = apply("b120.tar.zst", "--json");
  ASSERT_EQ(r.status, 30) << r.output;
  EXPECT_EQ(order(), "restart web\nrestart after-web\nrestart web\nrollback web\n");
  auto j = json_of(r.output);
  ASSERT_FALSE(j["failing_signals"].empty()) << r.output;
  EXPECT_NE(j["failing_signals"][0].get<std::string>().find("service 'web' not ready"), std::string::npos) << r.output;
  EXPECT_EQ(fs::read_symlink(dir / "site/state/current").string(), "releases/1.1.0");
}

// A rollback that does not restore health leaves the site DEGRADED (31): every apply is refused
// (33, recorded) until an operator, after repairing it, runs `airlock ack`.
TEST_F(ServicesCli, DegradedSiteRefusesApplyUntilAck) {
  with(R"(
[[checks]]
name = "not-broken"
kind = "exec"
run = "test ! -e broken"
)");
  std::string text = slurp(dir / "site/site.toml");
  const auto at = text.find("resume = { run = ");
  text.replace(
      at, text.find('\n', at) - at,
      R"toml(resume = { run = 'if [ "$(readlink state/current)" = releases/1.2.0 ]; then touch broken; fi' })toml");
  spit(dir / "site/site.toml", text);
  ASSERT_EQ(apply("b110.tar.zst").status, 0);
  ASSERT_EQ(apply("b120.tar.zst").status, 31);
  auto st = json_of(run(kBin + " status --site " + site() + " --json").output);
  EXPECT_EQ(st["degraded"], true);
  ASSERT_TRUE(st["degraded_since"].is_string()) << st.dump();

  auto r = apply("b120.tar.zst");
  EXPECT_EQ(r.status, 33) << r.output;
  EXPECT_NE(
      r.output.find("site degraded since " + st["degraded_since"].get<std::string>() + ": run `airlock ack --site "),
      std::string::npos)
      << r.output;
  EXPECT_EQ(fs::read_symlink(dir / "site/state/current").string(), "releases/1.1.0");

  fs::remove(dir / "site/broken");  // the repair
  r = run(kBin + " ack --site " + site() + " --json --note 'removed the broken marker'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["degraded_since"], st["degraded_since"]);
  EXPECT_EQ(run(kBin + " ack --site " + site()).status, 2) << "nothing left to acknowledge";

  r = run(kBin + " history --site " + site() + " --json");
  auto h = json_of(r.output)["history"];
  ASSERT_EQ(h.size(), 4u) << r.output;
  EXPECT_EQ(h[2]["outcome"], "refused");
  EXPECT_EQ(h[3]["outcome"], "acknowledged");
  EXPECT_NE(h[3]["detail"].get<std::string>().find("removed the broken marker"), std::string::npos) << r.output;
  r = run(kBin + " audit export --site " + site() + " --json");
  auto entries = json_of(r.output)["entries"];
  EXPECT_EQ(entries.back()["kind"], "ack") << r.output;
  EXPECT_EQ(entries.back()["data"]["note"], "removed the broken marker");
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);

  // Applies run again: with the site's resume hook and the items check put right, 1.2.0 applies.
  text = demo;
  const auto items = text.find("[[checks]]\nname = \"items\"");
  text.erase(items, text.find("[[checks]]", items + 1) - items);
  spit(dir / "site/site.toml", text);
  r = apply("b120.tar.zst");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(run(kBin + " status --site " + site() + " --json").output)["degraded"], false);
}

// airlock killed while a service's restart command runs: `recover` stops what the command left
// running in its process group (recorded in the run record) and restores the service on the old
// release.
TEST_F(ServicesCli, RecoverStopsAKilledRunsServiceCommandAndRestoresTheService) {
  with(R"toml(
[[services]]
name = "slow"
restart = "echo restart slow >> order.txt; sleep 60 & echo $! > slow.pid; wait"
rollback = "echo rollback slow >> order.txt"
timeout = "2m"
)toml");
  // The first install has no release to go back to: give the site one (its restart ends when the
  // sleep it started is killed).
  ASSERT_EQ(
      run("cd " + q(dir / "site") + "; " + kBin +
          " apply ../b110.tar.zst --site site.toml &"
          "P=$!; for i in $(seq 1 300); do [ -s slow.pid ] && break; sleep 0.1; done; kill $(cat slow.pid); wait $P")
          .status,
      0);
  fs::remove(dir / "site/slow.pid");
  auto r = run("cd " + q(dir / "site") + " && (" + kBin + " apply ../b120.tar.zst --site site.toml >/dev/null 2>&1 & " +
               "P=$!; for i in $(seq 1 300); do [ -s slow.pid ] && break; sleep 0.1; done; kill -9 $P; wait $P; " +
               "kill -0 $(cat slow.pid) && echo sleep-alive)");
  ASSERT_NE(r.output.find("sleep-alive"), std::string::npos) << "the command's child outlives airlock: " << r.output;
  r = run(kBin + " recover --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["outcome"], "recovered_old") << r.output;
  // Gone, or a zombie left for a PID 1 that does not reap (a container's).
  EXPECT_NE(run("P=$(cat " + q(dir / "site/slow.pid") +
                "); if ! kill -0 $P 2>/dev/null || grep -q '^State:.*Z' /proc/$P/status; then echo gone; fi")
                .output.find("gone"),
            std::string::npos);
  EXPECT_EQ(order(), "restart slow\nrestart slow\nrollback slow\n");
  EXPECT_EQ(fs::read_symlink(dir / "site/state/current").string(), "releases/1.1.0");
}

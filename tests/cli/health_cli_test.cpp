// The health model through the real binary on a copy of the demo site (manifests/demo-site): the
// report's true times of the health phase, the demo's quorum group, and typing errors of the new
// site.toml keys as exit 2 naming the check and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;

class HealthCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
  }
  void build(const std::string& recipe, const std::string& out) {
    auto r =
        airlock::test::build_example(recipe, dir / out);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void append(const std::string& text) {
    std::ofstream f(dir / "site/site.toml", std::ios::app);
    f << "\n" << text;
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  TempDir dir;
};

}  // namespace

TEST_F(HealthCli, ReportGivesTheHealthPhaseTimesAndTheDemoGroup) {
  build("example", "b110.tar.zst");
  build("example-1.2.0", "b120.tar.zst");
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto ok = json_of(r.output);
  EXPECT_TRUE(ok["health_ms"].is_number_integer()) << r.output;
  bool group = false;
  for (const auto& c : ok["checks"])
    if (c["name"] == "site-files") group = c["kind"] == "group" && c["ok"] == true;
  EXPECT_TRUE(group) << r.output;

  r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 30) << r.output;
  auto rb = json_of(r.output);
  ASSERT_TRUE(rb["first_hard_failure_ms"].is_number_integer()) << r.output;
  ASSERT_TRUE(rb["rollback_start_ms"].is_number_integer()) << r.output;
  EXPECT_GE(rb["rollback_start_ms"].get<long>(), rb["first_hard_failure_ms"].get<long>());
  EXPECT_EQ(rb["rollback_start_ms"].get<long>() - rb["first_hard_failure_ms"].get<long>(),
            rb["signal_to_rollback_ms"].get<long>());

  r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site());
  EXPECT_EQ(r.status, 30) << r.output;
  EXPECT_NE(r.output.find("health phase: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rollback started at +"), std::string::npos) << r.output;
}

TEST_F(HealthCli, TypingErrorsOfTheNewKeysAreExit2NamingCheckAndKey) {
  const std::pair<std::string, std::string> cases[] = {
      {"[[checks]]\nname = \"late\"\nkind = \"http\"\nurl = \"http://127.0.0.1:8080/\"\nwithin = \"20m\"\n",
       "checks[4].within"},
      {"[[checks]]\nname = \"late\"\nkind = \"exec\"\nrun = \"true\"\nfirst_attempt = 1\n", "checks[4].first_attempt"},
      {"[[checks]]\nname = \"late\"\nkind = \"exec\"\nrun = \"true\"\n"
       "when = { config = \"topology\", key = \"bgp\", equals = {} }\n",
       "checks[4].when.equals"},
      {"[[checks]]\nname = \"late\"\nkind = \"systemd\"\nunit = \"a.service\"\nmax_restarts = 1.5\n",
       "checks[4].max_restarts"},
      {"[[check_groups]]\nname = \"g\"\nchecks = [\"nope\"]\nmin_pass = 1\n",
       "check_groups[1].checks: no check named 'nope'"},
  };
  const std::string original = airlock::test::slurp(dir / "site/site.toml");
  for (const auto& [text, key] : cases) {
    {
      std::ofstream f(dir / "site/site.toml", std::ios::trunc);
      f << original;
    }
    append(text);
    auto r = run(kBin + " status --site " + site());
    EXPECT_EQ(r.status, 2) << text << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << r.output;
    if (text.rfind("[[checks]]", 0) == 0) {
      EXPECT_NE(r.output.find("check 'late'"), std::string::npos) << r.output;
    }
  }
}

// One outcome vocabulary: the same run shows the same outcome word in `apply --json` /
// `rollback --json` / `snapshot restore`, in `history --json` and in its audit log entry.
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
using airlock::test::TempDir;
using nlohmann::json;

namespace {

std::pair<std::string, std::string> both(const std::string& word) { return {word, word}; }

const std::string kBin = AIRLOCK_BIN;

class OutcomeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    for (const auto& [recipe, out] :
         {std::pair{"example", "b110.tar.zst"}, std::pair{"example-1.2.0", "b120.tar.zst"}}) {
      auto r =
          airlock::test::build_example(recipe, dir / out);
      ASSERT_EQ(r.status, 0) << r.output;
    }
  }
  std::string site() const { return q(dir / "site/site.toml"); }

  // The outcome of the newest history row and of the newest run entry of the audit log, which
  // must name the same run.
  std::pair<std::string, std::string> recorded() const {
    auto h = json_of(run(kBin + " history --site " + site() + " --json").output)["history"];
    auto a = json_of(run(kBin + " audit export --site " + site() + " --json").output)["entries"];
    if (!h.is_array() || h.empty() || !a.is_array()) return {"(no history)", "(no audit)"};
    const json& last = h.back();
    for (auto it = a.rbegin(); it != a.rend(); ++it) {
      const json& d = (*it)["data"];
      if (d.is_object() && d.value("run", "") != "" && d.contains("outcome")) {
        EXPECT_EQ(d["kind"], (*it)["kind"]);
        return {last["outcome"].get<std::string>(), d["outcome"].get<std::string>()};
      }
    }
    return {last["outcome"].get<std::string>(), "(no run entry)"};
  }

  TempDir dir;
};

}  // namespace

TEST_F(OutcomeCli, EachRunShowsOneWordInJsonHistoryAndAudit) {
  // applied
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["outcome"], "applied");
  EXPECT_EQ(recorded(), both("applied"));

  // rolled_back: the demo 1.2.0 fails the site's items check
  r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 30) << r.output;
  EXPECT_EQ(json_of(r.output)["outcome"], "rolled_back");
  EXPECT_EQ(recorded(), both("rolled_back"));

  // refused: nothing before 1.1.0 to roll back to
  r = run(kBin + " rollback --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(recorded(), both("refused"));

  // restored
  r = run(kBin + " snapshot create --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string id = json_of(r.output)["snapshot"]["id"].get<std::string>();
  r = run(kBin + " snapshot restore " + q(id) + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(recorded(), both("restored"));
}

TEST_F(OutcomeCli, ManualRollbackIsRevertedEverywhere) {
  // A 1.2.0 the demo site finds healthy: its items check is replaced by one 1.2.0 passes.
  std::string toml = airlock::test::slurp(dir / "site/site.toml");
  const std::string from = "query = \"SELECT count(*) FROM items\"\nexpect = 3";
  const auto at = toml.find(from);
  ASSERT_NE(at, std::string::npos);
  toml.replace(at, from.size(), "query = \"SELECT 3\"\nexpect = 3");
  airlock::test::spit(dir / "site/site.toml", toml);
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site()).status, 0);
  auto r = run(kBin + " rollback --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["outcome"], "reverted");
  EXPECT_EQ(j["kind"], "rollback");
  EXPECT_EQ(recorded(), both("reverted"));
}

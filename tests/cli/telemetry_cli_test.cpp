// Telemetry, the pending job in status and apply --dry-run through the real binary on a copy of the
// demo site: export twice and --all, summarize with a duplicate and a malformed line (exit 10
// naming file and line), feed promote --telemetry, status --json's scheduled job, and a dry run that
// leaves every byte of the site as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
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
const std::string kSrc = AIRLOCK_SOURCE_DIR;

class TelemetryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(kSrc + "/manifests/demo-site", dir / "site", fs::copy_options::recursive);
    fs::create_directories(dir / "site/data");
    fs::copy_file(kSrc + "/keys/trust.toml", dir / "site/trust.toml");
    for (const auto& [recipe, out] : {std::pair{"example", "b110.tar.zst"}, {"example-1.2.0", "b120.tar.zst"}}) {
      auto r =
          airlock::test::build_example(recipe, dir / out);
      ASSERT_EQ(r.status, 0) << r.output;
    }
  }
  std::string site() const { return " --site " + q(dir / "site/site.toml"); }
  void enable() { spit(dir / "site/site.toml", slurp(dir / "site/site.toml") + "\n[telemetry]\nenabled = true\n"); }
  TempDir dir;
};

std::map<std::string, std::string> tree(const fs::path& d) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(d))
    out[fs::relative(e.path(), d).string()] = e.is_symlink()        ? fs::read_symlink(e.path()).string()
                                              : e.is_regular_file() ? slurp(e.path())
                                                                    : "<dir>";
  return out;
}

}  // namespace

TEST_F(TelemetryCli, ExportSummarizeAndPromote) {
  enable();
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + site() + " 2>&1").status, 0);
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b120.tar.zst") + site() + " 2>&1").status, 30);
  auto e1 = run(kBin + " telemetry export --out " + q(dir / "e1.jsonl") + site() + " --json");
  ASSERT_EQ(e1.status, 0) << e1.output;
  EXPECT_EQ(json_of(e1.output)["rows"], 2);
  auto e2 = run(kBin + " telemetry export --out " + q(dir / "e2.jsonl") + site() + " --json");
  ASSERT_EQ(e2.status, 0) << e2.output;
  EXPECT_EQ(json_of(e2.output)["rows"], 0) << "nothing new";
  auto e3 = run(kBin + " telemetry export --out " + q(dir / "e3.jsonl") + site() + " --all --json");
  ASSERT_EQ(e3.status, 0) << e3.output;
  EXPECT_EQ(json_of(e3.output)["rows"], 2);
  auto again = run(kBin + " telemetry export --out " + q(dir / "e1.jsonl") + site() + " 2>&1");
  EXPECT_EQ(again.status, 2) << again.output;

  auto s = run(kBin + " telemetry summarize " + q(dir / "e1.jsonl") + " " + q(dir / "e2.jsonl") + " " +
               q(dir / "e3.jsonl") + " --json");
  ASSERT_EQ(s.status, 0) << s.output;
  auto j = json_of(s.output);
  EXPECT_EQ(j["runs"], 2);
  EXPECT_EQ(j["duplicates"], 2);
  ASSERT_EQ(j["versions"].size(), 2u);
  EXPECT_EQ(j["versions"][1]["version"], "1.2.0");
  EXPECT_EQ(j["versions"][1]["rollbacks"], 1);
  auto text = run(kBin + " telemetry summarize " + q(dir / "e1.jsonl"));
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("demo 1.1.0 (recommended): 1 runs at 1 site(s); first attempt succeeded at 1 of 1"),
            std::string::npos)
      << text.output;

  // A malformed line: exit 10 naming the file and the line.
  spit(dir / "bad.jsonl", slurp(dir / "e1.jsonl") + "{\"schema\":\"airlock-telemetry/1\"}\n");
  auto bad = run(kBin + " telemetry summarize " + q(dir / "bad.jsonl") + " 2>&1");
  EXPECT_EQ(bad.status, 10) << bad.output;
  EXPECT_NE(bad.output.find((dir / "bad.jsonl").string() + "' line 3"), std::string::npos) << bad.output;

  // feed promote --telemetry prints the promoted version's summary; a malformed export leaves the feed.
  const auto feed = q(dir / "feed.toml");
  ASSERT_EQ(run(kBin + " feed init " + feed + " --product demo 2>&1").status, 0);
  ASSERT_EQ(run(kBin + " feed add " + feed + " " + q(dir / "b110.tar.zst") + " --channel beta --trust " +
                q(kSrc + "/keys/trust.toml") + " 2>&1")
                .status,
            0);
  const std::string before = slurp(dir / "feed.toml");
  auto refused = run(kBin + " feed promote " + feed + " 1.1.0 --to rc --telemetry " + q(dir / "bad.jsonl") + " 2>&1");
  EXPECT_EQ(refused.status, 10) << refused.output;
  EXPECT_EQ(slurp(dir / "feed.toml"), before);
  auto promoted = run(kBin + " feed promote " + feed + " 1.1.0 --to rc --telemetry " + q(dir / "e1.jsonl") + " " +
                      q(dir / "e3.jsonl") + " --json");
  ASSERT_EQ(promoted.status, 0) << promoted.output;
  auto pj = json_of(promoted.output);
  ASSERT_EQ(pj["telemetry"]["versions"].size(), 1u) << promoted.output;
  EXPECT_EQ(pj["telemetry"]["versions"][0]["version"], "1.1.0");
  EXPECT_EQ(pj["telemetry"]["versions"][0]["first_attempt_success_rate"], 1.0);
}

TEST_F(TelemetryCli, StatusShowsThePendingJob) {
  auto add = run(kBin + " schedule add " + q(dir / "b110.tar.zst") + " --at 2099-01-01T05:00:00Z" + site() +
                 " --json 2>/dev/null");
  ASSERT_EQ(add.status, 0) << add.output;
  auto st = run(kBin + " status" + site() + " --json");
  ASSERT_EQ(st.status, 0) << st.output;
  auto j = json_of(st.output)["scheduled"];
  EXPECT_EQ(j["id"], 1);
  EXPECT_EQ(j["version"], "1.1.0");
  EXPECT_EQ(j["at"], "2099-01-01T05:00:00Z");
  EXPECT_EQ(j["at_local"], "2099-01-01T05:00:00Z");
  EXPECT_EQ(j["preflight_at"], "2099-01-01T04:30:00Z");
  auto text = run(kBin + " status" + site());
  EXPECT_NE(text.output.find("scheduled   job 1 (pending): v1.1.0 at 2099-01-01T05:00:00Z"), std::string::npos)
      << text.output;
  ASSERT_EQ(run(kBin + " schedule cancel 1" + site() + " 2>&1").status, 0);
  EXPECT_TRUE(json_of(run(kBin + " status" + site() + " --json").output)["scheduled"].is_null());
}

TEST_F(TelemetryCli, DryRunChangesNothing) {
  // Nothing installed: the plan says its preflight checks only measure (a failing one stops no
  // first install), in words and in --json.
  auto first = run(kBin + " apply " + q(dir / "b110.tar.zst") + site() + " --dry-run 2>/dev/null");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("would go ahead (nothing is installed yet: the preflight checks only measure)"),
            std::string::npos)
      << first.output;
  EXPECT_EQ(first.output.find("FAILS"), std::string::npos) << first.output;
  auto first_json =
      json_of(run(kBin + " apply " + q(dir / "b110.tar.zst") + site() + " --dry-run --json 2>/dev/null").output);
  EXPECT_EQ(first_json["preflight_measures_only"], true);
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + site() + " 2>&1").status, 0);
  const auto before = tree(dir / "site");
  auto r = run(kBin + " apply " + q(dir / "b120.tar.zst") + site() + " --dry-run --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(tree(dir / "site"), before) << "state.db, the audit log, databases and config byte-identical";
  auto j = json_of(r.output);
  EXPECT_EQ(j["dry_run"], true);
  EXPECT_EQ(j["from"], "1.1.0");
  EXPECT_EQ(j["to"], "1.2.0");
  EXPECT_EQ(j["would_apply"], true);
  EXPECT_EQ(j["preflight_measures_only"], false);
  ASSERT_EQ(j["migrations"].size(), 1u);
  EXPECT_EQ(j["migrations"][0]["irreversible"], false);
  auto text = run(kBin + " apply " + q(dir / "b120.tar.zst") + site() + " --dry-run 2>/dev/null");
  EXPECT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("migration 0003_rename_items on main"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("  the apply would go ahead\n"), std::string::npos) << text.output;
  EXPECT_EQ(tree(dir / "site"), before);
  EXPECT_EQ(run(kBin + " audit verify" + site() + " 2>&1").status, 0);
}

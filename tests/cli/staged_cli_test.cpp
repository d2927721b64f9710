// `airlock stage`, `airlock staged` and `apply --staged` through the real binary, on a copy of the
// demo site: exit codes of spec §8, valid JSON, a tampered staged file named in the refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

class StagedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    auto r = airlock::test::build_example("example", dir / "b110.tar.zst");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  // Stages b110 and returns its key.
  std::string stage() {
    auto r = run(kBin + " stage " + q(dir / "b110.tar.zst") + " --site " + site() + " --json");
    EXPECT_EQ(r.status, 0) << r.output;
    auto j = json_of(r.output);
    EXPECT_FALSE(j.is_discarded()) << r.output;
    return j.is_discarded() ? "" : j["staged"]["sha256"].get<std::string>();
  }
  TempDir dir;
};

}  // namespace

TEST_F(StagedCli, StageListApplyAsJson) {
  const std::string sha = stage();
  ASSERT_EQ(sha.size(), 64u);
  auto r = run(kBin + " staged --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);  // the whole of stdout is one document
  ASSERT_FALSE(j.is_discarded()) << r.output;
  ASSERT_EQ(j["staged"].size(), 1u) << r.output;
  EXPECT_EQ(j["staged"][0]["sha256"], sha);
  EXPECT_EQ(j["staged"][0]["version"], "1.1.0");
  EXPECT_TRUE(j["staged"][0]["problem"].is_null());
  r = run(kBin + " staged list --site " + site());
  EXPECT_NE(r.output.find(sha + "  v1.1.0"), std::string::npos) << r.output;

  r = run(kBin + " apply --staged " + sha.substr(0, 10) + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["to"], "1.1.0");
  r = run(kBin + " staged --site " + site() + " --json");
  EXPECT_EQ(json_of(r.output)["staged"].size(), 0u) << r.output;
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
}

TEST_F(StagedCli, TamperedStagedFileExitsTwelveNamingIt) {
  const std::string sha = stage();
  ASSERT_FALSE(sha.empty());
  const fs::path payload = dir / "site/state/staged" / sha / "payload";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(payload))
    if (e.is_regular_file()) files.push_back(e.path());
  ASSERT_FALSE(files.empty());
  std::sort(files.begin(), files.end());
  { std::ofstream(files.front(), std::ios::app) << "-- appended after staging\n"; }
  auto r = run(kBin + " apply --staged " + sha + " --site " + site());
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find("'" + fs::relative(files.front(), payload).string() + "'"), std::string::npos) << r.output;
  r = run(kBin + " status --site " + site() + " --json");
  EXPECT_EQ(json_of(r.output)["installed"], "") << r.output;
}

TEST_F(StagedCli, UsageErrors) {
  EXPECT_EQ(run(kBin + " apply --site " + site()).status, 2);  // neither a bundle nor --staged
  EXPECT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --staged abcdef12 --site " + site()).status, 2);
  EXPECT_EQ(run(kBin + " apply --staged 0123456789abcdef --site " + site()).status, 2);  // not staged
  EXPECT_EQ(run(kBin + " staged remove --site " + site()).status, 2);
  EXPECT_EQ(run(kBin + " staged frobnicate --site " + site()).status, 2);
  EXPECT_EQ(run(kBin + " stage --help").status, 0);
  EXPECT_EQ(run(kBin + " staged --help").status, 0);
}

TEST_F(StagedCli, StagingAnUnsignedBundleExitsAsVerify) {
  auto r = run("cp " + q(dir / "b110.tar.zst") + " " + q(dir / "bad.tar.zst") +
               " && printf 'X' | dd of=" + q(dir / "bad.tar.zst") + " bs=1 seek=100 conv=notrunc 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto verify = run(kBin + " verify " + q(dir / "bad.tar.zst") + " --trust " + q(dir / "site/trust.toml"));
  ASSERT_NE(verify.status, 0);
  r = run(kBin + " stage " + q(dir / "bad.tar.zst") + " --site " + site());
  EXPECT_EQ(r.status, verify.status) << r.output;
  EXPECT_EQ(json_of(run(kBin + " staged --site " + site() + " --json").output)["staged"].size(), 0u);
}

TEST_F(StagedCli, KeptManifestAndSignatureCheckWithStockMinisign) {
  const std::string sha = stage();
  ASSERT_FALSE(sha.empty());
  const fs::path kept = dir / "site/state/staged" / sha;
  std::vector<fs::path> sigs;
  for (const auto& e : fs::directory_iterator(kept / "signatures")) sigs.push_back(e.path());
  ASSERT_EQ(sigs.size(), 1u);
  auto r = run("minisign -V -H -p " + q(kSrc + "/keys/demo-hq.pub") + " -m " + q(kept / "manifest.toml") + " -x " +
               q(sigs.front()));
  EXPECT_EQ(r.status, 0) << r.output;
}

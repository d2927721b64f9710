// `airlock scan` through the real binary, over a folder of real bundles built by the real bundler:
// whole and split bundles, a split one with a part missing, one signed by a key outside the trust
// root, one of another product, an AppleDouble file and a text file. Checked against its JSON;
// the folder and the site's state folder are compared byte for byte (and mtime) before and after.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;
using nlohmann::json;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;
const std::string kBuild = "SOURCE_DATE_EPOCH=1767225600 " + kBin + " build ";

// Every file under `root`: its bytes and its mtime.
std::map<std::string, std::pair<std::string, fs::file_time_type>> tree(const fs::path& root) {
  std::map<std::string, std::pair<std::string, fs::file_time_type>> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[e.path().string()] = {slurp(e.path()), e.last_write_time()};
  return out;
}

class ScanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    fs::create_directories(stick());
    build(kSrc + "/manifests/example/recipe.toml", kSrc + "/keys/demo-hq.key", dir / "b110.tar.zst");
    build(kSrc + "/manifests/example-1.2.0/recipe.toml", kSrc + "/keys/demo-hq.key", dir / "b120.tar.zst");
  }
  void build(const std::string& recipe, const std::string& key, const fs::path& out) {
    auto r = run(kBuild + q(recipe) + " --key " + q(key) + " --out " + q(out));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // `bundle` cut into `n` parts named <name>.part0001...
  void split(const fs::path& bundle, const std::string& name, int n) {
    auto r = run("split -n " + std::to_string(n) + " -a 4 --numeric-suffixes=1 " + q(bundle) + " " +
                 q(stick() / (name + ".part")));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The demo recipe as another product.
  void build_other_product(const fs::path& out) {
    fs::copy(kSrc + "/manifests/example", dir / "other", fs::copy_options::recursive);
    auto r = run("sed -i 's/^product = \"demo\"/product = \"other\"/' " + q(dir / "other/recipe.toml"));
    ASSERT_EQ(r.status, 0) << r.output;
    build((dir / "other/recipe.toml").string(), kSrc + "/keys/demo-hq.key", out);
  }
  void build_foreign_key(const fs::path& out) {
    auto r = run(kBin + " keygen --no-password --out " + q(dir / "foreign"));
    ASSERT_EQ(r.status, 0) << r.output;
    build(kSrc + "/manifests/example/recipe.toml", (dir / "foreign.key").string(), out);
  }
  // b110 with one byte of a migration's text changed inside the tar, recompressed: the head and its
  // signatures are intact, the payload is not.
  void build_bad_payload(const fs::path& out) {
    auto r = run("zstd -q -d -c " + q(dir / "b110.tar.zst") + " > " + q(dir / "b110.tar"));
    ASSERT_EQ(r.status, 0) << r.output;
    std::string tar = slurp(dir / "b110.tar");
    const auto at = tar.find("CREATE TABLE items");
    ASSERT_NE(at, std::string::npos);
    tar[at] = 'c';
    spit(dir / "bad.tar", tar);
    r = run("zstd -q -c " + q(dir / "bad.tar") + " > " + q(out));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  json scan(const std::string& extra = "") {
    auto r = run(kBin + " scan " + q(stick()) + " --site " + q(dir / "site/site.toml") + " --json " + extra +
                 " 2>/dev/null");
    EXPECT_EQ(r.status, 0) << r.output;
    auto j = json::parse(r.output, nullptr, false);  // the whole of stdout is one document
    EXPECT_FALSE(j.is_discarded()) << r.output;
    return j;
  }
  static json by_file(const json& j, const std::string& file) {
    for (const auto& b : j["bundles"])
      if (b["file"] == file) return b;
    ADD_FAILURE() << "no bundle '" << file << "' in " << j.dump();
    return json::object();
  }
  fs::path stick() const { return dir / "stick"; }
  TempDir dir;
};

}  // namespace

TEST_F(ScanCli, ListsWholeSplitBrokenForeignAndIgnoredFilesAsJson) {
  fs::copy_file(dir / "b110.tar.zst", stick() / "demo-1.1.0.tar.zst");
  split(dir / "b120.tar.zst", "demo-1.2.0.tar.zst", 3);
  split(dir / "b110.tar.zst", "gap.tar.zst", 3);
  fs::remove(stick() / "gap.tar.zst.part0002");
  build_foreign_key(stick() / "unsigned.tar.zst");
  build_other_product(stick() / "other-1.1.0.tar.zst");
  spit(stick() / "._demo-1.1.0.tar.zst", std::string("\x00\x05\x16\x07", 4) + "Mac OS X");
  spit(stick() / "readme.txt", "the bundles for the site\n");
  fs::create_symlink(dir / "b120.tar.zst", stick() / "outside.tar.zst");  // never followed out of the stick

  const json j = scan();
  EXPECT_EQ(j["check"], "head");
  EXPECT_TRUE(j["installed"].is_null());
  EXPECT_EQ(j["channel"], "recommended");
  EXPECT_EQ(j["language"], "en");
  ASSERT_EQ(j["bundles"].size(), 5u) << j.dump(1);
  EXPECT_EQ(j["bundles"][0]["version"], "1.2.0");  // newest first

  const json whole = by_file(j, "demo-1.1.0.tar.zst");
  EXPECT_TRUE(whole["verified"]);
  EXPECT_TRUE(whole["applies"]) << whole.dump(1);
  EXPECT_EQ(whole["channel_source"], "manifest");
  EXPECT_EQ(whole["signers"].size(), 1u);
  EXPECT_EQ(whole["size"], fs::file_size(dir / "b110.tar.zst"));
  EXPECT_EQ(whole["summary"], "Item catalogue with prices; faster topology mode");
  EXPECT_TRUE(whole["parts"].is_null());

  const json split_ok = by_file(j, "demo-1.2.0.tar.zst");
  EXPECT_TRUE(split_ok["applies"]) << split_ok.dump(1);
  EXPECT_EQ(split_ok["parts"]["count"], 3);
  EXPECT_TRUE(split_ok["parts"]["complete"]);
  EXPECT_EQ(split_ok["size"], fs::file_size(dir / "b120.tar.zst"));

  const json gap = by_file(j, "gap.tar.zst");
  EXPECT_FALSE(gap["applies"]);
  EXPECT_FALSE(gap["parts"]["complete"]);
  EXPECT_EQ(gap["parts"]["missing"], json::array({2}));
  EXPECT_NE(gap["why_not"].dump().find("gap.tar.zst.part0002"), std::string::npos) << gap.dump(1);

  const json foreign = by_file(j, "unsigned.tar.zst");
  EXPECT_FALSE(foreign["verified"]);
  EXPECT_FALSE(foreign["applies"]);
  EXPECT_EQ(foreign["error"]["class"], 11) << foreign.dump(1);
  EXPECT_EQ(foreign["version"], "1.1.0");  // what the head declares, shown unverified
  EXPECT_TRUE(foreign["signers"].empty());

  const json other = by_file(j, "other-1.1.0.tar.zst");
  EXPECT_TRUE(other["verified"]);
  EXPECT_FALSE(other["applies"]);
  EXPECT_NE(other["why_not"].dump().find("other product 'other'"), std::string::npos) << other.dump(1);

  EXPECT_EQ(j["ignored_count"], 3);
  EXPECT_EQ(j["ignored"][0]["name"], "._demo-1.1.0.tar.zst");
  EXPECT_EQ(j["ignored"][1]["name"], "outside.tar.zst");
  EXPECT_EQ(j["ignored"][1]["reason"], "symbolic link (not followed)");
  EXPECT_EQ(j["ignored"][2]["name"], "readme.txt");

  auto r = run(kBin + " scan " + q(stick()) + " --site " + q(dir / "site/site.toml"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ignored 3 file(s)"), std::string::npos) << r.output;
}

TEST_F(ScanCli, WritesNothingToTheStickOrTheStateFolder) {
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(dir / "site/site.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  fs::copy_file(dir / "b110.tar.zst", stick() / "demo-1.1.0.tar.zst");
  split(dir / "b120.tar.zst", "demo-1.2.0.tar.zst", 2);
  const auto state_before = tree(dir / "site/state");
  const auto stick_before = tree(stick());

  json j = scan();
  EXPECT_EQ(j["installed"], "1.1.0");
  EXPECT_NE(by_file(j, "demo-1.1.0.tar.zst")["why_not"].dump().find("same as the installed 1.1.0"), std::string::npos)
      << j.dump(1);
  EXPECT_TRUE(by_file(j, "demo-1.2.0.tar.zst")["applies"]) << j.dump(1);
  j = scan("--deep");
  EXPECT_EQ(j["check"], "deep");
  EXPECT_TRUE(by_file(j, "demo-1.2.0.tar.zst")["applies"]) << j.dump(1);

  EXPECT_EQ(tree(dir / "site/state"), state_before);
  EXPECT_EQ(tree(stick()), stick_before);
}

TEST_F(ScanCli, DefaultScanReadsNoPayloadDeepScanDoes) {
  build_bad_payload(stick() / "demo-1.1.0.tar.zst");
  json j = scan();
  json b = by_file(j, "demo-1.1.0.tar.zst");
  EXPECT_TRUE(b["verified"]) << b.dump(1);
  EXPECT_TRUE(b["applies"]) << b.dump(1);
  j = scan("--deep");
  b = by_file(j, "demo-1.1.0.tar.zst");
  EXPECT_FALSE(b["verified"]);
  EXPECT_FALSE(b["applies"]);
  EXPECT_EQ(b["error"]["class"], 12) << b.dump(1);
}

TEST_F(ScanCli, ExitCodes) {
  const std::string site = " --site " + q(dir / "site/site.toml");
  EXPECT_EQ(run(kBin + " scan" + site).status, 2);  // no DIR
  EXPECT_EQ(run(kBin + " scan " + q(stick()) + " --site " + q(dir / "nope.toml")).status, 2);
  EXPECT_EQ(run(kBin + " scan " + q(dir / "no-such-stick") + site).status, 3);
  EXPECT_EQ(run(kBin + " scan " + q(stick()) + site).status, 0);  // an empty stick is a report too
  EXPECT_EQ(run(kBin + " scan --help").status, 0);
}

TEST_F(ScanCli, NamesEveryReasonABundleDoesNotApply) {
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(dir / "site/site.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  fs::copy(kSrc + "/manifests/example", dir / "beta", fs::copy_options::recursive);
  r =
      run("sed -i -e 's/^version = \"1.1.0\"/version = \"1.3.0\"/' -e 's/^channel = \"recommended\"/channel = "
          "\"beta\"\\nmin_installed = \"1.2.0\"/' " +
          q(dir / "beta/recipe.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  build((dir / "beta/recipe.toml").string(), kSrc + "/keys/demo-hq.key", stick() / "demo-1.3.0.tar.zst");
  const json b = by_file(scan(), "demo-1.3.0.tar.zst");
  EXPECT_TRUE(b["verified"]) << b.dump(1);
  EXPECT_EQ(b["channel"], "beta");
  ASSERT_EQ(b["why_not"].size(), 2u) << b.dump(1);
  EXPECT_EQ(b["why_not"][0], "channel beta is less stable than the site's recommended");
  EXPECT_EQ(b["why_not"][1], "min_installed 1.2.0 not met: install 1.2.0 or later first (installed: 1.1.0)");
}

TEST_F(ScanCli, NamesTheOperatorsSkipAndVoidsItForACriticalRelease) {
  fs::copy_file(dir / "b110.tar.zst", stick() / "demo-1.1.0.tar.zst");
  auto r = run(kBin + " skip 1.1.0 --site " + q(dir / "site/site.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  json b = by_file(scan(), "demo-1.1.0.tar.zst");
  ASSERT_EQ(b["why_not"].size(), 1u) << b.dump(1);
  const std::string why = b["why_not"][0];
  EXPECT_EQ(why.rfind("skipped by operator on 20", 0), 0u) << why;
  EXPECT_NE(why.find("airlock skip 1.1.0 --undo"), std::string::npos) << why;

  // The same version marked critical: apply would void the skip, and so does scan.
  fs::remove(stick() / "demo-1.1.0.tar.zst");
  fs::copy(kSrc + "/manifests/example", dir / "crit", fs::copy_options::recursive);
  r = run("sed -i 's/^channel = \"recommended\"/channel = \"recommended\"\\ncritical = true/' " +
          q(dir / "crit/recipe.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  build((dir / "crit/recipe.toml").string(), kSrc + "/keys/demo-hq.key", stick() / "demo-1.1.0.tar.zst");
  b = by_file(scan(), "demo-1.1.0.tar.zst");
  EXPECT_TRUE(b["critical"]) << b.dump(1);
  EXPECT_TRUE(b["why_not"].empty()) << b.dump(1);
}

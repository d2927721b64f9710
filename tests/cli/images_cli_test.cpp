// `airlock images list|verify|gc` through the real binary, on a copy of the demo site applying the
// example release with a real image layout (umoci): valid JSON, exit 12 for a damaged stored blob,
// a dry run that removes nothing, usage errors (2).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/oci_layout.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;
constexpr const char* kRef = "registry.example.org/demo/tools:1.1.0";

class ImagesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(kSrc + "/manifests/demo-site", dir / "site", fs::copy_options::recursive);
    fs::create_directories(dir / "site/data");
    fs::copy_file(kSrc + "/keys/trust.toml", dir / "site/trust.toml");
    fs::copy(kSrc + "/manifests/example", dir / "recipe", fs::copy_options::recursive);
    digest = airlock::test::make_oci_image(dir / "recipe/oci/tools", "1.1.0", {{"tool.txt", "tool\n"}});
    std::string recipe = airlock::test::slurp(dir / "recipe/recipe.toml");
    recipe +=
        "\n[[images]]\nref = \"" + std::string(kRef) + "\"\ndigest = \"" + digest + "\"\nlayout = \"oci/tools\"\n";
    airlock::test::spit(dir / "recipe/recipe.toml", recipe);
    auto r = run(kBin + " build " + q(dir / "recipe/recipe.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") +
                 " --out " + q(dir / "b110.tar.zst"));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  TempDir dir;
  std::string digest;
};

}  // namespace

TEST_F(ImagesCli, ListVerifyGc) {
  auto r = run(kBin + " images list --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  ASSERT_EQ(j["images"].size(), 1u) << r.output;
  EXPECT_EQ(j["images"][0]["ref"], kRef);
  EXPECT_EQ(j["images"][0]["digest"], digest);
  EXPECT_EQ(j["images"][0]["release"], "1.1.0");
  EXPECT_EQ(j["images"][0]["tagged"], true);
  r = run(kBin + " images --site " + site());
  EXPECT_NE(r.output.find(std::string(kRef) + "  " + digest + "  1.1.0  (current)"), std::string::npos) << r.output;

  r = run(kBin + " images verify --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["problems"].size(), 0u);
  r = run(kBin + " images gc --dry-run --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["removed"].size(), 0u) << r.output;

  // A stored layer damaged: verify names it and exits 12.
  const fs::path store = dir / "site/state/images";
  auto m = nlohmann::json::parse(airlock::test::slurp(store / "blobs/sha256" / digest.substr(7)));
  const std::string layer = m["layers"][0]["digest"].get<std::string>();
  const fs::path path = store / "blobs/sha256" / layer.substr(7);
  std::string bytes = airlock::test::slurp(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  airlock::test::spit(path, bytes);
  r = run(kBin + " images verify --site " + site());
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find(layer), std::string::npos) << r.output;

  EXPECT_EQ(run(kBin + " images frobnicate --site " + site()).status, 2);
  EXPECT_EQ(run(kBin + " images list --dry-run --site " + site()).status, 2);
}

// A delta through the binary: a [delta] recipe without a base is refused (20); `build --base`
// reports what it left out (--json); while the store lacks the blob it leaves out, `apply
// --dry-run` and `apply` exit 33 naming it and nothing changes; once the blob is back it applies,
// and `images list` shows both releases.
TEST_F(ImagesCli, ADeltaReportsWhatItSavedAndIsRefusedWhileTheStoreLacksABlob) {
  constexpr const char* kRef111 = "registry.example.org/demo/tools:1.1.1";
  const std::string d111 =
      airlock::test::make_oci_image(dir / "recipe/oci/tools", "1.1.1", {{"tool.txt", "tool\n"}, {"more.txt", "x\n"}});
  fs::create_directories(dir / "r111");
  airlock::test::spit(dir / "r111/en.md", "# 1.1.1\n");
  const std::string body =
      "[release]\nproduct = \"demo\"\nversion = \"1.1.1\"\ncreated = 2026-02-01T00:00:00Z\n"
      "[delta]\n[[images]]\nref = \"" +
      std::string(kRef111) + "\"\ndigest = \"" + d111 +
      "\"\nlayout = \"../recipe/oci/tools\"\n[[notes]]\nlang = \"en\"\npath = \"en.md\"\n";
  airlock::test::spit(dir / "r111/recipe.toml", body);
  const std::string build = kBin + " build " + q(dir / "r111/recipe.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") +
                            " --out " + q(dir / "d111.tar.zst");
  auto r = run(build);
  EXPECT_EQ(r.status, 20) << r.output;
  EXPECT_NE(r.output.find("--base"), std::string::npos) << r.output;
  // The base: a full bundle of another version carrying the same image. `base` is informational
  // (spec §4): the site has 1.1.0 installed, and its store holds what the delta leaves out.
  std::string base_recipe = airlock::test::slurp(dir / "recipe/recipe.toml");
  base_recipe.replace(base_recipe.find("version = \"1.1.0\""), 17, "version = \"1.0.5\"");
  airlock::test::spit(dir / "recipe/base.toml", base_recipe);
  r = run(kBin + " build " + q(dir / "recipe/base.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") + " --out " +
          q(dir / "b105.tar.zst"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(build + " --base " + q(dir / "b105.tar.zst") + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["delta"]["base"], "1.0.5") << r.output;
  EXPECT_EQ(j["delta"]["left_out_blobs"], 1) << r.output;
  EXPECT_GT(j["delta"]["saved_bytes"].get<std::uint64_t>(), 0u) << r.output;

  const fs::path store = dir / "site/state/images/blobs/sha256";
  auto m = nlohmann::json::parse(airlock::test::slurp(store / digest.substr(7)));
  const std::string layer = m["layers"][0]["digest"].get<std::string>();
  fs::rename(store / layer.substr(7), dir / "aside");
  const std::string apply = kBin + " apply " + q(dir / "d111.tar.zst") + " --site " + site();
  r = run(apply + " --dry-run");
  EXPECT_EQ(r.status, 33) << r.output;
  EXPECT_NE(r.output.find(layer), std::string::npos) << r.output;
  r = run(apply);
  EXPECT_EQ(r.status, 33) << r.output;
  EXPECT_NE(r.output.find(layer + " missing"), std::string::npos) << r.output;
  EXPECT_EQ(json_of(run(kBin + " status --site " + site() + " --json").output)["installed"], "1.1.0");

  fs::rename(dir / "aside", store / layer.substr(7));
  fs::create_directories(dir / "stick");
  fs::copy_file(dir / "d111.tar.zst", dir / "stick/d111.tar.zst");
  r = run(kBin + " scan " + q(dir / "stick") + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  j = json_of(r.output);
  ASSERT_EQ(j["bundles"].size(), 1u) << r.output;
  EXPECT_EQ(j["bundles"][0]["delta_base"], "1.0.5") << r.output;
  EXPECT_EQ(j["bundles"][0]["applies"], true) << "a base other than the installed release is no refusal" << r.output;
  r = run(apply);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " images list --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  j = json_of(r.output);
  ASSERT_EQ(j["images"].size(), 2u) << r.output;
  std::set<std::string> releases;
  for (const auto& i : j["images"]) releases.insert(i["release"].get<std::string>());
  EXPECT_EQ(releases, (std::set<std::string>{"1.1.0", "1.1.1"})) << r.output;
}

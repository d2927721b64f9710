// Split transport (spec §9) through the real binary: `build --split` cuts a bundle into parts whose
// concatenation is the bundle, verify and apply read them as one stream, `sign` rewrites part 1
// only, and a missing, damaged or reordered part is refused with the exit code that says which.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
const std::string kEpoch = "SOURCE_DATE_EPOCH=1767225600 ";
constexpr std::uintmax_t kPart = 1024 * 1024;  // --split 1M
constexpr std::uintmax_t kHeadroom = 128 * 1024;

class SplitCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The example release with 6 MB that do not compress: six parts of 1 MiB.
    fs::copy(kSrc + "/manifests/example", dir / "recipe", fs::copy_options::recursive);
    auto r = run("head -c 6000000 /dev/urandom > " + q(dir / "recipe/blob.bin"));
    ASSERT_EQ(r.status, 0) << r.output;
    spit(dir / "recipe/recipe.toml", slurp(dir / "recipe/recipe.toml") + "\n[[files]]\nfrom = \"blob.bin\"\n");
  }
  airlock::test::ProcResult build(const fs::path& out, const std::string& extra = "") {
    return run(kEpoch + kBin + " build " + q(dir / "recipe/recipe.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") +
               " --out " + q(out) + " " + extra);
  }
  std::vector<fs::path> parts(const fs::path& base) const {
    std::vector<fs::path> out;
    for (int n = 1;; ++n) {
      char name[16];
      std::snprintf(name, sizeof name, ".part%04d", n);
      fs::path p = base.string() + name;
      if (!fs::exists(p)) return out;
      out.push_back(p);
    }
  }
  airlock::test::ProcResult verify(const fs::path& b, const std::string& extra = "") {
    return run(kBin + " verify " + q(b) + " --trust " + q(kSrc + "/keys/trust.toml") + " " + extra);
  }
  void make_feed(const fs::path& b) {
    for (const std::string& args : {"init " + q(feed()) + " --product demo",
                                   "add " + q(feed()) + " " + q(b) + " --channel recommended --trust " +
                                       q(kSrc + "/keys/trust.toml"),
                                   "sign " + q(feed()) + " --key " + q(kSrc + "/keys/demo-hq.key")}) {
      auto r = run(kEpoch + kBin + " feed " + args);
      ASSERT_EQ(r.status, 0) << r.output;
    }
  }
  fs::path feed() const { return dir / "feed.toml"; }
  fs::path bundle() const { return dir / "stick/demo-1.1.0.tar.zst"; }
  void build_split() {
    fs::create_directories(dir / "stick");
    auto r = build(bundle(), "--split 1M --json");
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_EQ(json_of(r.output)["parts"].size(), 6u) << r.output;
  }
  TempDir dir;
};

}  // namespace

TEST_F(SplitCli, PartsAreTheWholeBundleCutAndVerifyAndApplyAsOneStream) {
  build_split();
  auto r = build(dir / "whole.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ps = parts(bundle());
  ASSERT_EQ(ps.size(), 6u);
  EXPECT_EQ(fs::file_size(ps[0]), kPart - kHeadroom);  // room for signatures added later
  std::string joined;
  for (const auto& p : ps) {
    EXPECT_LE(fs::file_size(p), kPart) << p;
    joined += slurp(p);
  }
  EXPECT_TRUE(joined == slurp(dir / "whole.tar.zst")) << "the parts' concatenation is not the whole bundle";
  EXPECT_FALSE(fs::exists(bundle())) << "no whole file is written beside the parts";
  // Stock tools read the concatenation as the bundle.
  r = run("cat " + q(bundle()) + ".part* | zstd -q -d -c | tar -t | grep -c blob.bin");
  EXPECT_EQ(r.status, 0) << r.output;

  r = verify(bundle(), "--json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["bundle_bytes"], fs::file_size(dir / "whole.tar.zst")) << r.output;
  const fs::path site = airlock::test::copy_demo_site(dir.path());
  r = run(kBin + " apply " + q(bundle()) + " --site " + q(site));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " status --site " + q(site) + " --json");
  EXPECT_EQ(json_of(r.output)["installed"], "1.1.0") << r.output;
}

TEST_F(SplitCli, SignRewritesPartOneOnlyAndItStillFitsWithTheMostSignatures) {
  build_split();
  const auto ps = parts(bundle());
  std::vector<std::string> before;
  for (const auto& p : ps) before.push_back(slurp(p));
  // Fifteen more signers: sixteen, the most a bundle may hold.
  for (int i = 0; i < 15; ++i) {
    const fs::path k = dir / ("signer" + std::to_string(i));
    auto r = run(kBin + " keygen --no-password --out " + q(k));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run(kBin + " sign " + q(bundle()) + " --key " + q(k.string() + ".key"));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_GT(fs::file_size(ps[0]), kPart - kHeadroom);
  EXPECT_LE(fs::file_size(ps[0]), kPart) << "part 1 outgrew the size asked for";
  for (std::size_t i = 1; i < ps.size(); ++i) EXPECT_TRUE(slurp(ps[i]) == before[i]) << ps[i] << " changed";
  auto r = verify(bundle(), "--json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["signatures"].size(), 16u) << r.output;
  // A split bundle is signed in place: --out would leave the other parts behind.
  r = run(kBin + " keygen --no-password --out " + q(dir / "late"));
  r = run(kBin + " sign " + q(bundle()) + " --key " + q(dir / "late.key") + " --out " + q(dir / "elsewhere"));
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST_F(SplitCli, AMissingATruncatedAndAReorderedPartAreRefusedAndTheSiteIsUntouched) {
  build_split();
  const auto ps = parts(bundle());
  const fs::path site = airlock::test::copy_demo_site(dir.path());
  // A gap: part 3 missing while part 4 exists.
  fs::rename(ps[2], dir / "aside");
  auto r = verify(bundle());
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("demo-1.1.0.tar.zst.part0003 is missing"), std::string::npos) << r.output;
  fs::rename(dir / "aside", ps[2]);
  // The last part missing: the stream ends inside what is left.
  fs::rename(ps[5], dir / "aside");
  r = verify(bundle());
  EXPECT_EQ(r.status, 10) << r.output;
  r = run(kBin + " apply " + q(bundle()) + " --site " + q(site));
  EXPECT_EQ(r.status, 10) << r.output;
  fs::rename(dir / "aside", ps[5]);
  // Parts 2 and 3 swapped.
  fs::rename(ps[1], dir / "aside");
  fs::rename(ps[2], ps[1]);
  fs::rename(dir / "aside", ps[2]);
  r = verify(bundle());
  EXPECT_TRUE(r.status == 10 || r.status == 12) << r.output;
  r = run(kBin + " apply " + q(bundle()) + " --site " + q(site));
  EXPECT_TRUE(r.status == 10 || r.status == 12) << r.output;
  r = run(kBin + " status --site " + q(site) + " --json");
  EXPECT_EQ(json_of(r.output)["installed"], "") << r.output;
}

TEST_F(SplitCli, WithTheFeedsPartHashesTheBadPartIsNamed) {
  build_split();
  make_feed(bundle());
  EXPECT_NE(slurp(feed()).find("parts = ["), std::string::npos) << slurp(feed());
  const auto ps = parts(bundle());
  ASSERT_EQ(verify(bundle(), "--feed " + q(feed())).status, 0);

  // One flipped byte in part 4.
  const std::string good = slurp(ps[3]);
  std::string bad = good;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x40);
  spit(ps[3], bad);
  auto r = verify(bundle(), "--feed " + q(feed()));
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find("demo-1.1.0.tar.zst.part0004 is damaged"), std::string::npos) << r.output;
  spit(ps[3], good);

  // Parts 2 and 3 swapped: each holds the other's bytes.
  fs::rename(ps[1], dir / "aside");
  fs::rename(ps[2], ps[1]);
  fs::rename(dir / "aside", ps[2]);
  r = verify(bundle(), "--feed " + q(feed()));
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find("part0002 holds part 3 (parts out of order)"), std::string::npos) << r.output;
  fs::rename(ps[1], dir / "aside");
  fs::rename(ps[2], ps[1]);
  fs::rename(dir / "aside", ps[2]);

  // The last part left at home: the feed says how many there are.
  fs::remove(ps[5]);
  r = verify(bundle(), "--feed " + q(feed()));
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("missing " + ps[5].string()), std::string::npos) << r.output;
}

TEST_F(SplitCli, SizesAreCheckedAndALaterSmallerBuildLeavesNoStalePart) {
  fs::create_directories(dir / "stick");
  EXPECT_EQ(build(bundle(), "--split 5G").status, 2);
  EXPECT_EQ(build(bundle(), "--split 3x").status, 2);
  EXPECT_EQ(build(bundle(), "--split 512K").status, 2);
  EXPECT_EQ(build(bundle(), "--force").status, 2);
  EXPECT_TRUE(parts(bundle()).empty()) << "a refused build writes nothing";
  // fat32 and --force for a larger size: the bundle fits in one part.
  auto r = build(bundle(), "--split fat32");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parts(bundle()).size(), 1u);
  r = build(bundle(), "--split 5G --force");
  ASSERT_EQ(r.status, 0) << r.output;
  // Six parts, then a build of the same bundle in one: parts 2 to 6 of the first must go, or a
  // reader would take them for the rest of the stream.
  build_split();
  r = build(bundle(), "--split fat32");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parts(bundle()).size(), 1u);
  EXPECT_EQ(verify(bundle()).status, 0);
}

// A FAT32 stick image (mkfs.vfat), the parts copied on and off it with mtools as a site would
// receive them: they verify on the far side.
TEST_F(SplitCli, PartsCarriedOnAFat32StickImageVerify) {
  if (run("command -v mkfs.vfat && command -v mcopy").status != 0) GTEST_SKIP() << "dosfstools or mtools missing";
  build_split();
  const std::string img = q(dir / "stick.img");
  auto r = run("truncate -s 64M " + img + " && mkfs.vfat -F 32 -n STICK " + img);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const auto& p : parts(bundle())) {
    r = run("MTOOLS_SKIP_CHECK=1 mcopy -i " + img + " " + q(p) + " ::/");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  fs::create_directories(dir / "site-side");
  r = run("MTOOLS_SKIP_CHECK=1 mcopy -i " + img + " '::/demo-1.1.0.tar.zst.part*' " + q(dir / "site-side"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parts(dir / "site-side/demo-1.1.0.tar.zst").size(), 6u);
  r = verify(dir / "site-side/demo-1.1.0.tar.zst");
  EXPECT_EQ(r.status, 0) << r.output;
}

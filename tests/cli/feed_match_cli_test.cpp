// A bundle matched to a signed channel feed (spec §10) through the real binary: `verify --feed`
// and `apply --feed` with real bundles built and signed by the real bundler, feeds made and signed
// by `airlock feed`, and a copy of the demo site. A refused apply leaves the site as it was.
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
const std::string kEpoch = "SOURCE_DATE_EPOCH=1767225600 ";

class FeedMatchCli : public ::testing::Test {
 protected:
  TempDir dir;
  fs::path trust = fs::path(kSrc) / "keys/trust.toml";
  fs::path key = fs::path(kSrc) / "keys/demo-hq.key";
  fs::path feed = dir / "feed.toml";
  fs::path bundle = dir / "demo-1.1.0.tar.zst";

  void SetUp() override { build(fs::path(kSrc) / "manifests/example/recipe.toml", bundle); }
  void build(const fs::path& recipe, const fs::path& out) {
    auto r = run(kEpoch + kBin + " build " + q(recipe) + " --key " + q(key) + " --out " + q(out));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void feed_cmd(const std::string& args) {
    auto r = run(kEpoch + kBin + " feed " + args);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // A signed feed for `product` listing `bundles` in `channel`.
  void make_feed(const std::vector<fs::path>& bundles, const std::string& channel = "rc", const std::string& extra = "",
                 const std::string& product = "demo") {
    feed_cmd("init " + q(feed) + " --product " + product);
    for (const auto& b : bundles)
      feed_cmd("add " + q(feed) + " " + q(b) + " --channel " + channel + " --trust " + q(trust) + " " + extra);
    sign_feed();
  }
  void sign_feed() { feed_cmd("sign " + q(feed) + " --key " + q(key)); }
  airlock::test::ProcResult verify(const fs::path& b, const std::string& extra = "") {
    return run(kBin + " verify " + q(b) + " --trust " + q(trust) + " --feed " + q(feed) + " " + extra);
  }
  // The same release with one more signature, by a key the trust root does not hold: other bytes.
  fs::path resigned(const fs::path& src) {
    const auto copy = dir / (src.stem().stem().string() + "-resigned.tar.zst");
    fs::copy_file(src, copy);
    if (!fs::exists(dir / "stranger.key")) {
      auto r = run(kBin + " keygen --no-password --out " + q(dir / "stranger"));
      EXPECT_EQ(r.status, 0) << r.output;
    }
    auto r = run(kBin + " sign " + q(copy) + " --key " + q(dir / "stranger.key"));
    EXPECT_EQ(r.status, 0) << r.output;
    return copy;
  }
};

TEST_F(FeedMatchCli, VerifyTakesTheChannelFromTheMatchedEntryAndTheFeedRaisesCritical) {
  ASSERT_NO_FATAL_FAILURE(make_feed({bundle}, "rc", "--critical"));
  auto r = verify(bundle, "--json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["channel"], "rc") << j;
  EXPECT_EQ(j["channel_source"], "feed");
  EXPECT_EQ(j["critical"], true) << "the manifest says false; the feed raises it";
  EXPECT_EQ(j["feed"]["serial"], 2);
  EXPECT_EQ(j["feed"]["entry"]["file"], "demo-1.1.0.tar.zst");
  EXPECT_EQ(j["bundle_bytes"], fs::file_size(bundle));
  r = verify(bundle);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("channel     rc (from the feed), critical"), std::string::npos) << r.output;
  // The site's channel is checked against the feed's: an rc release is not for a recommended site.
  r = verify(bundle, "--channel recommended");
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("channel from the feed"), std::string::npos) << r.output;
}

TEST_F(FeedMatchCli, AVersionTheFeedDoesNotListKeepsTheManifestsChannel) {
  ASSERT_NO_FATAL_FAILURE(make_feed({}));
  auto r = verify(bundle, "--json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["channel"], "recommended") << j;
  EXPECT_EQ(j["channel_source"], "manifest");
  EXPECT_TRUE(j["feed"]["entry"].is_null()) << j;
  EXPECT_EQ(j["critical"], false);
}

TEST_F(FeedMatchCli, BytesThatMatchNoEntryOfTheirVersionAre12) {
  ASSERT_NO_FATAL_FAILURE(make_feed({bundle}));
  const auto other = resigned(bundle);
  auto r = verify(other);
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find("demo-1.1.0.tar.zst with sha256 " + run("sha256sum " + q(bundle)).output.substr(0, 16)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("the bundle read has sha256 " + run("sha256sum " + q(other)).output.substr(0, 16)),
            std::string::npos)
      << r.output;
}

TEST_F(FeedMatchCli, TheSameDigestWithAnotherSizeIs12) {
  ASSERT_NO_FATAL_FAILURE(make_feed({bundle}));
  const auto size = std::to_string(fs::file_size(bundle));
  std::string text = slurp(feed);
  const auto at = text.find("size = " + size);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 7 + size.size(), "size = " + std::to_string(fs::file_size(bundle) + 1));
  spit(feed, text);
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  auto r = verify(bundle);
  EXPECT_EQ(r.status, 12) << r.output;
}

TEST_F(FeedMatchCli, ADeprecatedReleaseIs13) {
  ASSERT_NO_FATAL_FAILURE(make_feed({bundle}));
  ASSERT_NO_FATAL_FAILURE(feed_cmd("deprecate " + q(feed) + " 1.1.0"));
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  auto r = verify(bundle);
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("deprecated"), std::string::npos) << r.output;
}

TEST_F(FeedMatchCli, AFeedForAnotherProductIs13) {
  ASSERT_NO_FATAL_FAILURE(make_feed({}, "rc", "", "other"));
  auto r = verify(bundle);
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("product 'other'"), std::string::npos) << r.output;
}

TEST_F(FeedMatchCli, AnUnsignedFeedIsNotAuthentic) {
  ASSERT_NO_FATAL_FAILURE(feed_cmd("init " + q(feed) + " --product demo"));
  EXPECT_EQ(verify(bundle).status, 11);
}

// The demo site, and every file under it as "mode sha256", except airlock's own record of the run
// (state.db and its journal files: history and audit say what was refused), its lock and scratch
// staging folder, and hooks.log, which the demo's notify hook appends to after every run.
class FeedApplyCli : public FeedMatchCli {
 protected:
  void SetUp() override {
    FeedMatchCli::SetUp();
    airlock::test::copy_demo_site(dir.path(), trust);
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  airlock::test::ProcResult apply(const std::string& what) {
    return run(kBin + " apply " + what + " --site " + site() + " --feed " + q(feed));
  }
  std::map<std::string, std::string> tree() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir / "site")) {
      const auto rel = fs::relative(e.path(), dir / "site").string();
      // state/feed: apply --feed accepts the feed first, whatever becomes of the bundle.
      if (rel.starts_with("state/state.db") || rel == "state/lock" || rel.starts_with("state/staging") ||
          rel.starts_with("state/feed") || rel == "hooks.log")
        continue;
      std::string v = std::to_string(static_cast<int>(e.status().permissions()));
      if (e.is_regular_file()) v += " " + run("sha256sum " + q(e.path())).output.substr(0, 64);
      out[rel] = v;
    }
    return out;
  }
  // 1.1.0 applied through a feed listing it and 1.2.0 (channel recommended).
  fs::path install_first() {
    const auto b120 = dir / "demo-1.2.0.tar.zst";
    build(fs::path(kSrc) / "manifests/example-1.2.0/recipe.toml", b120);
    make_feed({bundle, b120}, "recommended");
    auto r = apply(q(bundle));
    EXPECT_EQ(r.status, 0) << r.output;
    return b120;
  }
  nlohmann::json last_history() {
    auto h = json_of(run(kBin + " history --site " + site() + " --json").output)["history"];
    return h.empty() ? nlohmann::json() : h.back();
  }
};

TEST_F(FeedApplyCli, BytesThatMatchNoEntryAreRefusedWith12AndTheSiteIsUnchanged) {
  const auto b120 = install_first();
  ASSERT_FALSE(HasFailure());
  const auto other = resigned(b120);  // a genuine release, but not the bytes the feed lists
  const auto before = tree();
  const auto snapshots = run(kBin + " snapshot list --site " + site()).output;
  auto r = apply(q(other));
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_NE(r.output.find("demo-1.2.0.tar.zst with sha256"), std::string::npos) << r.output;
  EXPECT_EQ(tree(), before) << r.output;
  EXPECT_EQ(run(kBin + " snapshot list --site " + site()).output, snapshots);
  EXPECT_EQ(json_of(run(kBin + " status --site " + site() + " --json").output)["installed"], "1.1.0");
  auto h = last_history();
  EXPECT_EQ(h["outcome"], "aborted") << h;
  EXPECT_NE(h["detail"].get<std::string>().find("match no entry"), std::string::npos) << h;
}

TEST_F(FeedApplyCli, ADeprecatedReleaseIsRefusedWith13) {
  const auto b120 = install_first();
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(feed_cmd("deprecate " + q(feed) + " 1.2.0"));
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  const auto before = tree();
  auto r = apply(q(b120));
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("deprecated"), std::string::npos) << r.output;
  EXPECT_EQ(tree(), before) << r.output;
  auto st = json_of(run(kBin + " status --site " + site() + " --json").output);
  EXPECT_EQ(st["installed"], "1.1.0");
  EXPECT_EQ(st["feed"]["serial"], 4) << "the feed is accepted although the bundle is then refused: " << st;
  // Deprecation is sticky: without --feed, apply matches against the site's feed and still refuses.
  r = run(kBin + " apply " + q(b120) + " --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
}

// Without --feed, apply matches the bundle against the feed the site accepted.
TEST_F(FeedApplyCli, WithoutFeedTheSitesAcceptedFeedIsMatched) {
  const auto b120 = install_first();
  ASSERT_FALSE(HasFailure());
  const auto other = resigned(b120);
  auto r = run(kBin + " apply " + q(other) + " --site " + site());
  EXPECT_EQ(r.status, 12) << r.output;
  r = run(kBin + " apply " + q(b120) + " --site " + site());
  EXPECT_NE(r.output.find("channel recommended from the feed"), std::string::npos) << r.output;
}

// apply --feed with a feed older than the accepted one is refused (13) before the bundle is read.
TEST_F(FeedApplyCli, AnOlderFeedIsRefusedAndNothingIsApplied) {
  const auto b120 = install_first();
  ASSERT_FALSE(HasFailure());
  fs::copy_file(feed, dir / "old-feed.toml");
  for (const auto& e : fs::directory_iterator(dir.path()))
    if (e.path().filename().string().starts_with("feed.toml.") && e.path().extension() == ".minisig")
      fs::copy_file(e.path(), dir / ("old-" + e.path().filename().string()));
  ASSERT_NO_FATAL_FAILURE(feed_cmd("deprecate " + q(feed) + " 1.1.0"));
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  ASSERT_EQ(run(kBin + " feed accept " + q(feed) + " --site " + site()).status, 0);
  auto r = run(kBin + " apply " + q(b120) + " --site " + site() + " --feed " + q(dir / "old-feed.toml"));
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("serial"), std::string::npos) << r.output;
  EXPECT_EQ(json_of(run(kBin + " status --site " + site() + " --json").output)["installed"], "1.1.0");
}

// The channel moves by the feed, never by a rebuild: a bundle built for beta, promoted to
// recommended in the feed, is applied by a site that follows recommended.
TEST_F(FeedApplyCli, AReleasePromotedByTheFeedAppliesOnARecommendedSite) {
  fs::copy(kSrc + "/manifests/example", dir / "beta", fs::copy_options::recursive);
  std::string recipe = slurp(dir / "beta/recipe.toml");
  const auto at = recipe.find("channel = \"recommended\"");
  ASSERT_NE(at, std::string::npos);
  recipe.replace(at, 23, "channel = \"beta\"");
  spit(dir / "beta/recipe.toml", recipe);
  const auto beta = dir / "demo-1.1.0-beta.tar.zst";
  ASSERT_NO_FATAL_FAILURE(build(dir / "beta/recipe.toml", beta));
  auto r = run(kBin + " apply " + q(beta) + " --site " + site());
  ASSERT_EQ(r.status, 13) << "a beta bundle on a recommended site, without a feed: " << r.output;
  ASSERT_NO_FATAL_FAILURE(make_feed({beta}, "beta"));
  ASSERT_NO_FATAL_FAILURE(feed_cmd("promote " + q(feed) + " 1.1.0 --to recommended"));
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  r = apply(q(beta));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("channel recommended from the feed"), std::string::npos) << r.output;
}

TEST_F(FeedApplyCli, AStagedReleaseIsMatchedByTheDigestItWasStagedWith) {
  const auto b120 = install_first();
  ASSERT_FALSE(HasFailure());
  auto r = run(kBin + " stage " + q(b120) + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string sha = json_of(r.output)["staged"]["sha256"];
  // A later feed lists other bytes of 1.2.0.
  const auto other = resigned(b120);
  fs::create_directories(dir / "later");
  feed = dir / "later/feed.toml";
  // Its serial must pass the site's (apply --feed accepts it first): rc, then promoted.
  ASSERT_NO_FATAL_FAILURE(make_feed({bundle, other}, "rc"));
  for (const char* v : {"1.1.0", "1.2.0"})
    ASSERT_NO_FATAL_FAILURE(feed_cmd("promote " + q(feed) + " " + v + " --to recommended"));
  ASSERT_NO_FATAL_FAILURE(sign_feed());
  const auto before = tree();
  r = apply("--staged " + sha);
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_EQ(tree(), before) << r.output;
  // stage --feed refuses the bundle too.
  r = run(kBin + " stage " + q(b120) + " --site " + site() + " --feed " + q(feed));
  EXPECT_EQ(r.status, 12) << r.output;
}

}  // namespace

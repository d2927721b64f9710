// `airlock feed` through the real binary: a feed started, a real bundle (built and signed by the
// real bundler) added after verification, promoted forward only, deprecated, signed; the bytes
// reproducible under SOURCE_DATE_EPOCH; and an auditor's check with stock minisign.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/crypto/minisign.hpp"
#include "core/model/feed.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"
#include "verifier/feed.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kRecipe = std::string(AIRLOCK_SOURCE_DIR) + "/manifests/example/recipe.toml";
const std::string kEpoch = "SOURCE_DATE_EPOCH=1767225600 ";

struct FeedFixture {
  TempDir dir;
  fs::path feed = dir / "feed.toml";
  fs::path trust = dir / "trust.toml";
  fs::path bundle = dir / "demo-1.1.0.tar.zst";

  void keygen(const std::string& name) {
    auto r = run(kBin + " keygen --no-password --out " + q(dir / name));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // hq signs the bundle; the trust root holds hq (and hq2 with threshold 2 when `two`).
  void setup(bool two = false) {
    keygen("hq");
    auto r = run(kBin + " trust init " + q(trust) + " --key " + q(dir / "hq.pub") + " --name hq");
    ASSERT_EQ(r.status, 0) << r.output;
    if (two) {
      keygen("hq2");
      ASSERT_EQ(run(kBin + " trust add " + q(trust) + " --key " + q(dir / "hq2.pub") + " --name hq2").status, 0);
      ASSERT_EQ(run(kBin + " trust threshold " + q(trust) + " 2").status, 0);
    }
    r = run(kEpoch + kBin + " build " + q(kRecipe) + " --key " + q(dir / "hq.key") + " --out " + q(bundle));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  airlock::test::ProcResult feed_cmd(const std::string& args) { return run(kEpoch + kBin + " feed " + args); }
  std::string key_id(const std::string& name) {
    auto pk = airlock::minisign::parse_public_key_file(slurp(dir / (name + ".pub")));
    return pk ? airlock::minisign::key_id_hex(pk->key_id) : "";
  }
  nlohmann::json show() { return json_of(run(kBin + " feed show " + q(feed) + " --json").output); }
};

std::string sha256sum(const fs::path& p) { return run("sha256sum " + q(p) + " | cut -c1-64").output.substr(0, 64); }

}  // namespace

TEST(FeedCli, InitAddPromoteSignRoundTrip) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  auto r = f.feed_cmd("init " + q(f.feed) + " --product demo");
  ASSERT_EQ(r.status, 0) << r.output;
  r = f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust));
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = f.show();
  ASSERT_EQ(j["entries"].size(), 1u) << j;
  EXPECT_EQ(j["serial"], 2);
  EXPECT_EQ(j["published"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(j["entries"][0]["version"], "1.1.0");
  EXPECT_EQ(j["entries"][0]["file"], "demo-1.1.0.tar.zst");
  EXPECT_EQ(j["entries"][0]["sha256"], sha256sum(f.bundle));
  EXPECT_EQ(j["entries"][0]["size"], fs::file_size(f.bundle));
  EXPECT_EQ(j["entries"][0]["channel"], "beta");

  r = f.feed_cmd("sign " + q(f.feed) + " --key " + q(f.dir / "hq.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto sig = f.dir / ("feed.toml." + f.key_id("hq") + ".minisig");
  ASSERT_TRUE(fs::exists(sig)) << r.output;

  r = f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to rc");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(sig)) << "a change drops the signatures over the previous bytes";
  r = f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to recommended");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(f.feed_cmd("sign " + q(f.feed) + " --key " + q(f.dir / "hq.key")).status, 0);
  j = f.show();
  EXPECT_EQ(j["serial"], 4);
  EXPECT_EQ(j["entries"][0]["channel"], "recommended");

  // The signed feed verifies against the same trust root, through the verifier's own reader.
  auto root = airlock::parse_trust_root(slurp(f.trust), airlock::ErrorClass::usage);
  ASSERT_TRUE(root);
  auto v = airlock::verifier::verify_feed_file(f.feed.string(), *root, airlock::now_utc());
  ASSERT_TRUE(v) << v.error().what();
  EXPECT_EQ(v->entries.at(0).channel, airlock::Channel::recommended);

  r = f.feed_cmd("deprecate " + q(f.feed) + " 1.1.0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(f.show()["entries"][0]["deprecated"], true);
  r = f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to recommended");
  EXPECT_EQ(r.status, 13) << r.output;
}

TEST(FeedCli, DemotionIsRefusedWith13AndChangesNothing) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
  ASSERT_EQ(f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel recommended --trust " + q(f.trust)).status,
            0);
  ASSERT_EQ(f.feed_cmd("sign " + q(f.feed) + " --key " + q(f.dir / "hq.key")).status, 0);
  const auto before = slurp(f.feed);
  auto r = f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to rc");
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("moving it back"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(f.feed), before);
  EXPECT_TRUE(fs::exists(f.dir / ("feed.toml." + f.key_id("hq") + ".minisig")));
  r = f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to beta");
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(FeedCli, BundleBelowThresholdIsRefused) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup(/*two=*/true));  // threshold 2, the bundle signed by hq alone
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
  const auto before = slurp(f.feed);
  auto r = f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust));
  EXPECT_EQ(r.status, 11) << r.output;
  EXPECT_EQ(slurp(f.feed), before);
  // Once its last signature is on, it enters.
  ASSERT_EQ(run(kBin + " sign " + q(f.bundle) + " --key " + q(f.dir / "hq2.key")).status, 0);
  r = f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(f.show()["entries"][0]["sha256"], sha256sum(f.bundle));
}

TEST(FeedCli, AddOfAnotherProductIsRefused) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product other").status, 0);
  auto r = f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust));
  EXPECT_EQ(r.status, 13) << r.output;
}

TEST(FeedCli, SplitBundleRecordsEachPart) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  const auto size = fs::file_size(f.bundle);
  const auto whole = sha256sum(f.bundle);
  auto r = run("split -b " + std::to_string(size / 2 + 1) + " -a 4 --numeric-suffixes=1 " + q(f.bundle) + " " +
               q(f.dir / "demo-1.1.0.tar.zst.part") + " && rm " + q(f.bundle));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
  r = f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel rc --trust " + q(f.trust));
  ASSERT_EQ(r.status, 0) << r.output;
  auto e = f.show()["entries"][0];
  EXPECT_EQ(e["sha256"], whole);
  EXPECT_EQ(e["size"], size);
  ASSERT_EQ(e["parts"].size(), 2u) << e;
  EXPECT_EQ(e["parts"][0], sha256sum(f.dir / "demo-1.1.0.tar.zst.part0001"));
  EXPECT_EQ(e["parts"][1], sha256sum(f.dir / "demo-1.1.0.tar.zst.part0002"));
}

TEST(FeedCli, OutputIsReproducibleUnderSourceDateEpoch) {
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  std::string bytes[2];
  for (int i = 0; i < 2; ++i) {
    fs::remove(f.feed);
    ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
    ASSERT_EQ(
        f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --critical --trust " + q(f.trust)).status,
        0);
    ASSERT_EQ(f.feed_cmd("promote " + q(f.feed) + " 1.1.0 --to rc").status, 0);
    bytes[i] = slurp(f.feed);
  }
  EXPECT_EQ(bytes[0], bytes[1]);
  EXPECT_NE(bytes[0].find("published = 2026-01-01T00:00:00Z"), std::string::npos) << bytes[0];
  EXPECT_NE(bytes[0].find("critical = true"), std::string::npos) << bytes[0];
  auto parsed = airlock::parse_feed(bytes[0]);
  ASSERT_TRUE(parsed) << parsed.error().what();
  EXPECT_EQ(airlock::render_feed(*parsed), bytes[0]) << "the file is in canonical form";
}

TEST(FeedCli, AuditorChecksTheFeedWithStockMinisign) {
  if (run("command -v minisign").status != 0) GTEST_SKIP() << "minisign is not on PATH";
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
  ASSERT_EQ(f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust)).status, 0);
  ASSERT_EQ(f.feed_cmd("sign " + q(f.feed) + " --key " + q(f.dir / "hq.key")).status, 0);
  const std::string sig = "feed.toml." + f.key_id("hq") + ".minisig";
  auto r = run("cd " + q(f.dir.path()) + " && minisign -V -H -p hq.pub -m feed.toml -x " + sig);
  EXPECT_EQ(r.status, 0) << r.output;
  // A feed edited after signing fails the same check.
  spit(f.feed, slurp(f.feed) + "\n");
  r = run("cd " + q(f.dir.path()) + " && minisign -V -H -p hq.pub -m feed.toml -x " + sig);
  EXPECT_NE(r.status, 0) << r.output;
}

TEST(FeedCli, StockMinisignSignatureIsAttached) {
  if (run("command -v minisign").status != 0) GTEST_SKIP() << "minisign is not on PATH";
  FeedFixture f;
  ASSERT_NO_FATAL_FAILURE(f.setup());
  ASSERT_EQ(f.feed_cmd("init " + q(f.feed) + " --product demo").status, 0);
  ASSERT_EQ(f.feed_cmd("add " + q(f.feed) + " " + q(f.bundle) + " --channel beta --trust " + q(f.trust)).status, 0);
  auto r = run("cd " + q(f.dir.path()) + " && minisign -S -s hq.key -m feed.toml -x made.minisig </dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  r = f.feed_cmd("sign " + q(f.feed) + " --signature " + q(f.dir / "made.minisig"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto root = airlock::parse_trust_root(slurp(f.trust), airlock::ErrorClass::usage);
  ASSERT_TRUE(root);
  auto v = airlock::verifier::verify_feed_file(f.feed.string(), *root, airlock::now_utc());
  EXPECT_TRUE(v) << v.error().what();
}

TEST(FeedCli, HelpTeaches) {
  auto r = run(kBin + " feed --help");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("minisign -V -H -p hq.pub -m feed.toml -x feed.toml.<KEYID>.minisig"), std::string::npos);
  EXPECT_NE(run(kBin + " --help").output.find("feed"), std::string::npos);
}

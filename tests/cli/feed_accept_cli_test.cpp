// `airlock feed accept` and the accepted feed at a site, through the real binary: feeds signed by
// the real demo keys, a copy of the demo site, real bundles for `scan`. Every refusal of spec §10
// with its exit code, and the state folder compared byte for byte (and mtime) before and after it;
// sticky deprecation across later feeds; a release the feed calls critical cannot be skipped;
// `scan` takes the channel from the accepted feed and writes nothing; `status` shows the feed.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/crypto/hash.hpp"
#include "core/crypto/minisign.hpp"
#include "core/model/feed.hpp"
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
using nlohmann::json;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

// Every path under `root` (folders too): a file's bytes and mtime.
std::map<std::string, std::pair<std::string, fs::file_time_type>> tree(const fs::path& root) {
  std::map<std::string, std::pair<std::string, fs::file_time_type>> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    out[e.path().string()] = {e.is_regular_file() ? slurp(e.path()) : "(folder)",
                              e.is_regular_file() ? e.last_write_time() : fs::file_time_type{}};
  return out;
}

airlock::minisign::SecretKey key(const std::string& name) {
  auto k = airlock::minisign::parse_secret_key_file(slurp(kSrc + "/keys/" + name + ".key"),
                                                    [] { return airlock::Result<std::string>(std::string()); });
  EXPECT_TRUE(k) << (k ? "" : k.error().what());
  return *k;
}

airlock::FeedEntry entry(const std::string& version, airlock::Channel ch, bool critical = false,
                         bool deprecated = false) {
  return {version, "demo-" + version + ".tar.zst", std::string(64, 'a'), 1000, {}, ch, critical, deprecated};
}

airlock::Feed feed(std::int64_t serial, std::vector<airlock::FeedEntry> entries, const std::string& product = "demo") {
  airlock::Feed f;
  f.product = product;
  f.serial = serial;
  f.published = airlock::Timestamp{1767225600 + serial, 0, 0};
  f.entries = std::move(entries);
  return f;
}

class FeedAccept : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
  }
  // `bytes` as <folder>/feed.toml, signed by each key named (keys/<name>.key).
  fs::path publish(const std::string& folder, const std::string& bytes,
                   const std::vector<std::string>& signers = {"demo-hq"}) {
    const fs::path d = dir / folder;
    fs::create_directories(d);
    spit(d / "feed.toml", bytes);
    for (const auto& name : signers) {
      const auto sk = key(name);
      spit(d / airlock::verifier::feed_signature_name("feed.toml", sk.key_id),
           airlock::minisign::format_signature(airlock::minisign::sign(sk, bytes, "airlock feed")));
    }
    return d / "feed.toml";
  }
  fs::path publish(const std::string& folder, const airlock::Feed& f,
                   const std::vector<std::string>& signers = {"demo-hq"}) {
    return publish(folder, airlock::render_feed(f), signers);
  }
  airlock::test::ProcResult accept(const fs::path& f) {
    return run(kBin + " feed accept " + q(f) + " --site " + site() + " --json");
  }
  void accepted(const fs::path& f) {
    auto r = accept(f);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The command exits `code`, naming `why`, and leaves the site's folder as it was.
  void refused(const fs::path& f, int code, const std::string& why) {
    const auto before = tree(dir / "site");
    auto r = accept(f);
    EXPECT_EQ(r.status, code) << r.output;
    EXPECT_NE(r.output.find(why), std::string::npos) << r.output;
    EXPECT_EQ(tree(dir / "site"), before) << "a refused feed changed the site's folder";
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  json status() const { return json_of(run(kBin + " status --site " + site() + " --json 2>/dev/null").output); }
  json audit() const {
    return json_of(run(kBin + " audit export --site " + site() + " --json 2>/dev/null").output)["entries"];
  }
  void build(const std::string& recipe, const fs::path& out) {
    fs::create_directories(out.parent_path());
    auto r = airlock::test::build_example(recipe, out);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  TempDir dir;
};

}  // namespace

TEST_F(FeedAccept, KeepsTheExactBytesAndRecordsSerialAndHash) {
  const auto f = publish("hq", feed(5, {entry("1.1.0", airlock::Channel::recommended)}));
  auto r = accept(f);
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  const std::string sha = airlock::to_hex(airlock::sha256(slurp(f)));
  EXPECT_EQ(j["serial"], 5);
  EXPECT_EQ(j["sha256"], sha);
  EXPECT_EQ(j["changed"], true);
  EXPECT_EQ(j["met"], json::array({"1.1.0"}));
  EXPECT_EQ(slurp(dir / "site/state/feed/accepted"), sha + "\n");
  EXPECT_EQ(slurp(dir / "site/state/feed" / sha / "feed.toml"), slurp(f));
  auto s = status();
  EXPECT_EQ(s["feed"]["serial"], 5) << s;
  EXPECT_EQ(s["feed"]["sha256"], sha);
  EXPECT_EQ(s["feed"]["published"], "2026-01-01T00:00:05Z");
  bool audited = false;
  for (const auto& e : audit())
    audited |= e["kind"] == "feed-accept" && e["data"]["serial"] == 5 && e["data"]["sha256"] == sha;
  EXPECT_TRUE(audited) << audit();
  auto h = json_of(run(kBin + " history --site " + site() + " --json").output)["history"];
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h.back()["outcome"], "feed_accepted");
  EXPECT_NE(h.back()["detail"].get<std::string>().find(sha), std::string::npos) << h;
  r = run(kBin + " audit verify --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
  // The kept copy still verifies with its kept signature.
  auto root = airlock::parse_trust_root(slurp(dir / "site/trust.toml"), airlock::ErrorClass::usage);
  ASSERT_TRUE(root);
  auto v = airlock::verifier::verify_feed_file((dir / "site/state/feed" / sha / "feed.toml").string(), *root,
                                               airlock::now_utc());
  EXPECT_TRUE(v) << v.error().what();
  // A newer feed replaces it; the old copy goes.
  const auto f6 = publish("hq6", feed(6, {entry("1.1.0", airlock::Channel::recommended)}));
  r = accept(f6);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["previous_serial"], 5);
  EXPECT_FALSE(fs::exists(dir / "site/state/feed" / sha));
}

TEST_F(FeedAccept, ReplayedOlderFeedIs13) {
  const auto old = publish("old", feed(4, {entry("1.1.0", airlock::Channel::beta)}));
  accepted(publish("new", feed(5, {entry("1.1.0", airlock::Channel::recommended)})));
  refused(old, 13, "lower than the accepted feed's 5");
}

TEST_F(FeedAccept, SameSerialWithOtherBytesIs13) {
  accepted(publish("one", feed(5, {entry("1.1.0", airlock::Channel::recommended)})));
  refused(publish("two", feed(5, {entry("1.1.0", airlock::Channel::beta)})), 13, "with other bytes");
}

TEST_F(FeedAccept, SameFeedAgainChangesNothing) {
  const auto f = publish("hq", feed(5, {entry("1.1.0", airlock::Channel::recommended)}));
  accepted(f);
  const auto before = tree(dir / "site");
  auto r = accept(f);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["changed"], false) << r.output;
  EXPECT_EQ(tree(dir / "site"), before);
}

TEST_F(FeedAccept, OtherProductIs13) {
  refused(publish("hq", feed(5, {entry("1.1.0", airlock::Channel::recommended)}, "other")), 13, "for product 'other'");
  EXPECT_FALSE(fs::exists(dir / "site/state")) << "a refusal creates nothing, not even the state folder";
}

TEST_F(FeedAccept, BelowThresholdIs11) {
  const auto f = feed(5, {entry("1.1.0", airlock::Channel::recommended)});
  refused(publish("stranger", f, {"demo-hq2"}), 11, "required signatures count");
  refused(publish("unsigned", f, {}), 11, "required signatures count");
  // A signature over other bytes counts for nothing.
  const auto p = publish("swapped", f);
  spit(p, airlock::render_feed(feed(6, {entry("1.1.0", airlock::Channel::recommended)})));
  refused(p, 11, "required signatures count");
}

TEST_F(FeedAccept, MalformedIs10) {
  const std::string bytes = airlock::render_feed(feed(5, {entry("1.1.0", airlock::Channel::recommended)}));
  refused(publish("unknown-key", bytes + "surprise = 1\n"), 10, "surprise");
  refused(publish("not-toml", std::string("format = \"airlock-feed/1\"\nserial = [\n")), 10, "feed");
}

TEST_F(FeedAccept, DeprecationIsStickyAcrossLaterFeeds) {
  build("example", dir / "stick/demo-1.1.0.tar.zst");
  accepted(publish("f5", feed(5, {entry("1.1.0", airlock::Channel::recommended, false, true)})));
  EXPECT_EQ(slurp(dir / "site/state/feed/deprecated"), "airlock-deprecated/1\n1.1.0\n");
  // A later feed lists it again, not deprecated; another omits it.
  accepted(publish("f6", feed(6, {entry("1.1.0", airlock::Channel::recommended)})));
  accepted(publish("f7", feed(7, {entry("1.2.0", airlock::Channel::recommended)})));
  EXPECT_EQ(slurp(dir / "site/state/feed/deprecated"), "airlock-deprecated/1\n1.1.0\n");
  auto j = json_of(run(kBin + " scan " + q(dir / "stick") + " --site " + site() + " --json").output);
  ASSERT_EQ(j["bundles"].size(), 1u) << j;
  EXPECT_EQ(j["bundles"][0]["deprecated"], true) << j;
  EXPECT_EQ(j["bundles"][0]["applies"], false);
  EXPECT_NE(j["bundles"][0]["why_not"].dump().find("deprecated"), std::string::npos) << j;
}

TEST_F(FeedAccept, DamagedDeprecationListIsAnErrorNamingTheLine) {
  accepted(publish("f5", feed(5, {entry("1.1.0", airlock::Channel::recommended, false, true)})));
  spit(dir / "site/state/feed/deprecated", "airlock-deprecated/1\n1.1.0\nnot a version\n");
  refused(publish("f6", feed(6, {entry("1.1.0", airlock::Channel::recommended)})), 33, "line 3");
  spit(dir / "site/state/feed/deprecated", "1.1.0\n");
  refused(publish("f7", feed(7, {entry("1.1.0", airlock::Channel::recommended)})), 33, "line 1");
}

TEST_F(FeedAccept, FeedCriticalReleaseCannotBeSkipped) {
  // 1.1.0's manifest is not critical; the feed raises it. 2.0.0 is in beta, which the site does
  // not follow: it is not met, yet the feed's word still forbids a skip.
  accepted(publish("f5", feed(5, {entry("1.1.0", airlock::Channel::recommended, true),
                                  entry("2.0.0", airlock::Channel::beta, true)})));
  auto s = status();
  ASSERT_EQ(s["critical"].size(), 1u) << s;
  EXPECT_EQ(s["critical"][0]["version"], "1.1.0");
  auto r = run(kBin + " skip 1.1.0 --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("critical"), std::string::npos) << r.output;
  r = run(kBin + " skip 2.0.0 --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("accepted feed, serial 5"), std::string::npos) << r.output;
  // Critical by the feed, so it may be delayed.
  r = run(kBin + " delay 2.0.0 --until " +
          airlock::format_rfc3339(airlock::Timestamp{airlock::now_utc().unix_seconds + 86400, 0, 0}) + " --site " +
          site());
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(FeedAccept, ScanTakesTheChannelFromTheAcceptedFeedAndWritesNothing) {
  build("example", dir / "stick/demo-1.1.0.tar.zst");
  build("example-1.2.0", dir / "stick/demo-1.2.0.tar.zst");
  // The manifest says recommended; the accepted feed keeps 1.1.0 in beta and raises it to critical.
  accepted(publish("f5", feed(5, {entry("1.1.0", airlock::Channel::beta, true)})));
  publish("stick", feed(6, {entry("1.1.0", airlock::Channel::recommended)}));
  const auto before = tree(dir / "site");
  const auto stick_before = tree(dir / "stick");
  auto r = run(kBin + " scan " + q(dir / "stick") + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(tree(dir / "site"), before) << "scan wrote to the site's folder";
  EXPECT_EQ(tree(dir / "stick"), stick_before) << "scan wrote to the stick";
  auto j = json_of(r.output);
  EXPECT_EQ(j["accepted_feed_serial"], 5) << j;
  EXPECT_EQ(j["stick_feed"]["serial"], 6) << j;
  EXPECT_EQ(j["stick_feed"]["verified"], true) << j;
  EXPECT_EQ(j["ignored_count"], 0) << "the feed and its signature are not 'ignored': " << j;
  ASSERT_EQ(j["bundles"].size(), 2u) << j;
  const auto& b120 = j["bundles"][0];
  const auto& b110 = j["bundles"][1];
  EXPECT_EQ(b120["version"], "1.2.0");
  EXPECT_EQ(b120["channel_source"], "manifest");
  EXPECT_EQ(b110["version"], "1.1.0");
  EXPECT_EQ(b110["channel"], "beta");
  EXPECT_EQ(b110["channel_source"], "feed");
  EXPECT_EQ(b110["critical"], true);
  EXPECT_NE(b110["why_not"].dump().find("channel beta is less stable"), std::string::npos) << b110;
  // The text report names both serials.
  r = run(kBin + " scan " + q(dir / "stick") + " --site " + site());
  EXPECT_NE(r.output.find("accepted serial 5; on the stick serial 6"), std::string::npos) << r.output;
  EXPECT_EQ(tree(dir / "site"), before);
}

TEST_F(FeedAccept, HelpTeaches) {
  auto r = run(kBin + " feed --help");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("feed accept FEED.toml --site"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("airlock feed accept /media/usb/feed.toml"), std::string::npos) << r.output;
}

TEST_F(FeedAccept, TamperedKeptFeedIsAnErrorNotAnotherFeed) {
  const auto f = publish("f5", feed(5, {entry("1.1.0", airlock::Channel::recommended, false, false)}));
  accepted(f);
  const std::string sha = airlock::to_hex(airlock::sha256(slurp(f)));
  spit(dir / "site/state/feed" / sha / "feed.toml",
       airlock::render_feed(feed(5, {entry("1.1.0", airlock::Channel::beta)})));
  auto r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("the stored feed is damaged"), std::string::npos) << r.output;
}

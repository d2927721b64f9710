// Matching a bundle to a channel feed (spec §10): match_feed's rules on their own, then through
// verify() over real crafted bundles, where the whole-file sha256 and size come from the one pass
// and a mismatch leaves nothing in staging.
#include "verifier/feed_match.hpp"

#include <gtest/gtest.h>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

const std::string kSha(64, 'a');
constexpr std::uint64_t kSize = 4096;

FeedEntry entry(std::string version, std::string sha, std::uint64_t size, Channel ch) {
  return {std::move(version), "bench-x.tar.zst", std::move(sha), size, {}, ch, false, false};
}

Feed bench_feed(std::vector<FeedEntry> entries) {
  Feed f;
  f.product = "bench";
  f.serial = 7;
  f.published = craft::ts("2026-05-06T12:00:00Z");
  f.entries = std::move(entries);
  return f;
}

Release release(std::string version = "4.5.3", Channel ch = Channel::beta, bool critical = false) {
  Release r;
  r.product = "bench";
  r.version = *parse_semver(version);
  r.channel = ch;
  r.critical = critical;
  return r;
}

void expect_error(const Result<FeedMatch>& m, ErrorClass cls, const std::string& needle) {
  ASSERT_FALSE(m) << "matched";
  EXPECT_EQ(m.error().cls(), cls) << m.error().what();
  EXPECT_NE(m.error().what().find(needle), std::string::npos) << m.error().what();
}

TEST(MatchFeed, ChannelComesFromTheEntryWithTheBundlesBytes) {
  auto f =
      bench_feed({entry("4.5.3", std::string(64, 'b'), 99, Channel::beta), entry("4.5.3", kSha, kSize, Channel::rc)});
  f.entries[1].file = "bench-4.5.3-delta.tar.zst";
  auto m = match_feed(f, release(), kSha, kSize, {});
  ASSERT_TRUE(m) << m.error().what();
  ASSERT_TRUE(m->entry);
  EXPECT_EQ(m->entry->file, "bench-4.5.3-delta.tar.zst");
  EXPECT_EQ(m->channel, Channel::rc);
  EXPECT_EQ(m->channel_source, ChannelSource::feed);
  EXPECT_FALSE(m->critical);
}

TEST(MatchFeed, AVersionTheFeedDoesNotListKeepsItsManifestChannel) {
  auto m = match_feed(bench_feed({entry("4.5.2", kSha, kSize, Channel::recommended)}), release("4.5.3", Channel::rc),
                      std::string(64, 'f'), 1, {});
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_FALSE(m->entry);
  EXPECT_EQ(m->channel, Channel::rc);
  EXPECT_EQ(m->channel_source, ChannelSource::manifest);
}

TEST(MatchFeed, OtherBytesAre12NamingTheFileAndBothDigests) {
  const std::string got(64, 'e');
  expect_error(match_feed(bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)}), release(), got, kSize, {}),
               ErrorClass::integrity, "bench-x.tar.zst with sha256 " + kSha.substr(0, 16));
  expect_error(match_feed(bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)}), release(), got, kSize, {}),
               ErrorClass::integrity, "the bundle read has sha256 " + got.substr(0, 16));
}

TEST(MatchFeed, SameDigestOtherSizeIs12) {
  expect_error(match_feed(bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)}), release(), kSha, kSize + 1, {}),
               ErrorClass::integrity, std::to_string(kSize + 1) + " bytes");
}

TEST(MatchFeed, AFeedForAnotherProductIs13) {
  auto f = bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)});
  f.product = "other";
  expect_error(match_feed(f, release(), kSha, kSize, {}), ErrorClass::policy, "product 'other'");
}

TEST(MatchFeed, ADeprecatedReleaseIs13) {
  auto f = bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)});
  f.entries[0].deprecated = true;
  expect_error(match_feed(f, release(), kSha, kSize, {}), ErrorClass::policy, "deprecated in the feed");
}

TEST(MatchFeed, StickyDeprecationHoldsWhateverTheFeedSays) {
  const std::set<std::string> deprecated{"4.5.3"};
  expect_error(match_feed(bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)}), release(), kSha, kSize, deprecated),
               ErrorClass::policy, "sticky");
  expect_error(match_feed(bench_feed({}), release(), kSha, kSize, deprecated), ErrorClass::policy, "sticky");
}

TEST(MatchFeed, TheFeedRaisesCriticalAndNeverLowersIt) {
  auto f = bench_feed({entry("4.5.3", kSha, kSize, Channel::rc)});
  auto m = match_feed(f, release("4.5.3", Channel::beta, true), kSha, kSize, {});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->critical) << "a feed entry without the flag does not lower the manifest's";
  f.entries[0].critical = true;
  m = match_feed(f, release(), kSha, kSize, {});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->critical);
  EXPECT_EQ(feed_critical(f, "4.5.3"), true);
  EXPECT_EQ(feed_critical(f, "9.9.9"), std::nullopt);
}

// Through verify(): the digest and size of the pass itself.
class VerifyWithFeed : public VerifierTest {
 protected:
  Request with_feed(const Feed& f) {
    auto r = request();
    r.feed = FeedContext{f, {}};
    return r;
  }
  Feed listing(const std::string& bytes, Channel ch) {
    return bench_feed({entry("4.5.3", craft::sha256_hex(bytes), bytes.size(), ch)});
  }
};

TEST_F(VerifyWithFeed, TheMatchUsesTheBytesOfThePassAndTheFeedsChannel) {
  craft::BundleSpec spec;
  spec.channel = "beta";
  const auto bytes = good(spec).bytes();
  test::spit(bundle_path, bytes);
  policy.channel = Channel::recommended;
  // Without the feed the site refuses a beta release; the feed has promoted it.
  auto plain = verify(request());
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().cls(), ErrorClass::policy) << plain.error().what();
  auto r = verify(with_feed(listing(bytes, Channel::recommended)));
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_TRUE(r->feed_match);
  EXPECT_EQ(r->feed_match->channel, Channel::recommended);
  EXPECT_EQ(r->feed_match->channel_source, ChannelSource::feed);
  EXPECT_EQ(r->bundle_sha256, craft::sha256_hex(bytes));
  EXPECT_EQ(r->bundle_bytes, bytes.size());
  EXPECT_TRUE(fs::exists(staging / "data/table.csv"));
}

TEST_F(VerifyWithFeed, OtherBytesAre12AndNothingStaysInStaging) {
  const auto b = good();
  auto other = b;
  const auto stranger = craft::make_key("stranger");
  other.resign({&hq, &stranger});  // the same release with one more signature: other bytes
  const auto bytes = other.bytes();
  ASSERT_NE(bytes, b.bytes());
  test::spit(bundle_path, bytes);
  const auto before = snapshot(dir.path());
  auto r = verify(with_feed(listing(b.bytes(), Channel::recommended)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity) << r.error().what();
  EXPECT_NE(r.error().what().find(craft::sha256_hex(bytes).substr(0, 16)), std::string::npos) << r.error().what();
  EXPECT_EQ(snapshot(dir.path()), before);
  EXPECT_FALSE(fs::exists(staging));
}

TEST_F(VerifyWithFeed, TheFeedsChannelIsCheckedAgainstTheSitesAfterTheStream) {
  const auto bytes = good().bytes();  // the manifest says recommended
  test::spit(bundle_path, bytes);
  policy.channel = Channel::recommended;
  auto r = verify(with_feed(listing(bytes, Channel::beta)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_NE(r.error().what().find("channel from the feed"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(staging));
}

}  // namespace
}  // namespace airlock::verifier::testing

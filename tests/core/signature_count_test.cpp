// count_signatures / SignatureCounter: the one routine that decides how many distinct trusted keys
// signed a document (spec §5-§6), over any bytes: a manifest, or a feed with detached signatures
// (§10). Real minisign signatures by keys made in the test.
#include "core/crypto/signature_count.hpp"

#include <gtest/gtest.h>

#include <array>

#include "tests/support/craft.hpp"

namespace airlock {
namespace {

namespace craft = test::craft;

const std::string kFeed = "format = \"airlock-feed/1\"\nproduct = \"bench\"\nserial = 17\n";

class SignatureCount : public ::testing::Test {
 protected:
  craft::Key a = craft::make_key("hq-a");
  craft::Key b = craft::make_key("hq-b");
  craft::Key stranger = craft::make_key("stranger");
  const Timestamp now = craft::ts("2026-06-01T00:00:00Z");

  // A detached signature as it travels (`feed.toml.<KEYID>.minisig`), parsed back.
  static minisign::Signature sig(const craft::Key& k, std::string_view doc, std::string comment = "feed") {
    auto parsed = minisign::parse_signature(minisign::format_signature(minisign::sign(k.sk, doc, std::move(comment))));
    EXPECT_TRUE(parsed) << parsed.error().what();
    return *parsed;
  }
  SignatureTally count(std::vector<minisign::Signature> sigs, int threshold, std::string_view doc = kFeed) {
    const std::array<Timestamp, 1> at{now};
    return count_signatures(doc, std::move(sigs),
                            craft::trust_root({craft::trust_key(a), craft::trust_key(b)}, threshold), at);
  }
};

TEST_F(SignatureCount, ThresholdMetByTwoDistinctKeys) {
  const auto t = count({sig(a, kFeed), sig(b, kFeed)}, 2);
  EXPECT_TRUE(t.threshold_met());
  EXPECT_EQ(t.counted, 2);
  EXPECT_EQ(t.counted_key_ids, (std::vector<std::string>{a.id(), b.id()}));
  ASSERT_EQ(t.verdicts.size(), 2u);
  EXPECT_TRUE(t.verdicts[0].counted);
  EXPECT_EQ(t.verdicts[0].key_name, "hq-a");
  EXPECT_TRUE(t.verdicts[0].reason.empty());
  EXPECT_TRUE(require_threshold(t, "feed"));
}

TEST_F(SignatureCount, ThresholdNotMetIsNotAuthenticNamingTheCount) {
  const auto t = count({sig(a, kFeed)}, 2);
  EXPECT_FALSE(t.threshold_met());
  EXPECT_EQ(t.counted, 1);
  auto s = require_threshold(t, "feed.toml");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::not_authentic);
  EXPECT_NE(s.error().what().find("feed.toml: 1 of 2 required signatures count (" + a.id() + " counted)"),
            std::string::npos)
      << s.error().what();
}

TEST_F(SignatureCount, NoSignaturesNeverMeetAThreshold) {
  const auto t = count({}, 1);
  EXPECT_FALSE(t.threshold_met());
  auto s = require_threshold(t, "feed.toml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what().find("no signatures"), std::string::npos) << s.error().what();
}

TEST_F(SignatureCount, TheSameKeyTwiceCountsOnce) {
  const auto t = count({sig(a, kFeed, "one"), sig(a, kFeed, "two")}, 2);
  EXPECT_EQ(t.counted, 1);
  EXPECT_FALSE(t.threshold_met());
  ASSERT_EQ(t.verdicts.size(), 2u);
  EXPECT_TRUE(t.verdicts[0].counted);
  EXPECT_FALSE(t.verdicts[1].counted);
  EXPECT_NE(t.verdicts[1].reason.find("already counted"), std::string::npos) << t.verdicts[1].reason;
  EXPECT_EQ(t.counted_key_ids, (std::vector<std::string>{a.id()}));
}

TEST_F(SignatureCount, OneKeyListedTwiceInTheRootCountsOnce) {
  const std::array<Timestamp, 1> at{now};
  auto root = craft::trust_root({craft::trust_key(a), craft::trust_key(a)}, 2);
  root.keys[1].name = "hq-a-again";
  const auto t = count_signatures(kFeed, {sig(a, kFeed, "one"), sig(a, kFeed, "two")}, root, at);
  EXPECT_EQ(t.counted, 1);
  EXPECT_FALSE(t.threshold_met());
}

TEST_F(SignatureCount, AnUnknownKeyCountsForNothing) {
  const auto t = count({sig(stranger, kFeed), sig(a, kFeed)}, 1);
  EXPECT_TRUE(t.threshold_met());
  EXPECT_EQ(t.counted, 1);
  ASSERT_EQ(t.verdicts.size(), 2u);
  EXPECT_EQ(t.verdicts[0].key_id, stranger.id());
  EXPECT_FALSE(t.verdicts[0].counted);
  EXPECT_FALSE(t.verdicts[0].key_name.has_value());
  EXPECT_EQ(t.verdicts[0].reason, "unknown key (not in the trust root)");
}

TEST_F(SignatureCount, ASignatureOverOtherBytesCountsForNothing) {
  // A's real signature over another serial: replayed onto this feed it must not count.
  const std::string other = kFeed.substr(0, kFeed.size() - 3) + "16\n";
  const auto t = count({sig(a, other)}, 1);
  EXPECT_EQ(t.counted, 0);
  EXPECT_FALSE(t.threshold_met());
  ASSERT_EQ(t.verdicts.size(), 1u);
  EXPECT_EQ(t.verdicts[0].key_name, "hq-a");
  EXPECT_NE(t.verdicts[0].reason.find("bad signature"), std::string::npos) << t.verdicts[0].reason;
  // The same signature counts over the bytes it was made for.
  EXPECT_TRUE(count({sig(a, other)}, 1, other).threshold_met());
}

TEST_F(SignatureCount, AKeyOutsideItsWindowAtAnyInstantCountsForNothing) {
  // The feed's keys must be valid at the verification time and at `published` alike.
  auto root = craft::trust_root({craft::trust_key(a, std::nullopt, "2026-07-01T00:00:00Z")}, 1);
  SignatureCounter counter({sig(a, kFeed)}, kFeed);
  const std::array<Timestamp, 1> now_only{now};
  EXPECT_TRUE(counter.count(root, now_only).threshold_met());
  const std::array<Timestamp, 2> both{now, craft::ts("2026-08-01T00:00:00Z")};
  const auto t = counter.count(root, both);
  EXPECT_FALSE(t.threshold_met());
  EXPECT_NE(t.verdicts[0].reason.find("outside its validity window at 2026-08-01T00:00:00Z"), std::string::npos)
      << t.verdicts[0].reason;
}

TEST_F(SignatureCount, ARevokedKeyCountsForNothing) {
  const std::array<Timestamp, 1> at{now};
  auto root = craft::trust_root({craft::trust_key(a, std::nullopt, std::nullopt, true)}, 1);
  const auto t = count_signatures(kFeed, {sig(a, kFeed)}, root, at);
  EXPECT_FALSE(t.threshold_met());
  EXPECT_NE(t.verdicts[0].reason.find("revoked"), std::string::npos) << t.verdicts[0].reason;
}

TEST_F(SignatureCount, AThresholdBelowOneIsNeverMet) {
  const std::array<Timestamp, 1> at{now};
  auto root = craft::trust_root({craft::trust_key(a)}, 0);
  EXPECT_FALSE(count_signatures(kFeed, {sig(a, kFeed)}, root, at).threshold_met());
}

}  // namespace
}  // namespace airlock

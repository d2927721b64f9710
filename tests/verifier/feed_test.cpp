// verify_feed (spec §10): detached signatures counted by core/crypto/signature_count against the
// trust root; the threshold decides (11), a malformed feed is 10 once its signatures count, the
// names and bounds of the signature files are 10, keys are valid at now and at `published`.
#include "verifier/feed.hpp"

#include <gtest/gtest.h>

#include "tests/support/craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::verifier {
namespace {

namespace craft = test::craft;

class VerifyFeed : public ::testing::Test {
 protected:
  craft::Key a = craft::make_key("hq-a");
  craft::Key b = craft::make_key("hq-b");
  craft::Key stranger = craft::make_key("stranger");
  Timestamp now = craft::ts("2026-06-01T00:00:00Z");
  TrustRoot root = craft::trust_root({craft::trust_key(a), craft::trust_key(b)}, 2);

  std::string feed_text() const {
    Feed f;
    f.product = "bench";
    f.serial = 4;
    f.published = craft::ts("2026-05-06T12:00:00Z");
    f.entries.push_back({"4.5.3", "bench-4.5.3.tar.zst", std::string(64, 'c'), 42, {}, Channel::rc, false, false});
    return render_feed(f);
  }
  static DetachedSignature sig(const craft::Key& k, std::string_view doc) {
    return {feed_signature_name("feed.toml", k.sk.key_id),
            minisign::format_signature(minisign::sign(k.sk, doc, "airlock feed"))};
  }
  static void expect_class(const Result<Feed>& r, ErrorClass cls, const std::string& names = "") {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().cls(), cls) << r.error().what();
    EXPECT_NE(r.error().what().find(names), std::string::npos) << r.error().what();
  }
};

TEST_F(VerifyFeed, ThresholdMet) {
  const auto text = feed_text();
  auto f = verify_feed(text, {sig(a, text), sig(b, text)}, root, now);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_EQ(f->serial, 4);
  EXPECT_EQ(f->entries.at(0).channel, Channel::rc);
}

TEST_F(VerifyFeed, ThresholdNotMetIs11) {
  const auto text = feed_text();
  expect_class(verify_feed(text, {sig(a, text)}, root, now), ErrorClass::not_authentic, "1 of 2");
  expect_class(verify_feed(text, {}, root, now), ErrorClass::not_authentic);
}

TEST_F(VerifyFeed, UnknownKeyCountsForNothing) {
  const auto text = feed_text();
  expect_class(verify_feed(text, {sig(a, text), sig(stranger, text)}, root, now), ErrorClass::not_authentic,
               stranger.id());
}

TEST_F(VerifyFeed, SignatureOverOtherBytesCountsForNothing) {
  const auto text = feed_text();
  auto tampered = text;
  tampered.replace(tampered.find("serial = 4"), 10, "serial = 5");
  expect_class(verify_feed(tampered, {sig(a, text), sig(b, text)}, root, now), ErrorClass::not_authentic);
}

TEST_F(VerifyFeed, RevokedKeyCountsForNothing) {
  const auto text = feed_text();
  expect_class(verify_feed(text, {sig(a, text), sig(b, text)}, root, now, {b.sk.key_id}), ErrorClass::not_authentic);
}

TEST_F(VerifyFeed, KeyMustBeValidAtPublished) {
  root = craft::trust_root({craft::trust_key(a), craft::trust_key(b, "2026-05-20T00:00:00Z")}, 2);
  const auto text = feed_text();  // published 2026-05-06, before b's window opens
  expect_class(verify_feed(text, {sig(a, text), sig(b, text)}, root, now), ErrorClass::not_authentic, "published");
}

TEST_F(VerifyFeed, MalformedFeedSignedAboveThresholdIs10) {
  const std::string text = feed_text() + "unexpected = true\n";
  expect_class(verify_feed(text, {sig(a, text), sig(b, text)}, root, now), ErrorClass::malformed, "unexpected");
}

TEST_F(VerifyFeed, MalformedFeedBelowThresholdIs11First) {
  const std::string text = "not toml at all [";
  expect_class(verify_feed(text, {sig(a, text)}, root, now), ErrorClass::not_authentic);
}

TEST_F(VerifyFeed, SignatureFileNamesAndBoundsAre10) {
  const auto text = feed_text();
  auto good = sig(a, text);
  auto misnamed = sig(b, text);
  misnamed.name = feed_signature_name("feed.toml", a.sk.key_id);  // b's signature under a's id
  expect_class(verify_feed(text, {sig(b, text), misnamed}, root, now), ErrorClass::malformed, "the name says");
  auto badname = good;
  badname.name = "feed.toml.minisig";
  expect_class(verify_feed(text, {badname}, root, now), ErrorClass::malformed, "not a feed signature name");
  expect_class(verify_feed(text, {good, good}, root, now), ErrorClass::malformed, "appears twice");
  auto big = good;
  big.text += std::string(kMaxSignatureFileBytes, '\n');
  expect_class(verify_feed(text, {big}, root, now), ErrorClass::malformed, "over the limit");
  std::vector<DetachedSignature> many(kMaxSignatureEntries + 1, good);
  expect_class(verify_feed(text, many, root, now), ErrorClass::malformed, "over the limit");
}

TEST_F(VerifyFeed, GarbledSignatureContentsAre11) {
  const auto text = feed_text();
  auto bad = sig(a, text);
  bad.text = "untrusted comment: x\nnot base64!\n";
  expect_class(verify_feed(text, {bad, sig(b, text)}, root, now), ErrorClass::not_authentic);
}

TEST_F(VerifyFeed, FromFilesBesideTheFeed) {
  test::TempDir dir;
  const auto text = feed_text();
  test::spit(dir / "feed.toml", text);
  for (const auto& s : {sig(a, text), sig(b, text)}) test::spit(dir / s.name, s.text);
  test::spit(dir / "other.toml.0000000000000000.minisig", "ignored: not this feed's");
  auto f = verify_feed_file((dir / "feed.toml").string(), root, now);
  ASSERT_TRUE(f) << f.error().what();
  std::filesystem::remove(dir / sig(b, text).name);
  expect_class(verify_feed_file((dir / "feed.toml").string(), root, now), ErrorClass::not_authentic);
}

}  // namespace
}  // namespace airlock::verifier

// read_bundle_head: the one reader of a bundle's manifest and signature entries, strict for
// verify and sign, lenient for inspect. Bundles are good ones from tests/support/craft with one
// thing changed.
#include "core/container/bundle_head.hpp"

#include <gtest/gtest.h>

#include "tests/support/craft.hpp"

namespace airlock {
namespace {

namespace craft = test::craft;

class BundleHeadTest : public ::testing::Test {
 protected:
  craft::Key a = craft::make_key("hq-a");
  craft::Key b = craft::make_key("hq-b");

  craft::Bundle good() { return craft::good_bundle(craft::BundleSpec{}, {&a, &b}); }
  static Result<BundleHead> read(const craft::Bundle& bundle, HeadMode mode) {
    auto src = memory_source(bundle.bytes());
    ZstdReader z(*src);
    TarReader tar(z);
    return read_bundle_head(tar, mode);
  }
  static void expect_both_refuse(const craft::Bundle& bundle, const std::string& needle) {
    for (auto mode : {HeadMode::strict, HeadMode::lenient}) {
      auto r = read(bundle, mode);
      ASSERT_FALSE(r) << static_cast<int>(mode);
      EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
      EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
    }
  }
};

TEST_F(BundleHeadTest, BothModesReadAGoodHeadAlike) {
  const auto bundle = good();
  for (auto mode : {HeadMode::strict, HeadMode::lenient}) {
    auto r = read(bundle, mode);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->manifest, bundle.manifest);
    ASSERT_EQ(r->signatures.size(), 2u);
    EXPECT_EQ(r->parsed_signatures().size(), 2u);
    EXPECT_EQ(r->signatures[0].entry, bundle.head[1].path);
    EXPECT_EQ(r->signatures[0].text, bundle.head[1].data);
    ASSERT_TRUE(r->next.has_value());
    EXPECT_EQ(r->next->path, bundle.payload[0].path);
    EXPECT_EQ(r->next_number, 4u);
    EXPECT_GT(r->signatures_end, 0u);
    EXPECT_EQ(r->signatures_end % 512, 0u);
  }
}

TEST_F(BundleHeadTest, AnUnparsableSignatureIsRefusedStrictlyAndShownLeniently) {
  auto bundle = good();
  bundle.head[1].data = "untrusted comment: x\nnot base64\n";
  auto strict = read(bundle, HeadMode::strict);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().cls(), ErrorClass::not_authentic) << strict.error().what();
  EXPECT_NE(strict.error().what().find("entry 2 '" + bundle.head[1].path + "'"), std::string::npos)
      << strict.error().what();
  auto lenient = read(bundle, HeadMode::lenient);
  ASSERT_TRUE(lenient) << lenient.error().what();
  ASSERT_EQ(lenient->signatures.size(), 2u);
  EXPECT_FALSE(lenient->signatures[0].sig.has_value());
  EXPECT_FALSE(lenient->signatures[0].problem.empty());
  EXPECT_TRUE(lenient->signatures[1].sig.has_value());
  EXPECT_EQ(lenient->parsed_signatures().size(), 1u);
}

TEST_F(BundleHeadTest, NameOrderAndIdRulesAreStrictOnly) {
  auto unsorted = good();
  std::swap(unsorted.head[1], unsorted.head[2]);
  auto misnamed = good();
  const bool first_is_a = misnamed.head[1].path.find(a.id()) != std::string::npos;
  misnamed.head[1].path = "signatures/" + (first_is_a ? b.id() : a.id()) + ".minisig";  // the other key
  misnamed.head.erase(misnamed.head.begin() + 2);
  auto lower = good();
  lower.head[1].path = "signatures/" + std::string(16, 'a') + ".minisig";
  for (const auto* bundle : {&unsorted, &misnamed, &lower}) {
    auto strict = read(*bundle, HeadMode::strict);
    ASSERT_FALSE(strict);
    EXPECT_EQ(strict.error().cls(), ErrorClass::malformed) << strict.error().what();
    auto lenient = read(*bundle, HeadMode::lenient);
    ASSERT_TRUE(lenient) << lenient.error().what();
    EXPECT_FALSE(lenient->signatures.empty());
  }
}

TEST_F(BundleHeadTest, NoSignatureEntryIsRefusedStrictlyOnly) {
  auto bundle = good();
  bundle.head.resize(1);
  auto strict = read(bundle, HeadMode::strict);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().cls(), ErrorClass::malformed);
  EXPECT_NE(strict.error().what().find("no signature entries after manifest.toml"), std::string::npos)
      << strict.error().what();
  auto lenient = read(bundle, HeadMode::lenient);
  ASSERT_TRUE(lenient) << lenient.error().what();
  EXPECT_TRUE(lenient->signatures.empty());
}

TEST_F(BundleHeadTest, BothModesKeepTheCountLimit) {
  auto bundle = good();
  std::vector<craft::Key> keys;
  for (std::size_t i = 0; i < kMaxSignatureEntries + 1; ++i) keys.push_back(craft::make_key("k"));
  std::vector<const craft::Key*> signers;
  for (const auto& k : keys) signers.push_back(&k);
  bundle.resign(signers);
  ASSERT_EQ(bundle.head.size(), kMaxSignatureEntries + 2);
  expect_both_refuse(bundle, "more than 16 signature entries");
}

TEST_F(BundleHeadTest, BothModesRefuseAnOversizedSignatureFromItsHeader) {
  auto bundle = good();
  bundle.head[1].header_size = kMaxSignatureFileBytes + 1;  // the content is never read
  bundle.head.resize(2);
  bundle.payload.clear();
  bundle.end_marker = false;
  expect_both_refuse(bundle, "over the limit of 4096");
}

TEST_F(BundleHeadTest, BothModesRefuseAManifestThatIsNotFirstOrTooLarge) {
  auto not_first = good();
  std::swap(not_first.head[0], not_first.payload[0]);
  expect_both_refuse(not_first, "entry 1 must be manifest.toml");
  auto big = good();
  big.head[0].header_size = kMaxManifestBytes + 1;
  big.head.resize(1);
  big.payload.clear();
  big.end_marker = false;
  expect_both_refuse(big, "over the limit of " + std::to_string(kMaxManifestBytes));
}

}  // namespace
}  // namespace airlock

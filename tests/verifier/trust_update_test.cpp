// Spec §6: a [trust_update] names a new trust root carried in the payload. It must parse (else 11)
// and the manifest's signatures must meet its threshold too, its keys' windows taken at the
// verification time (else 11). A good one comes back in the report, parsed.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using TrustUpdate = VerifierTest;

craft::BundleSpec with_trust_file(std::string text) {
  craft::BundleSpec s;
  s.trust_update = "trust/trust.toml";
  s.files.push_back({"trust/trust.toml", std::move(text), false});
  return s;
}

TEST_F(TrustUpdate, ValidUpdateAcceptedAndReported) {
  const auto next = craft::make_key("hq-2027");
  const auto root = craft::trust_root({craft::trust_key(hq), craft::trust_key(next, "2026-01-01T00:00:00Z")}, 1);
  auto r = run(good(with_trust_file(craft::trust_toml(root))));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  ASSERT_TRUE(r->trust_update.has_value());
  ASSERT_EQ(r->trust_update->keys.size(), 2u);
  EXPECT_EQ(r->trust_update->keys[1].name, "hq-2027");
  EXPECT_EQ(r->trust_update->keys[1].key.pk, next.pub().pk);
  EXPECT_TRUE(fs::is_regular_file(staging / "trust/trust.toml"));
}

TEST_F(TrustUpdate, NoUpdateMeansNoneReported) {
  auto r = run(good());
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_FALSE(r->trust_update.has_value());
}

TEST_F(TrustUpdate, UpdateThatDoesNotParse) {
  expect_refused(good(with_trust_file("format = \"airlock-trust/1\"\nthreshold = \n")), ErrorClass::not_authentic,
                 "'trust/trust.toml': [trust_update]");
}

TEST_F(TrustUpdate, UpdateWithUnknownKey) {
  auto text = craft::trust_toml(craft::trust_root({craft::trust_key(hq)}));
  text += "colour = \"red\"\n";
  expect_refused(good(with_trust_file(text)), ErrorClass::not_authentic, "colour");
}

TEST_F(TrustUpdate, ThresholdOfTheNewRootNotMet) {
  const auto next = craft::make_key("hq-2027");
  const auto root = craft::trust_root({craft::trust_key(hq), craft::trust_key(next)}, 2);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "new trust root");
}

TEST_F(TrustUpdate, NewRootWithoutTheSigningKey) {
  const auto next = craft::make_key("hq-2027");
  const auto root = craft::trust_root({craft::trust_key(next)}, 1);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "new trust root");
}

TEST_F(TrustUpdate, NewRootKeyOutOfWindowAtVerificationTime) {
  const auto root = craft::trust_root({craft::trust_key(hq, "2026-07-01T00:00:00Z")}, 1);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "window");
}

TEST_F(TrustUpdate, CheckedAsSoonAsItsEntryIsHashed) {
  // The new root comes first and is bad; a later file is damaged too. The run stops at the root.
  craft::BundleSpec s = with_trust_file(craft::trust_toml(craft::trust_root({craft::trust_key(craft::make_key("x"))})));
  std::rotate(s.files.begin(), s.files.end() - 1, s.files.end());
  auto b = good(s);
  b.payload.back().data[0] = '#';
  expect_refused(b, ErrorClass::not_authentic, "new trust root");
}

TEST_F(TrustUpdate, OverSixtyFourKiB) {
  auto text = craft::trust_toml(craft::trust_root({craft::trust_key(hq)}));
  text += "# " + std::string(kMaxTrustRootBytes, 'x') + "\n";
  expect_refused(good(with_trust_file(text)), ErrorClass::not_authentic, "limit");
}

TEST_F(TrustUpdate, TamperedUpdateIsAnIntegrityFailure) {
  auto b = good(with_trust_file(craft::trust_toml(craft::trust_root({craft::trust_key(hq)}))));
  auto& e = b.payload.back();
  e.data[e.data.find("threshold = 1")] = 'T';  // same size, other bytes
  expect_refused(b, ErrorClass::integrity, "SHA-256");
}

}  // namespace
}  // namespace airlock::verifier::testing

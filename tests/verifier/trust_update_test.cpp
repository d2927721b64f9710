// Spec §6: a [trust_update] names a new trust root carried in the payload. It must parse (else 11)
// and the manifest's signatures must meet its threshold too, its keys' windows taken at the
// verification time (else 11). A good one comes back in the report, parsed. A root whose serial is
// not above the current one is stale: reported, not checked, and no reason to refuse the bundle.
// Keys the consumer has seen revoked count for nothing in either root.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using TrustUpdate = VerifierTest;

// A root newer than the fixture's (serial 0).
TrustRoot next_root(std::vector<TrustKey> keys, int threshold = 1, std::int64_t serial = 1) {
  auto r = craft::trust_root(std::move(keys), threshold);
  r.serial = serial;
  return r;
}

craft::BundleSpec with_trust_file(std::string text) {
  craft::BundleSpec s;
  s.trust_update = "trust/trust.toml";
  s.files.push_back({"trust/trust.toml", std::move(text), false});
  return s;
}

TEST_F(TrustUpdate, ValidUpdateAcceptedAndReported) {
  const auto next = craft::make_key("hq-2027");
  const auto root = next_root({craft::trust_key(hq), craft::trust_key(next, "2026-01-01T00:00:00Z")}, 1);
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
  const auto root = next_root({craft::trust_key(hq), craft::trust_key(next)}, 2);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "new trust root");
}

TEST_F(TrustUpdate, NewRootWithoutTheSigningKey) {
  const auto next = craft::make_key("hq-2027");
  const auto root = next_root({craft::trust_key(next)}, 1);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "new trust root");
}

TEST_F(TrustUpdate, NewRootKeyOutOfWindowAtVerificationTime) {
  const auto root = next_root({craft::trust_key(hq, "2026-07-01T00:00:00Z")}, 1);
  expect_refused(good(with_trust_file(craft::trust_toml(root))), ErrorClass::not_authentic, "window");
}

TEST_F(TrustUpdate, CheckedAsSoonAsItsEntryIsHashed) {
  // The new root comes first and is bad; a later file is damaged too. The run stops at the root.
  craft::BundleSpec s = with_trust_file(craft::trust_toml(next_root({craft::trust_key(craft::make_key("x"))})));
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

TEST_F(TrustUpdate, StaleUpdateIsReportedNeitherCheckedNorRefused) {
  // The site is at serial 2; the bundle carries serial 1 (and then 2), a root whose threshold the
  // bundle does not even meet: an old release applied again must not fail for it.
  trust.serial = 2;
  const auto other = craft::make_key("other");
  for (std::int64_t serial : {1, 2}) {
    const auto old = next_root({craft::trust_key(other)}, 1, serial);
    auto r = run(good(with_trust_file(craft::trust_toml(old))));
    ASSERT_TRUE(r.has_value()) << r.error().what();
    EXPECT_FALSE(r->trust_update.has_value());
    ASSERT_TRUE(r->stale_trust_update.has_value());
    EXPECT_EQ(*r->stale_trust_update, serial);
    fs::remove_all(staging);
  }
}

TEST_F(TrustUpdate, StaleUpdateMustStillParse) {
  trust.serial = 2;
  expect_refused(good(with_trust_file("format = \"airlock-trust/1\"\nserial = 1\nthreshold = \n")),
                 ErrorClass::not_authentic, "[trust_update]");
}

TEST_F(TrustUpdate, NewerSerialIsCheckedAndReported) {
  trust.serial = 2;
  auto r = run(good(with_trust_file(craft::trust_toml(next_root({craft::trust_key(hq)}, 1, 3)))));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  ASSERT_TRUE(r->trust_update.has_value());
  EXPECT_EQ(r->trust_update->serial, 3);
  EXPECT_FALSE(r->stale_trust_update.has_value());
}

TEST_F(TrustUpdate, StickyRevokedKeyCountsForNothingInTheCurrentRoot) {
  // The consumer saw hq revoked once; its current root lists hq unrevoked again.
  revoked_keys = {hq.sk.key_id};
  expect_refused(good(), ErrorClass::not_authentic, "revoked");
}

TEST_F(TrustUpdate, StickyRevokedKeyCountsForNothingInTheNewRoot) {
  // Signed by hq and next; the current root trusts next only. The new root un-revokes hq and
  // needs two keys: at this consumer hq stays revoked, so the new root's threshold is not met.
  const auto next = craft::make_key("next");
  trust = craft::trust_root({craft::trust_key(next), craft::trust_key(hq, std::nullopt, std::nullopt, true)});
  revoked_keys = {hq.sk.key_id};
  const auto root = next_root({craft::trust_key(hq), craft::trust_key(next)}, 2);
  auto b = craft::good_bundle(with_trust_file(craft::trust_toml(root)), {&hq, &next});
  expect_refused(b, ErrorClass::not_authentic, "new trust root");
  revoked_keys.clear();  // the current root's own revocation is enough
  expect_refused(b, ErrorClass::not_authentic, "new trust root");
  trust.keys[1].revoked = false;  // the same bundle without any history of hq revoked: accepted
  auto r = run(b);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_TRUE(r->trust_update.has_value());
}

}  // namespace
}  // namespace airlock::verifier::testing

// Spec §5–§6: which signatures count. A well-formed signature that fails a check, or whose key is
// unknown, revoked or out of window, counts for nothing; short of the threshold the bundle is not
// authentic (11). Malformed signature files are 11 too.
#include <gtest/gtest.h>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Signatures = VerifierTest;

// Replaces the content of signature entry `i` (1-based head index) keeping its name.
void set_sig_text(craft::Bundle& b, std::size_t i, std::string text) { b.head.at(i).data = std::move(text); }

TEST_F(Signatures, WrongKeyWithTrustedKeyIdCountsForNothing) {
  auto b = good();
  craft::Key imposter = craft::make_key("imposter");
  imposter.sk.key_id = hq.sk.key_id;  // claims to be hq; the Ed25519 check must fail
  set_sig_text(b, 1, craft::signature_text(imposter, b.manifest));
  expect_refused(b, ErrorClass::not_authentic, "bad signature");
}

TEST_F(Signatures, UnknownKeyIdCountsForNothing) {
  const auto stranger = craft::make_key("stranger");
  auto b = craft::good_bundle({}, {&stranger});
  expect_refused(b, ErrorClass::not_authentic, "unknown key");
}

TEST_F(Signatures, SignatureOverOtherBytes) {
  auto b = good();
  set_sig_text(b, 1, craft::signature_text(hq, b.manifest + "\n"));
  expect_refused(b, ErrorClass::not_authentic, "0 of 1");
}

TEST_F(Signatures, TamperedTrustedComment) {
  auto b = good();
  auto text = b.head[1].data;
  const auto pos = text.find("trusted comment: airlock test");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos + 17, 7, "AIRLOCK");
  set_sig_text(b, 1, text);
  expect_refused(b, ErrorClass::not_authentic, "bad signature");
}

TEST_F(Signatures, LegacyEdSignatureRefused) {
  auto b = good();
  set_sig_text(b, 1, craft::legacy_signature_text(hq, b.manifest));
  expect_refused(b, ErrorClass::not_authentic, "legacy");
}

TEST_F(Signatures, SignatureFileNotFourLines) {
  auto b = good();
  set_sig_text(b, 1, b.head[1].data + "extra line\n");
  expect_refused(b, ErrorClass::not_authentic, "four lines");
}

TEST_F(Signatures, TrustedCommentOver1024Bytes) {
  auto b = good();
  const auto sig = minisign::sign(hq.sk, b.manifest, std::string(minisign::kMaxCommentBytes + 1, 'c'));
  set_sig_text(b, 1, minisign::format_signature(sig));
  expect_refused(b, ErrorClass::not_authentic, "comment");
}

TEST_F(Signatures, SignatureLineNotBase64) {
  auto b = good();
  auto text = b.head[1].data;
  const auto line2 = text.find('\n') + 1;
  text[line2 + 10] = '*';
  set_sig_text(b, 1, text);
  expect_refused(b, ErrorClass::not_authentic, "base64");
}

TEST_F(Signatures, ThresholdNotMetWithOneOfTwo) {
  const auto second = craft::make_key("hq-backup");
  trust = craft::trust_root({craft::trust_key(hq), craft::trust_key(second)}, 2);
  expect_refused(good(), ErrorClass::not_authentic, "1 of 2");
}

TEST_F(Signatures, ThresholdTwoMetWithTwoKeys) {
  const auto second = craft::make_key("hq-backup");
  trust = craft::trust_root({craft::trust_key(hq), craft::trust_key(second)}, 2);
  auto r = run(craft::good_bundle({}, {&hq, &second}));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->valid_signatures, 2);
  EXPECT_EQ(r->signatures.size(), 2u);
}

TEST_F(Signatures, OneKeyListedTwiceInTheTrustRootCountsOnce) {
  auto alias = craft::trust_key(hq);
  alias.name = "hq-alias";
  trust = craft::trust_root({craft::trust_key(hq), alias}, 2);
  expect_refused(good(), ErrorClass::not_authentic, "1 of 2");
}

TEST_F(Signatures, UntrustedExtraSignatureDoesNotHurt) {
  const auto stranger = craft::make_key("stranger");
  auto r = run(craft::good_bundle({}, {&hq, &stranger}));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->valid_signatures, 1);
  ASSERT_EQ(r->signatures.size(), 2u);
  for (const auto& s : r->signatures) EXPECT_EQ(s.counted, s.key_id == hq.id()) << s.key_id << " " << s.reason;
}

TEST_F(Signatures, RevokedKey) {
  trust = craft::trust_root({craft::trust_key(hq, std::nullopt, std::nullopt, /*revoked=*/true)});
  expect_refused(good(), ErrorClass::not_authentic, "revoked");
}

TEST_F(Signatures, KeyOutsideItsWindowAtVerificationTime) {
  // Valid when the release was made, expired before the audit time.
  trust = craft::trust_root({craft::trust_key(hq, "2026-01-01T00:00:00Z", "2026-05-31T00:00:00Z")});
  expect_refused(good(), ErrorClass::not_authentic, "window");
}

TEST_F(Signatures, KeyValidNowButNotAtReleaseCreated) {
  // created 2026-05-06; the key's window opens 2026-05-10; the audit is on 2026-06-01.
  trust = craft::trust_root({craft::trust_key(hq, "2026-05-10T00:00:00Z", "2027-01-01T00:00:00Z")});
  expect_refused(good(), ErrorClass::not_authentic, "release.created");
}

TEST_F(Signatures, KeyWindowCoveringBothInstantsCounts) {
  trust = craft::trust_root({craft::trust_key(hq, "2026-05-06T10:00:00Z", "2026-06-01T00:00:00Z")});
  expect_accepted(good());  // both ends inclusive
}

TEST_F(Signatures, ThresholdCheckedBeforeTheManifestIsParsed) {
  // An unsigned-by-trusted-keys bundle whose manifest does not even parse: 11, not 10.
  craft::BundleSpec s;
  s.extra_toml = "this is not toml\n";
  const auto stranger = craft::make_key("stranger");
  expect_refused(craft::good_bundle(s, {&stranger}), ErrorClass::not_authentic, "unknown key");
}

TEST_F(Signatures, ThresholdZeroInACodeBuiltTrustRootIsAUsageError) {
  trust.threshold = 0;
  const auto stranger = craft::make_key("stranger");
  expect_refused(craft::good_bundle({}, {&stranger}), ErrorClass::usage, "threshold");
}

TEST_F(Signatures, VerificationTimeDefaultsToNow) {
  const Timestamp before = now_utc();
  Request req = request(true);
  req.policy.at.reset();  // no audit time: keys and policy are judged now
  test::spit(bundle_path, good().bytes());
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_GE(r->verified_at, before);
  EXPECT_LE(r->verified_at, now_utc());
}

}  // namespace
}  // namespace airlock::verifier::testing

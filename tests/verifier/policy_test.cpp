// Spec §7 step 5: policy refusals (13) — expiry, creation in the future beyond the clock skew,
// product, downgrade, min_installed, channel — and the cases that must still pass.
#include <gtest/gtest.h>

#include <limits>

#include "core/model/semver.hpp"
#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using PolicyRules = VerifierTest;

SemVer v(const char* s) { return *parse_semver(s); }

TEST_F(PolicyRules, Expired) {
  craft::BundleSpec s;
  s.expires = "2026-05-31T23:59:59Z";
  expect_refused(good(s), ErrorClass::policy, "expired");
}

TEST_F(PolicyRules, NotYetExpiredAccepted) {
  craft::BundleSpec s;
  s.expires = "2026-06-01T00:00:00Z";  // the very instant of verification is still fine
  expect_accepted(good(s));
}

TEST_F(PolicyRules, CreatedInTheFutureBeyondSkew) {
  craft::BundleSpec s;
  s.created = "2026-06-01T00:05:01Z";
  expect_refused(good(s), ErrorClass::policy, "future");
}

TEST_F(PolicyRules, CreatedWithinSkewAccepted) {
  craft::BundleSpec s;
  s.created = "2026-06-01T00:05:00Z";
  expect_accepted(good(s));
}

TEST_F(PolicyRules, LargerConfiguredSkewAcceptsAndIsReported) {
  craft::BundleSpec s;
  s.created = "2026-06-01T01:00:00Z";
  policy.clock_skew_seconds = 7200;
  auto r = run(good(s));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->clock_skew_seconds, 7200);
}

// A skew that would overflow the verification time plus it (a signed int64) is refused as the
// caller's mistake (2), not taken as "created in the future" for every bundle; the limit itself
// is accepted.
TEST_F(PolicyRules, ClockSkewBeyondTheLimitIsAUsageError) {
  for (std::int64_t skew : {std::numeric_limits<std::int64_t>::max(), kMaxClockSkewSeconds + 1, std::int64_t{-1}}) {
    policy.clock_skew_seconds = skew;
    expect_refused(good(), ErrorClass::usage, "clock skew");
  }
  policy.clock_skew_seconds = kMaxClockSkewSeconds;
  auto r = run(good());
  ASSERT_TRUE(r.has_value()) << r.error().what();
}

TEST_F(PolicyRules, OtherProduct) {
  policy.product = "dashboard";
  expect_refused(good(), ErrorClass::policy, "dashboard");
}

TEST_F(PolicyRules, Downgrade) {
  policy.installed = v("4.6.0");
  expect_refused(good(), ErrorClass::policy, "downgrade");
}

TEST_F(PolicyRules, PrereleaseOfInstalledVersionIsADowngrade) {
  craft::BundleSpec s;
  s.version = "4.5.3-rc.1";
  policy.installed = v("4.5.3");
  expect_refused(good(s), ErrorClass::policy, "downgrade");
}

TEST_F(PolicyRules, SameVersionAllowed) {
  policy.installed = v("4.5.3");
  expect_accepted(good());
}

TEST_F(PolicyRules, MinInstalledNotMet) {
  craft::BundleSpec s;
  s.min_installed = "4.4.0";
  policy.installed = v("4.3.9");
  expect_refused(good(s), ErrorClass::policy, "4.4.0");
}

TEST_F(PolicyRules, MinInstalledWithNothingInstalledAccepted) {
  craft::BundleSpec s;
  s.min_installed = "4.4.0";
  expect_accepted(good(s));
}

TEST_F(PolicyRules, BetaReleaseAtRecommendedSite) {
  craft::BundleSpec s;
  s.channel = "beta";
  policy.channel = Channel::recommended;
  expect_refused(good(s), ErrorClass::policy, "beta");
}

TEST_F(PolicyRules, RcReleaseAtRcSiteAndRecommendedAtBetaSiteAccepted) {
  craft::BundleSpec s;
  s.channel = "rc";
  policy.channel = Channel::rc;
  expect_accepted(good(s));
  fs::remove_all(staging);
  policy.channel = Channel::beta;
  expect_accepted(good());
}

TEST_F(PolicyRules, PolicyCheckedOnlyAfterAuthenticity) {
  // An expired bundle by an unknown key is first of all not authentic.
  craft::BundleSpec s;
  s.expires = "2020-01-01T00:00:00Z";
  const auto stranger = craft::make_key("stranger");
  expect_refused(craft::good_bundle(s, {&stranger}), ErrorClass::not_authentic);
}

}  // namespace
}  // namespace airlock::verifier::testing

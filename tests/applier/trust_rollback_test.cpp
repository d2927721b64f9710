// A trust root never moves backwards at a site (spec §6): an old genuine bundle whose
// [trust_update] carries an older root (one that does not revoke a compromised key) must not
// reinstall it, and a key the site has once seen revoked stays revoked whatever a later root says.
// Key A is demo-hq, key B demo-hq2; every bundle is real, built and signed by the bundler.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "core/model/trust.hpp"
#include "tests/applier/trust_fixture.hpp"
#include "verifier/verifier.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const char* kAlive = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";

const DemoKeys& keys() { return demo_keys(); }

// A root trusting A and B (threshold 1) at `serial`, A revoked or not.
std::string root(std::int64_t serial, bool a_revoked) {
  TrustRoot t;
  t.serial = serial;
  t.keys.push_back({"key-a", keys().a.public_key(), std::nullopt, std::nullopt, a_revoked});
  t.keys.push_back({"key-b", keys().b.public_key(), std::nullopt, std::nullopt, false});
  return render_trust_root(t);
}

std::string release(const TempDir& dir, const std::string& version, const std::optional<std::string>& update,
                    std::vector<minisign::SecretKey> signers) {
  return trust_release(dir, version, update, std::move(signers));
}

class TrustRollback : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
    // The site learnt that A was compromised: serial 2 revokes it.
    spit(s.dir / "trust.toml", root(2, true));
  }
  std::string trust() const { return slurp(s.dir / "trust.toml"); }
  void expect_refused_as_not_authentic(const std::string& bundle) {
    auto r = applier::apply(s.site, bundle, quiet_env());
    ASSERT_FALSE(r) << "a bundle signed only by the revoked key A was applied";
    EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
    EXPECT_NE(r.error().what().find("revoked"), std::string::npos) << r.error().what();
  }
  SiteDir s{kAlive};
  TempDir b;
};

TEST_F(TrustRollback, OldBundleCarryingAnOlderRootDoesNotUnrevokeTheKey) {
  // Genuine when it was made: signed by A and B, carrying serial 1, where A is not revoked.
  const std::string old = release(b, "1.2.0", root(1, false), {keys().a, keys().b});
  const std::string before = trust();
  auto r = applier::apply(s.site, old, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);  // B's signature counts; the stale root is no reason to refuse
  EXPECT_EQ(trust(), before) << "the stale root was installed";
  EXPECT_NE(audit_kinds(s.site).find("trust-update-ignored"), std::string::npos) << audit_kinds(s.site);
  // The attack's second step: a bundle signed by A alone.
  expect_refused_as_not_authentic(release(b, "1.3.0", std::nullopt, {keys().a}));
  EXPECT_EQ(applier::status(s.site)->installed, "1.2.0");
}

TEST_F(TrustRollback, SameSerialIsStaleToo) {
  auto r = applier::apply(s.site, release(b, "1.2.0", root(2, false), {keys().b}), quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(trust(), root(2, true));
  expect_refused_as_not_authentic(release(b, "1.3.0", std::nullopt, {keys().a}));
}

TEST_F(TrustRollback, NewerRootIsInstalledButCannotUnrevokeAKeyTheSiteSawRevoked) {
  // Serial 3 (signed by B) lists A without `revoked`: installed, yet A stays revoked here.
  const std::string next = root(3, false);
  auto r = applier::apply(s.site, release(b, "1.2.0", next, {keys().b}), quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  EXPECT_EQ(trust(), next);
  EXPECT_EQ(audit_kinds(s.site).find("trust-update-ignored"), std::string::npos);
  EXPECT_NE(slurp(s.state + "/revoked-keys").find(minisign::key_id_hex(keys().a.key_id)), std::string::npos);
  const std::string by_a = release(b, "1.3.0", std::nullopt, {keys().a});
  expect_refused_as_not_authentic(by_a);
  // A bare trust file has no history: the same root, taken as it is, accepts A.
  verifier::Request req;
  req.bundle_path = by_a;
  auto parsed = parse_trust_root(next, ErrorClass::usage);
  ASSERT_TRUE(parsed);
  req.trust = *parsed;
  auto v = verifier::verify(req);
  EXPECT_TRUE(v) << v.error().what();
}

TEST_F(TrustRollback, NewerRootThatNeedsTheRevokedKeyIsRefused) {
  // Serial 3 un-revokes A and needs two keys: at this site only B counts, so the bundle is refused.
  TrustRoot t = *parse_trust_root(root(3, false), ErrorClass::usage);
  t.threshold = 2;
  const std::string bundle = release(b, "1.2.0", render_trust_root(t), {keys().a, keys().b});
  auto r = applier::apply(s.site, bundle, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
  EXPECT_EQ(trust(), root(2, true));
}

TEST_F(TrustRollback, DamagedRevokedKeysFileStopsTheApply) {
  // Forgetting a revocation silently would reopen the attack: a file that does not parse stops.
  fs::create_directories(s.state);
  spit(s.state + "/revoked-keys", "not a key id\n");
  auto r = applier::apply(s.site, release(b, "1.2.0", std::nullopt, {keys().b}), quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find("revoked-keys"), std::string::npos) << r.error().what();
}

}  // namespace
}  // namespace airlock::test

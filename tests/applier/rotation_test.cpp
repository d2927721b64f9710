// A key rotation end to end at a real site (docs/rotation.md): root 1 trusts the old key A alone;
// root 2 adds the new key B with an overlapping window and needs both (threshold 2); root 3
// revokes A and needs one. Each root reaches the site as a release's [trust_update], in a real
// bundle built and signed by the bundler. Installing one archives the root it replaces and writes
// an audit entry naming both serials and the keys added, removed and revoked; nothing (a rollback
// included) ever puts an archived root back.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "applier/applier.hpp"
#include "applier/crash.hpp"
#include "core/model/trust.hpp"
#include "tests/applier/trust_fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

const char* kAlive = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";

Timestamp at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

TrustKey key(const char* name, const minisign::SecretKey& sk, std::optional<Timestamp> not_before = std::nullopt,
             std::optional<Timestamp> not_after = std::nullopt, bool revoked = false) {
  return {name, sk.public_key(), not_before, not_after, revoked};
}

std::string root(std::int64_t serial, int threshold, std::vector<TrustKey> keys) {
  TrustRoot t;
  t.serial = serial;
  t.threshold = threshold;
  t.keys = std::move(keys);
  return render_trust_root(t);
}

const minisign::SecretKey& a() { return demo_keys().a; }
const minisign::SecretKey& b() { return demo_keys().b; }
std::string id(const minisign::SecretKey& k) { return minisign::key_id_hex(k.key_id); }

// The overlapping windows: A (old) until mid-2027, B (new) from before the releases' `created`.
TrustKey old_a(bool revoked = false) { return key("hq-old", a(), std::nullopt, at("2027-06-30T00:00:00Z"), revoked); }
TrustKey new_b() { return key("hq-new", b(), at("2026-01-01T00:00:00Z")); }
std::string root1() { return root(1, 1, {old_a()}); }
std::string root2() { return root(2, 2, {old_a(), new_b()}); }
std::string root3() { return root(3, 1, {old_a(true), new_b()}); }

// Every file of the state folder's trust history, path -> bytes.
std::map<std::string, std::string> trust_files(const std::string& state) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(state + "/trust-archive", ec))
    if (e.is_regular_file()) files[e.path().string()] = slurp(e.path());
  if (fs::exists(state + "/revoked-keys")) files["revoked-keys"] = slurp(state + "/revoked-keys");
  return files;
}

// The data of the last `trust-root-installed` audit entry (null when there is none).
nlohmann::json last_installed(const std::string& site) {
  auto log = applier::audit_verify(site);
  EXPECT_TRUE(log) << (log ? "" : log.error().what());
  nlohmann::json found;
  if (log)
    for (const auto& e : log->entries)
      if (e.kind == "trust-root-installed") found = nlohmann::json::parse(e.data);
  return found;
}

// Every run at a fixed time inside both windows, so that the test does not age.
applier::Env env_at(const Timestamp& t) {
  applier::Env env = quiet_env();
  env.now = [t] { return t; };
  return env;
}
applier::Env env() { return env_at(at("2026-06-01T00:00:00Z")); }

class Rotation : public ::testing::Test {
 protected:
  void SetUp() override {
    spit(s.dir / "trust.toml", root1());
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, env()));  // signed by A
  }
  std::string trust() const { return slurp(s.dir / "trust.toml"); }
  // A refused run is recorded too (aborted); what must not appear is an installed root.
  std::size_t roots_installed() const {
    const auto log = applier::audit_verify(s.site);
    EXPECT_TRUE(log) << (log ? "" : log.error().what());
    std::size_t n = 0;
    if (log)
      for (const auto& e : log->entries) n += e.kind == "trust-root-installed";
    return n;
  }
  void expect_refused(const std::string& bundle, const std::string& why) {
    const std::string before = trust();
    const auto files = trust_files(s.state);
    const auto installed = roots_installed();
    auto r = applier::apply(s.site, bundle, env());
    ASSERT_FALSE(r) << "applied: " << bundle;
    EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
    EXPECT_NE(r.error().what().find(why), std::string::npos) << r.error().what();
    EXPECT_EQ(trust(), before);
    EXPECT_EQ(trust_files(s.state), files);
    EXPECT_EQ(roots_installed(), installed);
  }
  void expect_applied(const std::string& bundle) {
    auto r = applier::apply(s.site, bundle, env());
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->outcome, Outcome::applied);
  }
  SiteDir s{kAlive};
  TempDir b_dir;
};

TEST_F(Rotation, OldKeyAloneCannotInstallARootThatNeedsTheNewKey) {
  // Root 2 needs A and B: a bundle signed by A alone meets root 1 but not root 2.
  expect_refused(trust_release(b_dir, "1.2.0", root2(), {a()}), "against the new trust root: 1 of 2");
  EXPECT_FALSE(fs::exists(s.state + "/trust-archive"));
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
}

TEST_F(Rotation, RevokedKeyCannotPushItsOwnRoot) {
  // The site retired A (root 3 installed); whoever stole A ships a root trusting only their key X,
  // signed by A and X. A counts for nothing, X is not in the site's root: refused.
  expect_applied(trust_release(b_dir, "1.2.0", root2(), {a(), b()}));
  expect_applied(trust_release(b_dir, "1.3.0", root3(), {a(), b()}));
  const auto x = minisign::generate_key();
  const std::string evil = root(4, 1, {key("attacker", x)});
  expect_refused(trust_release(b_dir, "1.4.0", evil, {a(), x}), "revoked");
  EXPECT_EQ(trust(), root3());
}

TEST_F(Rotation, OverlapThenRetirementEndToEnd) {
  // Step 1, the overlap: root 2 signed by A and B meets root 1 (A) and root 2 (A and B).
  expect_applied(trust_release(b_dir, "1.2.0", root2(), {a(), b()}));
  EXPECT_EQ(trust(), root2());
  EXPECT_EQ(slurp(s.state + "/trust-archive/trust.1.toml"), root1());
  auto e = last_installed(s.site);
  EXPECT_EQ(e.value("old_serial", -1), 1);
  EXPECT_EQ(e.value("new_serial", -1), 2);
  EXPECT_EQ(e["added"], nlohmann::json::array({id(b())})) << e;
  EXPECT_EQ(e["removed"], nlohmann::json::array()) << e;
  EXPECT_EQ(e["revoked"], nlohmann::json::array()) << e;
  EXPECT_EQ(e.value("release", ""), "1.2.0");

  // A rollback returns to 1.1.0, whose bundle carried no root: the trust root stays root 2.
  const auto archived = trust_files(s.state);
  auto rb = applier::rollback(s.site, env());
  ASSERT_TRUE(rb) << rb.error().what();
  EXPECT_EQ(rb->outcome, Outcome::reverted);
  EXPECT_EQ(applier::status(s.site)->installed, "1.1.0");
  EXPECT_EQ(trust(), root2()) << "the rollback restored the old trust root";
  EXPECT_EQ(trust_files(s.state), archived);

  // Step 2, the retirement: root 3 revokes A, signed by A and B (root 2 needs both).
  expect_applied(trust_release(b_dir, "1.3.0", root3(), {a(), b()}));
  EXPECT_EQ(trust(), root3());
  EXPECT_EQ(slurp(s.state + "/trust-archive/trust.2.toml"), root2());
  EXPECT_EQ(slurp(s.state + "/trust-archive/trust.1.toml"), root1());
  e = last_installed(s.site);
  EXPECT_EQ(e.value("old_serial", -1), 2);
  EXPECT_EQ(e.value("new_serial", -1), 3);
  EXPECT_EQ(e["added"], nlohmann::json::array()) << e;
  EXPECT_EQ(e["revoked"], nlohmann::json::array({id(a())})) << e;

  // After it: the new key alone suffices, the retired key alone counts for nothing.
  expect_applied(trust_release(b_dir, "1.4.0", std::nullopt, {b()}));
  expect_refused(trust_release(b_dir, "1.5.0", std::nullopt, {a()}), "revoked");
  EXPECT_EQ(applier::status(s.site)->installed, "1.4.0");
}

TEST_F(Rotation, ArchiveIsNeverOverwritten) {
  // A file already named for serial 1 with other bytes (a root edited by hand without raising
  // its serial) is kept; the replaced root is archived beside it under its digest.
  fs::create_directories(s.state + "/trust-archive");
  spit(s.state + "/trust-archive/trust.1.toml", "kept\n");
  expect_applied(trust_release(b_dir, "1.2.0", root2(), {a(), b()}));
  EXPECT_EQ(slurp(s.state + "/trust-archive/trust.1.toml"), "kept\n");
  const std::string archive = last_installed(s.site).value("archive", "");
  EXPECT_NE(archive.find("/trust-archive/trust.1."), std::string::npos) << archive;
  EXPECT_EQ(slurp(archive), root1());
}

TEST_F(Rotation, CrashWhileInstallingTheRootIsFinishedOnceByRecover) {
  if (!applier::crash_points_built_in()) GTEST_SKIP() << "built without AIRLOCK_TEST_HOOKS";
  const std::string bundle = trust_release(b_dir, "1.2.0", root2(), {a(), b()});
  for (const char* point : {"trust_archived", "trust_audited"}) {
    SiteDir site{kAlive};
    spit(site.dir / "trust.toml", root1());
    ASSERT_TRUE(applier::apply(site.site, bundles().v110, env()));
    ASSERT_EQ(in_child(point, [&] { return bool(applier::apply(site.site, bundle, env())); }), 99) << point;
    EXPECT_EQ(slurp(site.dir / "trust.toml"), root1()) << point << ": replaced before the crash point";
    auto rec = applier::recover(site.site, env());
    ASSERT_TRUE(rec) << point << ": " << rec.error().what();
    EXPECT_EQ(applier::status(site.site)->installed, "1.2.0") << point;
    EXPECT_EQ(slurp(site.dir / "trust.toml"), root2()) << point;
    EXPECT_EQ(slurp(site.state + "/trust-archive/trust.1.toml"), root1()) << point;
    const std::string kinds = audit_kinds(site.site);
    EXPECT_EQ(kinds.find("trust-root-installed"), kinds.rfind("trust-root-installed")) << point << ": " << kinds;
    EXPECT_NE(kinds.find("trust-root-installed"), std::string::npos) << point << ": " << kinds;
  }
}

// status warns when fewer than `threshold` keys will be valid within 90 days.
class TrustExpiryStatus : public ::testing::Test {
 protected:
  std::optional<applier::TrustExpiry> expiry_at(const char* now) {
    auto st = applier::status(s.site, env_at(at(now)));
    EXPECT_TRUE(st) << (st ? "" : st.error().what());
    return st ? st->trust_expiry : std::nullopt;
  }
  SiteDir s{kAlive};
};

TEST_F(TrustExpiryStatus, LastValidKeyExpiringWithinNinetyDays) {
  spit(s.dir / "trust.toml", root1());  // A valid until 2027-06-30
  EXPECT_FALSE(expiry_at("2027-03-31T00:00:00Z")) << "91 days before";
  auto e = expiry_at("2027-04-02T00:00:00Z");  // 89 days before
  ASSERT_TRUE(e);
  EXPECT_EQ(e->threshold, 1);
  EXPECT_EQ(e->short_from, "2027-06-30T00:00:01Z");
  ASSERT_EQ(e->expiring.size(), 1u);
  EXPECT_EQ(e->expiring[0].id, id(a()));
  EXPECT_EQ(e->expiring[0].not_after, "2027-06-30T00:00:00Z");
}

TEST_F(TrustExpiryStatus, AnOverlappingKeyKeepsTheThreshold) {
  spit(s.dir / "trust.toml", root(2, 1, {old_a(), new_b()}));
  EXPECT_FALSE(expiry_at("2027-06-01T00:00:00Z"));
  // With threshold 2 the expiry of A leaves one key: a warning naming A.
  spit(s.dir / "trust.toml", root2());
  auto e = expiry_at("2027-06-01T00:00:00Z");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->expiring.size(), 1u);
  EXPECT_EQ(e->expiring[0].id, id(a()));
}

TEST_F(TrustExpiryStatus, AStickyRevokedKeyDoesNotCount) {
  spit(s.dir / "trust.toml", root(2, 1, {old_a(), new_b()}));
  fs::create_directories(s.state);
  spit(s.state + "/revoked-keys", id(b()) + "\n");
  auto e = expiry_at("2027-06-01T00:00:00Z");
  ASSERT_TRUE(e) << "the revoked key B was counted as valid";
  EXPECT_EQ(e->short_from, "2027-06-30T00:00:01Z");
  ASSERT_EQ(e->expiring.size(), 1u);
  EXPECT_EQ(e->expiring[0].id, id(a()));
  // Already short: a root whose only key is revoked warns from now.
  spit(s.dir / "trust.toml", root(3, 1, {old_a(true)}));
  e = expiry_at("2027-01-01T00:00:00Z");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->short_from, "2027-01-01T00:00:00Z");
  EXPECT_TRUE(e->expiring.empty());
}

}  // namespace
}  // namespace airlock::test

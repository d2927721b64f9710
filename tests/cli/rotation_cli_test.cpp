// A key rotation through the real binary, as docs/rotation.md runs it: `trust add` and `trust
// threshold` make the next root, `build` and `sign` ship it as a release's [trust_update], the
// site archives the root it replaces and keeps the new one across a rollback, and `status` warns
// when the root's last valid key is about to expire.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/sys/time.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

// The 16-hex id on the first line of a minisign public key file.
std::string key_id(const std::string& pub_file) {
  const std::string pub = slurp(pub_file);
  std::string id = pub.substr(0, pub.find('\n'));
  id = id.substr(id.rfind(' ') + 1);
  return std::string(16 - id.size(), '0') + id;
}

class RotationCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    // A check both releases pass: 1.2.0 stays installed and can be rolled back by hand.
    auto toml = slurp(dir / "site/site.toml");
    const std::string query = "SELECT count(*) FROM items";
    toml.replace(toml.find(query), query.size(), "SELECT 3");
    spit(dir / "site/site.toml", toml);
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  std::string build(const std::string& recipe, const std::string& out) {
    auto r = run("SOURCE_DATE_EPOCH=1767225600 " + kBin + " build " + q(recipe) + " --key " +
                 q(kSrc + "/keys/demo-hq.key") + " --out " + q(dir / out));
    EXPECT_EQ(r.status, 0) << r.output;
    return (dir / out).string();
  }
  // The trust root with demo-hq alone, its window ending `days` from now.
  void trust_expiring_in(int days) {
    airlock::Timestamp t = airlock::now_utc();
    t.unix_seconds += std::int64_t{days} * 86400;
    t.nanos = 0;
    auto r = run(kBin + " trust init " + q(dir / "site/trust.toml") + " --force --key " +
                 q(kSrc + "/keys/demo-hq.pub") + " --name hq-old --not-after " + airlock::format_rfc3339(t));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  TempDir dir;
};

TEST_F(RotationCli, RootShippedByBothKeysIsArchivedAuditedAndSurvivesARollback) {
  ASSERT_EQ(
      run(kBin + " apply " + q(build(kSrc + "/manifests/example/recipe.toml", "b110.tar.zst")) + " --site " + site())
          .status,
      0);
  const std::string old_root = slurp(dir / "site/trust.toml");
  // HQ: the next root adds demo-hq2 and needs both keys.
  fs::copy(kSrc + "/manifests/example-1.2.0", dir / "r120", fs::copy_options::recursive);
  const std::string next = (dir / "r120/next-trust.toml").string();
  fs::copy_file(dir / "site/trust.toml", next);
  auto r = run(kBin + " trust add " + q(next) + " --key " + q(kSrc + "/keys/demo-hq2.pub") +
               " --name hq-new --not-before 2025-01-01T00:00:00Z");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(run(kBin + " trust threshold " + q(next) + " 2").status, 0);
  spit(dir / "r120/recipe.toml", slurp(dir / "r120/recipe.toml") + "\n[trust_update]\npath = \"next-trust.toml\"\n");
  const std::string bundle = build((dir / "r120/recipe.toml").string(), "b120.tar.zst");

  // Signed by the old key alone: the new root's threshold is not met.
  r = run(kBin + " apply " + q(bundle) + " --site " + site());
  EXPECT_EQ(r.status, 11) << r.output;
  EXPECT_EQ(slurp(dir / "site/trust.toml"), old_root);
  EXPECT_FALSE(fs::exists(dir / "site/state/trust-archive"));

  ASSERT_EQ(run(kBin + " sign " + q(bundle) + " --key " + q(kSrc + "/keys/demo-hq2.key")).status, 0);
  r = run(kBin + " apply " + q(bundle) + " --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(dir / "site/trust.toml"), slurp(next));
  EXPECT_EQ(slurp(dir / "site/state/trust-archive/trust.0.toml"), old_root);
  r = run(kBin + " audit export --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json installed;
  const auto log = json_of(r.output);
  for (const auto& e : log["entries"])
    if (e["kind"] == "trust-root-installed") installed = e["data"];
  EXPECT_EQ(installed["old_serial"], 0) << r.output;
  EXPECT_EQ(installed["new_serial"], 2) << r.output;
  EXPECT_EQ(installed["added"], nlohmann::json::array({key_id(kSrc + "/keys/demo-hq2.pub")})) << r.output;

  r = run(kBin + " rollback --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(dir / "site/trust.toml"), slurp(next)) << "the rollback restored the old trust root";
  EXPECT_EQ(slurp(dir / "site/state/trust-archive/trust.0.toml"), old_root);
}

TEST_F(RotationCli, StatusWarnsOfTheLastKeyExpiring) {
  trust_expiring_in(30);
  auto r = run(kBin + " status --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = json_of(r.output);
  ASSERT_TRUE(j["trust_expiry"].is_object()) << r.output;
  EXPECT_EQ(j["trust_expiry"]["threshold"], 1);
  ASSERT_EQ(j["trust_expiry"]["expiring"].size(), 1u) << r.output;
  EXPECT_EQ(j["trust_expiry"]["expiring"][0]["key_id"], key_id(kSrc + "/keys/demo-hq.pub"));
  EXPECT_EQ(j["trust_expiry"]["expiring"][0]["name"], "hq-old");
  r = run(kBin + " status --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("WARNING     trust root"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(key_id(kSrc + "/keys/demo-hq.pub")), std::string::npos) << r.output;

  trust_expiring_in(120);
  r = run(kBin + " status --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(json_of(r.output)["trust_expiry"].is_null()) << r.output;
  EXPECT_EQ(run(kBin + " status --site " + site()).output.find("WARNING"), std::string::npos);
}

}  // namespace

// The site commands through the real binary, on a copy of the demo site (manifests/demo-site):
// exit codes of spec §8, --json shapes scripts rely on, and audit tampering seen by the binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::run;
using airlock::test::q;
using airlock::test::json_of;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

class SiteCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    for (const auto& [recipe, out] : {std::pair{"example", "b110.tar.zst"}, std::pair{"example-1.2.0", "b120.tar.zst"}}) {
      auto r = airlock::test::build_example(recipe, dir / out);
      ASSERT_EQ(r.status, 0) << r.output;
    }
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  TempDir dir;
};

}  // namespace

TEST_F(SiteCli, ApplyHealthyThenAutomaticRollbackWithHistoryJson) {
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 30) << r.output;
  r = run(kBin + " status --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = json_of(r.output);
  EXPECT_EQ(st["installed"], "1.1.0");
  EXPECT_EQ(st["degraded"], false);
  r = run(kBin + " history --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto h = json_of(r.output)["history"];
  ASSERT_EQ(h.size(), 2u) << r.output;
  EXPECT_EQ(h[1]["to"], "1.2.0");
  EXPECT_FALSE(h[1]["signal_to_rollback_ms"].is_null());
  r = run(kBin + " history --site " + site());
  EXPECT_NE(r.output.find("rolled_back"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("reverted to v1.1.0"), std::string::npos) << r.output;
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
}

TEST_F(SiteCli, AuditVerifyExitsThirtyFourWhenAnEntryIsEdited) {
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  auto r = run("sqlite3 " + q(dir / "site/state/state.db") + " \"UPDATE audit SET data = replace(data, '1.1.0', '9.9.9')\"");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " audit verify --site " + site());
  EXPECT_EQ(r.status, 34) << r.output;
}

TEST_F(SiteCli, MissingSiteFileIsAConfigurationError) {
  EXPECT_EQ(run(kBin + " status --site " + q(dir / "nope.toml")).status, 2);
  EXPECT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(dir / "nope.toml")).status, 2);
}

TEST_F(SiteCli, TamperedBundleIsRefusedAndNothingChanges) {
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  auto before = run("sqlite3 " + q(dir / "site/data/main.db") + " .dump").output;
  auto r = run("cp " + q(dir / "b120.tar.zst") + " " + q(dir / "bad.tar.zst") + " && printf 'X' | dd of=" +
               q(dir / "bad.tar.zst") + " bs=1 seek=$(( $(stat -c %s " + q(dir / "b120.tar.zst") +
               ") - 30 )) conv=notrunc status=none");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " apply " + q(dir / "bad.tar.zst") + " --site " + site());
  EXPECT_TRUE(r.status == 10 || r.status == 12) << r.status << " " << r.output;
  EXPECT_EQ(run("sqlite3 " + q(dir / "site/data/main.db") + " .dump").output, before);
  auto st = json_of(run(kBin + " status --site " + site() + " --json").output);
  EXPECT_EQ(st["installed"], "1.1.0");
}

TEST_F(SiteCli, AuditVerifyNamesTheHeadRecordWhenTheNewestEntryIsDeleted) {
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  ASSERT_EQ(run(kBin + " snapshot create --site " + site()).status, 0);
  auto r = run("sqlite3 " + q(dir / "site/state/state.db") + " \"DELETE FROM audit WHERE seq = 2\"");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " audit verify --site " + site());
  EXPECT_EQ(r.status, 34) << r.output;
  EXPECT_NE(r.output.find("head record"), std::string::npos) << r.output;
}

TEST_F(SiteCli, SignedAuditExportChecksWithStockMinisign) {
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  auto r = run(kBin + " keygen --no-password --out " + q(dir / "site-key"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = dir / "audit.tsv";
  r = run(kBin + " audit export --site " + site() + " --out " + q(out) + " --sign " + q(dir / "site-key.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(airlock::test::slurp(out).find("1 entries, head "), std::string::npos);
  r = run("minisign -V -p " + q(dir / "site-key.pub") + " -m " + q(out));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("airlock audit export entries 1 head "), std::string::npos) << r.output;
  // One changed byte and stock minisign refuses it.
  auto text = airlock::test::slurp(out);
  text[0] = text[0] == '1' ? '2' : '1';
  airlock::test::spit(out, text);
  EXPECT_NE(run("minisign -V -p " + q(dir / "site-key.pub") + " -m " + q(out)).status, 0);
  // --sign without --out has nowhere to put the signature.
  EXPECT_EQ(run(kBin + " audit export --site " + site() + " --sign " + q(dir / "site-key.key")).status, 2);
}

TEST_F(SiteCli, StickyRevocationHoldsAtTheSiteButVerifyTakesABareTrustFileAsItIs) {
  // The site once saw demo-hq revoked; its trust.toml lists it unrevoked now.
  fs::create_directories(dir / "site/state");
  auto pub = airlock::test::slurp(kSrc + "/keys/demo-hq.pub");
  auto id = pub.substr(0, pub.find('\n'));
  id = id.substr(id.rfind(' ') + 1);
  airlock::test::spit(dir / "site/state/revoked-keys", std::string(16 - id.size(), '0') + id + "\n");
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site());
  EXPECT_EQ(r.status, 11) << r.output;
  EXPECT_NE(r.output.find("revoked"), std::string::npos) << r.output;
  r = run(kBin + " verify " + q(dir / "b110.tar.zst") + " --trust " + q(dir / "site/trust.toml"));
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(SiteCli, ManualRollbackHeadlineAndStatusOfALiveRun) {
  // A check both releases pass, so 1.2.0 stays installed and can be rolled back by hand.
  auto toml = airlock::test::slurp(dir / "site/site.toml");
  auto at = toml.find("SELECT count(*) FROM items");
  ASSERT_NE(at, std::string::npos);
  toml.replace(at, std::string("SELECT count(*) FROM items").size(),
               "SELECT 3");
  airlock::test::spit(dir / "site/site.toml", toml);
  ASSERT_EQ(run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site()).status, 0);
  auto r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " rollback --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rolled back to v1.1.0 (from v1.2.0)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("applied"), std::string::npos) << r.output;

  // An interrupted apply is pending; while another process holds the lock it is a live run.
  if (!AIRLOCK_BIN_HAS_CRASH_POINTS) GTEST_SKIP() << "airlock built without AIRLOCK_TEST_HOOKS";
  r = run("AIRLOCK_CRASH_POINT=after_migrations " + kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site());
  ASSERT_NE(r.status, 0) << r.output;
  r = run(kBin + " status --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("interrupted run"), std::string::npos) << r.output;
  r = run("flock " + q(dir / "site/state/lock") + " " + kBin + " status --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("a run is under way"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("recover"), std::string::npos) << r.output;
  EXPECT_EQ(run(kBin + " recover --site " + site()).status, 0);
}

// A release build carries no crash points: AIRLOCK_CRASH_POINT in its environment changes nothing,
// and the name is not even in the binary. The test build's twin of the same objects stops there.
TEST_F(SiteCli, ReleaseBinaryHasNoCrashPoints) {
  const std::string release = AIRLOCK_RELEASE_BIN;
  EXPECT_EQ(airlock::test::slurp(release).find("AIRLOCK_CRASH_POINT"), std::string::npos);
  auto r = run("AIRLOCK_CRASH_POINT=after_preflight " + release + " apply " + q(dir / "b110.tar.zst") + " --site " +
               site());
  EXPECT_EQ(r.status, 0) << r.output;
  r = run(release + " status --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["installed"], "1.1.0");
  if (!AIRLOCK_BIN_HAS_CRASH_POINTS) return;
  r = run("AIRLOCK_CRASH_POINT=after_preflight " + kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site());
  EXPECT_EQ(r.status, 99) << r.output;
}

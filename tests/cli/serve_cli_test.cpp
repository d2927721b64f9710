// The commands around the Updates page, through the real binary: `ui passwd` (the hash file, its
// mode, a short password refused), `channel set|show` (the state file that status and scan then
// see, a damaged file refused), `serve`'s refusals before it listens (no password, a non-loopback
// address without TLS), and the shipped airlock-serve.service checked by systemd-analyze. The page
// itself is tested over HTTP and in Chromium by tests/ui/*.py.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

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

class ServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(kSrc + "/manifests/demo-site", dir / "site", fs::copy_options::recursive);
    fs::create_directories(dir / "site/data");
    fs::copy_file(kSrc + "/keys/trust.toml", dir / "site/trust.toml");
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  TempDir dir;
};

TEST_F(ServeCli, UiPasswdWritesAnArgon2idHashWithMode0600) {
  auto r = run("printf 'a good password\\n' | " + kBin + " ui passwd --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path file = dir / "site/state/ui-password";
  const std::string hash = slurp(file);
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("a good password"), std::string::npos);
  struct stat sb {};
  ASSERT_EQ(::stat(file.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  r = run("printf 'short\\n' | " + kBin + " ui passwd --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(slurp(file), hash) << "a refused password leaves the old hash";
}

TEST_F(ServeCli, ChannelSetPersistsAndStatusAndScanSeeIt) {
  auto r = run(kBin + " channel show --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["channel"], "recommended");
  EXPECT_EQ(json_of(r.output)["chosen"], false);
  r = run(kBin + " channel set beta --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["from"], "recommended");
  EXPECT_EQ(slurp(dir / "site/state/channel"), "airlock-channel/1\nbeta\n");
  fs::create_directories(dir / "stick");
  r = run(kBin + " scan " + q(dir / "stick") + " --json --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["channel"], "beta");
  r = run(kBin + " audit export --json --site " + site());
  EXPECT_NE(r.output.find("\"channel\""), std::string::npos) << r.output;
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
  EXPECT_EQ(run(kBin + " channel set stable --site " + site()).status, 2);
}

TEST_F(ServeCli, DamagedChannelFileIsRefusedNotGuessed) {
  fs::create_directories(dir / "site/state");
  spit(dir / "site/state/channel", "beta\n");
  auto r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("airlock-channel/1"), std::string::npos) << r.output;
  spit(dir / "site/state/channel", "airlock-channel/1\nnightly\n");
  EXPECT_EQ(run(kBin + " status --site " + site()).status, 2);
}

TEST_F(ServeCli, ServeRefusesWithoutPasswordAndOffLoopbackWithoutTls) {
  auto r = run(kBin + " serve --listen 127.0.0.1:0 --site " + site() + " </dev/null");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("ui passwd"), std::string::npos) << r.output;
  ASSERT_EQ(run("printf 'a good password\\n' | " + kBin + " ui passwd --site " + site()).status, 0);
  r = run(kBin + " serve --listen 0.0.0.0:0 --site " + site() + " </dev/null");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("tls_cert"), std::string::npos) << r.output;
  std::string text = slurp(dir / "site/site.toml");
  spit(dir / "site/site.toml", text + "\n[ui]\nlisten = \"0.0.0.0:8480\"\n");
  r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("ui.listen"), std::string::npos) << r.output;
  spit(dir / "site/site.toml", text + "\n[ui]\nupload_limit = 10\n");
  EXPECT_EQ(run(kBin + " status --site " + site()).status, 2);
  spit(dir / "site/site.toml", text + "\n[ui]\ninbox_limit = 10\n");
  r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("inbox_limit"), std::string::npos) << r.output;
  spit(dir / "site/site.toml", text + "\n[ui]\nport = 1\n");
  EXPECT_EQ(run(kBin + " status --site " + site()).status, 2);
}

TEST(SystemdUnits, ServeServicePassesSystemdAnalyzeVerify) {
  if (run("command -v systemd-analyze >/dev/null").status != 0) GTEST_SKIP() << "systemd-analyze is not installed";
  TempDir dir;
  std::string text = slurp(kSrc + "/contrib/systemd/airlock-serve.service");
  const std::string bin = "/usr/bin/airlock";
  if (auto p = text.find(bin); p != std::string::npos) text.replace(p, bin.size(), kBin);
  spit(dir / "airlock-serve.service", text);
  auto r = run("cd " + q(dir.path()) +
               " && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./airlock-serve.service 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "") << "warnings are failures too";
}

}  // namespace

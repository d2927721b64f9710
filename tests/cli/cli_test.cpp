// End-to-end tests of the `airlock` binary with the real stock tools: tar, zstd, minisign,
// sha256sum. Each test works in its own temporary folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/crypto/minisign.hpp"
#include "core/crypto/minisign_internal.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::run;
using airlock::test::q;
using airlock::test::json_of;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kRecipe = std::string(AIRLOCK_SOURCE_DIR) + "/manifests/example/recipe.toml";

struct Fixture {
  TempDir dir;
  fs::path key() const { return dir / "hq.key"; }
  fs::path pub() const { return dir / "hq.pub"; }
  fs::path trust() const { return dir / "trust.toml"; }
  fs::path bundle() const { return dir / "demo.tar.zst"; }

  void keygen(const std::string& prefix) {
    auto r = run(kBin + " keygen --no-password --out " + q(dir / prefix));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void setup() {
    keygen("hq");
    auto r = run(kBin + " trust init " + q(trust()) + " --key " + q(pub()) + " --name hq");
    ASSERT_EQ(r.status, 0) << r.output;
    r = run("SOURCE_DATE_EPOCH=1767225600 " + kBin + " build " + q(kRecipe) + " --key " + q(key()) + " --out " + q(bundle()));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string key_id(const fs::path& pubfile) {
    // minisign's comment line: "untrusted comment: minisign public key <ID>", the id without
    // zero padding; entry names use 16 digits.
    auto text = slurp(pubfile);
    auto line = text.substr(0, text.find('\n'));
    auto id = line.substr(line.rfind(' ') + 1);
    return std::string(16 - id.size(), '0') + id;
  }
};

}  // namespace

TEST(Cli, KeygenWritesSecretKeyOwnerOnlyAndStockMinisignUsesIt) {
  Fixture f;
  f.keygen("k");
  struct stat st {};
  ASSERT_EQ(::stat((f.dir / "k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  spit(f.dir / "msg", "hello");
  auto r = run("minisign -S -s " + q(f.dir / "k.key") + " -m " + q(f.dir / "msg") + " </dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("minisign -V -H -p " + q(f.dir / "k.pub") + " -m " + q(f.dir / "msg"));
  EXPECT_EQ(r.status, 0) << r.output;
  // Refuses to overwrite.
  r = run(kBin + " keygen --no-password --out " + q(f.dir / "k"));
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(Cli, BuildVerifyExtractRoundTripWithJsonReport) {
  Fixture f;
  f.setup();
  auto r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --json --extract " + q(f.dir / "x"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["product"], "demo");
  EXPECT_EQ(j["valid_signatures"], 1);
  EXPECT_EQ(j["signatures"][0]["key_id"], f.key_id(f.pub()));
  EXPECT_GT(j["files_checked"].get<int>(), 5);
  EXPECT_TRUE(j["bundle_sha256"].is_null()) << "the whole-file digest is opt-in (--bundle-sha256)";
  // Stock tar extracts the same bytes.
  fs::create_directories(f.dir / "t");
  r = run("tar --zstd -xf " + q(f.bundle()) + " -C " + q(f.dir / "t"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("diff -r " + q(f.dir / "x") + " " + q(f.dir / "t") + " | grep -v '^Only in .*/t: \\(manifest.toml\\|signatures\\)$'");
  EXPECT_EQ(r.output, "") << r.output;
}

TEST(Cli, AuditorChecksBundleWithStockTarZstdMinisignSha256sum) {
  Fixture f;
  f.setup();
  auto r = run("zstd -q -t " + q(f.bundle()));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("tar --zstd -tf " + q(f.bundle()));
  ASSERT_EQ(r.status, 0) << r.output;
  std::string id = f.key_id(f.pub());
  EXPECT_EQ(r.output.rfind("manifest.toml\nsignatures/" + id + ".minisig\n", 0), 0u) << r.output;
  fs::create_directories(f.dir / "a");
  ASSERT_EQ(run("tar --zstd -xf " + q(f.bundle()) + " -C " + q(f.dir / "a")).status, 0);
  r = run("cd " + q(f.dir / "a") + " && minisign -V -H -p " + q(f.pub()) + " -m manifest.toml -x signatures/" + id + ".minisig");
  EXPECT_EQ(r.status, 0) << r.output;
  // The README's recipe: turn [[files]] into sha256sum lines.
  r = run("cd " + q(f.dir / "a") +
          " && awk -F' = ' '/^path = /{gsub(/\"/,\"\",$2);p=$2} /^sha256 = /{gsub(/\"/,\"\",$2);print $2\"  \"p}' manifest.toml"
          " | sha256sum -c --strict");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("OK"), std::string::npos);
}

TEST(Cli, BundleSha256MatchesStockSha256sum) {
  Fixture f;
  f.setup();
  auto r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --bundle-sha256 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = json_of(r.output);
  auto s = run("sha256sum " + q(f.bundle()) + " | cut -c1-64");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(j["bundle_sha256"].get<std::string>() + "\n", s.output);
  r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --bundle-sha256");
  EXPECT_NE(r.output.find("sha256 " + s.output.substr(0, 64) + ", "), std::string::npos) << r.output;
}

// Ctrl-C during `verify --extract` leaves no half-extracted folder, and the process still ends as
// SIGINT ends it. The bundle comes through a FIFO, held back half way, so the signal surely lands
// while verify is running.
TEST(Cli, InterruptedExtractLeavesNoFolderAndDiesOfTheSignal) {
  Fixture f;
  f.setup();
  const std::string bytes = slurp(f.bundle());
  const fs::path pipe = f.dir / "stick.tar.zst", dest = f.dir / "x";
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(kBin.c_str(), kBin.c_str(), "verify", pipe.c_str(), "--trust", f.trust().c_str(), "--extract",
            dest.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const int w = ::open(pipe.c_str(), O_WRONLY);  // waits for verify to open its end
  ASSERT_GE(w, 0);
  const std::size_t half = bytes.size() / 2;
  ASSERT_EQ(::write(w, bytes.data(), half), static_cast<ssize_t>(half));
  for (int i = 0; i < 500 && !fs::exists(dest); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(dest)) << "verify never created its staging folder";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(::write(w, bytes.data() + half, bytes.size() - half), static_cast<ssize_t>(bytes.size() - half));
  ::close(w);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT) << "status " << st;
  EXPECT_FALSE(fs::exists(dest)) << "a half-extracted folder was left behind";
}

TEST(Cli, BuildIsReproducible) {
  Fixture f;
  f.setup();
  auto r = run("SOURCE_DATE_EPOCH=1767225600 " + kBin + " build " + q(kRecipe) + " --key " + q(f.key()) + " --out " +
               q(f.dir / "again.tar.zst"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(f.bundle()), slurp(f.dir / "again.tar.zst"));
}

TEST(Cli, KeyFromStockMinisignUnencryptedSignsAcceptedBundle) {
  Fixture f;
  auto r = run("minisign -G -W -p " + q(f.dir / "m.pub") + " -s " + q(f.dir / "m.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(run(kBin + " trust init " + q(f.trust()) + " --key " + q(f.dir / "m.pub")).status, 0);
  r = run(kBin + " build " + q(kRecipe) + " --key " + q(f.dir / "m.key") + " --out " + q(f.bundle()));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()));
  EXPECT_EQ(r.status, 0) << r.output;
}

// Decrypting a minisign-encrypted key costs ~1 GiB and seconds (scrypt): one test only.
TEST(Cli, EncryptedKeyFromStockMinisignWithPasswordFile) {
  Fixture f;
  auto r = run("printf 'pw-123\\npw-123\\n' | minisign -G -p " + q(f.dir / "e.pub") + " -s " + q(f.dir / "e.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  spit(f.dir / "pw", "pw-123\n");
  ASSERT_EQ(run(kBin + " trust init " + q(f.trust()) + " --key " + q(f.dir / "e.pub")).status, 0);
  r = run("AIRLOCK_PASSWORD_FILE=" + q(f.dir / "pw") + " " + kBin + " build " + q(kRecipe) + " --key " +
          q(f.dir / "e.key") + " --out " + q(f.bundle()) + " </dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust())).status, 0);
}

TEST(Cli, SignTwiceMeetsThresholdTwo) {
  Fixture f;
  f.setup();
  f.keygen("second");
  ASSERT_EQ(run(kBin + " trust add " + q(f.trust()) + " --key " + q(f.dir / "second.pub") + " --name second").status, 0);
  ASSERT_EQ(run(kBin + " trust threshold " + q(f.trust()) + " 2").status, 0);
  auto r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()));
  EXPECT_EQ(r.status, 11) << r.output;
  r = run(kBin + " sign " + q(f.bundle()) + " --key " + q(f.dir / "second.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["valid_signatures"], 2);
  // Revoking one key drops below the threshold again.
  ASSERT_EQ(run(kBin + " trust revoke " + q(f.trust()) + " --name second").status, 0);
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust())).status, 11);
}

TEST(Cli, EveryTrustEditRaisesTheSerial) {
  Fixture f;
  f.setup();
  auto serial = [&] {
    auto r = run(kBin + " trust show " + q(f.trust()) + " --json");
    EXPECT_EQ(r.status, 0) << r.output;
    return json_of(r.output)["serial"];
  };
  EXPECT_EQ(serial(), 0);
  f.keygen("second");
  ASSERT_EQ(run(kBin + " trust add " + q(f.trust()) + " --key " + q(f.dir / "second.pub") + " --name second").status,
            0);
  EXPECT_EQ(serial(), 1);
  ASSERT_EQ(run(kBin + " trust threshold " + q(f.trust()) + " 2").status, 0);
  EXPECT_EQ(serial(), 2);
  ASSERT_EQ(run(kBin + " trust threshold " + q(f.trust()) + " 3").status, 2);  // more than the 2 keys
  EXPECT_EQ(serial(), 2);                                                      // a refused edit changes nothing
  ASSERT_EQ(run(kBin + " trust revoke " + q(f.trust()) + " --name second").status, 0);
  EXPECT_EQ(serial(), 3);
  auto r = run(kBin + " trust show " + q(f.trust()));
  EXPECT_NE(r.output.find("serial 3, threshold 2"), std::string::npos) << r.output;
}

TEST(Cli, SignatureMadeByStockMinisignIsAttachedAndCounts) {
  Fixture f;
  f.setup();
  ASSERT_EQ(run("minisign -G -W -p " + q(f.dir / "lap.pub") + " -s " + q(f.dir / "lap.key")).status, 0);
  fs::create_directories(f.dir / "m");
  ASSERT_EQ(run("tar --zstd -xf " + q(f.bundle()) + " -C " + q(f.dir / "m") + " manifest.toml").status, 0);
  auto r = run("minisign -S -s " + q(f.dir / "lap.key") + " -m " + q(f.dir / "m/manifest.toml") + " </dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " sign " + q(f.bundle()) + " --signature " + q(f.dir / "m/manifest.toml.minisig") + " --out " +
          q(f.dir / "signed.tar.zst"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(run(kBin + " trust add " + q(f.trust()) + " --key " + q(f.dir / "lap.pub") + " --name laptop").status, 0);
  ASSERT_EQ(run(kBin + " trust threshold " + q(f.trust()) + " 2").status, 0);
  r = run(kBin + " verify " + q(f.dir / "signed.tar.zst") + " --trust " + q(f.trust()));
  EXPECT_EQ(r.status, 0) << r.output;
  // The original (not --out) is unchanged and still has one signature.
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust())).status, 11);
}

TEST(Cli, InspectSaysNotVerifiedAndShowsNotesInLanguage) {
  Fixture f;
  f.setup();
  auto r = run(kBin + " inspect " + q(f.bundle()) + " --lang pt-BR --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["notes"]["lang"], "pt-BR");
  r = run(kBin + " inspect " + q(f.bundle()) + " --lang fr");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("NOT VERIFIED"), std::string::npos);
  EXPECT_NE(r.output.find("release notes (en)"), std::string::npos) << r.output;
}

TEST(Cli, ExitCodesForBadInput) {
  Fixture f;
  f.setup();
  EXPECT_EQ(run(kBin + " frobnicate").status, 2);
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle())).status, 2);  // no --trust
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.dir / "nope.toml")).status, 2);
  EXPECT_EQ(run(kBin + " verify " + q(f.dir / "missing.tar.zst") + " --trust " + q(f.trust())).status, 3);
  // Another key's trust root: not authentic.
  f.keygen("other");
  ASSERT_EQ(run(kBin + " trust init " + q(f.dir / "other.toml") + " --key " + q(f.dir / "other.pub")).status, 0);
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.dir / "other.toml")).status, 11);
  // Policy: other product, downgrade, audit time after expiry is covered by the verifier tests.
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --product other").status, 13);
  EXPECT_EQ(run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --installed 9.0.0").status, 13);
  // A flipped byte near the end of the payload: malformed or integrity, never success.
  auto bytes = slurp(f.bundle());
  bytes[bytes.size() - 40] ^= 0x01;
  spit(f.dir / "bad.tar.zst", bytes);
  auto r = run(kBin + " verify " + q(f.dir / "bad.tar.zst") + " --trust " + q(f.trust()) + " --extract " + q(f.dir / "s"));
  EXPECT_TRUE(r.status == 10 || r.status == 12) << r.status << r.output;
  EXPECT_FALSE(fs::exists(f.dir / "s"));
  // A non-empty staging folder is a usage error and is left as it was.
  fs::create_directories(f.dir / "busy");
  spit(f.dir / "busy/keep", "x");
  r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --extract " + q(f.dir / "busy"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(slurp(f.dir / "busy/keep"), "x");
  EXPECT_EQ(std::distance(fs::directory_iterator(f.dir / "busy"), fs::directory_iterator{}), 1);
}

TEST(Cli, JsonErrorCarriesClassAndExitCode) {
  Fixture f;
  f.setup();
  auto r = run(kBin + " verify " + q(f.bundle()) + " --trust " + q(f.trust()) + " --product other --json");
  EXPECT_EQ(r.status, 13);
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"]["class"], "policy");
  EXPECT_EQ(j["error"]["exit_code"], 13);
}

TEST(Cli, KeyWindowFromTrustAddIsEnforcedAtTheAuditTime) {
  Fixture f;
  f.setup();  // created 2026-01-01
  f.keygen("win");
  ASSERT_EQ(run(kBin + " trust init " + q(f.dir / "w.toml") + " --key " + q(f.dir / "win.pub") +
                " --not-before 2025-01-01T00:00:00Z --not-after 2026-06-01T00:00:00Z").status, 0);
  auto r = run("SOURCE_DATE_EPOCH=1767225600 " + kBin + " build " + q(kRecipe) + " --key " + q(f.dir / "win.key") +
               " --out " + q(f.dir / "w.tar.zst"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " verify " + q(f.dir / "w.tar.zst") + " --trust " + q(f.dir / "w.toml") + " --at 2026-05-01T00:00:00Z");
  EXPECT_EQ(r.status, 0) << r.output;
  r = run(kBin + " verify " + q(f.dir / "w.tar.zst") + " --trust " + q(f.dir / "w.toml") + " --at 2026-07-01T00:00:00Z");
  EXPECT_EQ(r.status, 11) << r.output;
  EXPECT_EQ(run(kBin + " verify " + q(f.dir / "w.tar.zst") + " --trust " + q(f.dir / "w.toml") + " --at yesterday").status, 2);
  // A malformed window is refused before anything is written.
  auto before = slurp(f.dir / "w.toml");
  EXPECT_EQ(run(kBin + " trust add " + q(f.dir / "w.toml") + " --key " + q(f.pub()) + " --name x --not-after nope").status, 2);
  EXPECT_EQ(slurp(f.dir / "w.toml"), before);
}

// The recipe is checked in full before any secret key is decrypted: with a password-protected key,
// a recipe whose migration every site refuses fails with the recipe's error (20), and the password
// (here: a password file that does not exist) is never read. The key is encrypted with the cheap
// test KDF, so no scrypt of 1 GiB runs.
TEST(Cli, BadRecipeIsRefusedBeforeThePasswordIsRead) {
  TempDir t;
  auto key = airlock::minisign::format_secret_key_file_with_kdf(airlock::minisign::generate_key(), "pw",
                                                                airlock::minisign::kTestKdf);
  ASSERT_TRUE(key);
  spit(t / "enc.key", *key);
  fs::create_directories(t / "r/m");
  spit(t / "r/en.md", "# notes\n");
  spit(t / "r/m/1.up.sql", "PRAGMA foreign_keys = ON;");
  spit(t / "r/m/1.down.sql", "SELECT 1;");
  spit(t / "r/recipe.toml",
       "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T00:00:00Z\n"
       "[[notes]]\nlang = \"en\"\npath = \"en.md\"\n"
       "[[migrations]]\nid = \"0001_fk\"\ndatabase = \"main\"\nup = \"m/1.up.sql\"\ndown = \"m/1.down.sql\"\n");
  std::string build = kBin + " build " + q(t / "r/recipe.toml") + " --key " + q(t / "enc.key") + " --out " +
                      q(t / "out.tar.zst") + " </dev/null";
  auto r = run("AIRLOCK_PASSWORD_FILE=" + q(t / "no-such-password") + " " + build);
  EXPECT_EQ(r.status, 20) << r.output;
  EXPECT_NE(r.output.find("0001_fk"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PRAGMA foreign_keys"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("no-such-password"), std::string::npos) << r.output;
  // Once the recipe is good, the password is asked for, and the right one builds.
  spit(t / "r/m/1.up.sql", "CREATE TABLE t(a);");
  spit(t / "r/m/1.down.sql", "DROP TABLE t;");
  r = run("AIRLOCK_PASSWORD_FILE=" + q(t / "no-such-password") + " " + build);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("no-such-password"), std::string::npos) << r.output;
  spit(t / "pw", "pw\n");
  r = run("AIRLOCK_PASSWORD_FILE=" + q(t / "pw") + " " + build);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(t / "out.tar.zst"));
}

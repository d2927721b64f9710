// Hostile text through the real binary: entry names, check details and versions carrying bytes
// that are not UTF-8 or terminal escape sequences. Whatever airlock prints or stores is valid,
// printable UTF-8 (core/text.hpp), --json stays valid JSON, and the exit code is the verdict's
// class, never 1 ("internal error").
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
namespace craft = airlock::test::craft;
using airlock::test::run;
using airlock::test::q;
using airlock::test::json_of;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;

// An entry name that would clear the line, move the cursor up and paint a green "VERIFIED" over
// the verdict, with bytes that are not UTF-8 around it.
const std::string kHostileName = "data/\x1b[1A\x1b[2K\x1b[32mVERIFIED\x1b[0m\xff\xc0\xaf\xc2\x9b.csv";

bool has_escape_or_bad_byte(const std::string& s) {
  return s.find('\x1b') != std::string::npos || s.find('\xff') != std::string::npos ||
         s.find("\xc2\x9b") != std::string::npos;
}

struct HostileBundle {
  TempDir dir;
  craft::Key hq = craft::make_key("hq");
  fs::path bundle = dir / "hostile.tar.zst";
  fs::path trust = dir / "trust.toml";

  explicit HostileBundle(const std::function<void(craft::Bundle&)>& mutate, craft::BundleSpec spec = {}) {
    auto b = craft::good_bundle(spec, {&hq});
    mutate(b);
    b.write(bundle);
    spit(trust, craft::trust_toml(craft::trust_root({craft::trust_key(hq)})));
  }
  std::string verify(const std::string& flags = "") const {
    return kBin + " verify " + q(bundle) + " --trust " + q(trust) + " " + flags + " 2>&1";
  }
};

}  // namespace

TEST(TextCli, VerifyJsonNamesAHostileEntryNameInValidJsonWithExitTen) {
  HostileBundle h([](craft::Bundle& b) { b.payload[0] = craft::file_entry(kHostileName, "x"); });
  auto r = run(h.verify("--json"));
  EXPECT_EQ(r.status, 10) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"]["exit_code"], 10);
  const std::string text = j["error"]["text"].get<std::string>();
  EXPECT_NE(text.find("\\u001B[32mVERIFIED\\u001B[0m\\xFF\\xC0\\xAF\\u009B.csv"), std::string::npos) << text;
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;
}

TEST(TextCli, HostileEntryNameCannotPaintAFakeVerifiedOnTheTerminal) {
  HostileBundle h([](craft::Bundle& b) { b.payload[0] = craft::file_entry(kHostileName, "x"); });
  auto r = run(h.verify());
  EXPECT_EQ(r.status, 10) << r.output;
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;
  EXPECT_EQ(r.output.rfind("VERIFIED", 0), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\nVERIFIED"), std::string::npos) << r.output;
}

TEST(TextCli, InspectJsonShowsAHostileSignatureEntryNameAsValidJson) {
  HostileBundle h([](craft::Bundle& b) {
    auto e = b.head[1];
    e.path = "signatures/" + kHostileName.substr(5);
    b.head.push_back(e);
  });
  auto r = run(kBin + " inspect " + q(h.bundle) + " --json 2>&1");
  EXPECT_NE(r.status, 1) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;
  r = run(kBin + " inspect " + q(h.bundle) + " 2>&1");
  EXPECT_NE(r.status, 1) << r.output;
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;
}

TEST(TextCli, InspectKeepsTheNotesLinesButNotTheirEscapes) {
  craft::BundleSpec spec;
  spec.files[0].content = "# notas\n\ncorreção \x1b]0;owned\x07 done\n";
  HostileBundle h([](craft::Bundle&) {}, spec);
  auto r = run(kBin + " inspect " + q(h.bundle) + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# notas\n\ncorreção \\u001B]0;owned\\u0007 done\n"), std::string::npos) << r.output;
  r = run(kBin + " inspect " + q(h.bundle) + " --json 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["notes"]["text"], "# notas\n\ncorreção \\u001B]0;owned\\u0007 done\n");
}

TEST(TextCli, VersionOverSixtyFourBytesIsRefusedBeforeAnythingElse) {
  craft::BundleSpec spec;
  spec.version = "1.0.0-" + std::string(294, 'a');  // valid SemVer, 300 bytes
  HostileBundle h([](craft::Bundle&) {}, spec);
  auto r = run(h.verify("--json"));
  EXPECT_EQ(r.status, 10) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_NE(j["error"]["text"].get<std::string>().find("over the limit of 64"), std::string::npos) << r.output;
  // As user input it is a usage error.
  r = run(h.verify("--installed 1.0.0-" + std::string(294, 'a')));
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(TextCli, TrustThresholdIsAWholeNumber) {
  TempDir d;
  ASSERT_EQ(run(kBin + " keygen --no-password --out " + q(d / "k")).status, 0);
  ASSERT_EQ(run(kBin + " trust init " + q(d / "t.toml") + " --key " + q(d / "k.pub") + " --name k").status, 0);
  const std::string before = slurp(d / "t.toml");
  for (const char* bad : {"2abc", "2.5", " 2", "+1", "0x1", "", "0", "17", "99999999999999999999"}) {
    auto r = run(kBin + " trust threshold " + q(d / "t.toml") + " '" + bad + "' 2>&1");
    EXPECT_EQ(r.status, 2) << "'" << bad << "': " << r.output;
    EXPECT_EQ(slurp(d / "t.toml"), before) << bad;
  }
  auto r = run(kBin + " trust threshold " + q(d / "t.toml") + " 1 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
}

// A site whose hard check reads a value that is not UTF-8 and carries an escape sequence once
// 1.2.0 renamed the table: the check fails with that text in its detail, the run rolls back
// (30), and history, audit and --json stay valid.
class TextSiteCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    for (const auto& [recipe, out] :
         {std::pair{"example", "b110.tar.zst"}, std::pair{"example-1.2.0", "b120.tar.zst"}}) {
      auto r =
          airlock::test::build_example(recipe, dir / out);
      ASSERT_EQ(r.status, 0) << r.output;
    }
    std::string site = slurp(dir / "site/site.toml");
    const std::string from = "query = \"SELECT count(*) FROM items\"\nexpect = 3";
    const auto at = site.find(from);
    ASSERT_NE(at, std::string::npos);
    site.replace(at, from.size(),
                 "query = \"SELECT CASE WHEN (SELECT count(*) FROM sqlite_master WHERE name = 'items') = 1 "
                 "THEN 'ok' ELSE CAST(x'FF1B5B324A1B5B33326D' AS TEXT) END\"\nexpect = \"ok\"");
    spit(dir / "site/site.toml", site);
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  TempDir dir;
};

TEST_F(TextSiteCli, HardCheckFailingWithNonUtf8TextRollsBackAndRecordsItPrintable) {
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " apply " + q(dir / "b120.tar.zst") + " --site " + site() + " --json 2>/dev/null");
  ASSERT_EQ(r.status, 30) << r.output;
  auto j = json_of(r.output);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["outcome"], "rolled_back");
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;

  r = run(kBin + " status --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["installed"], "1.1.0");
  r = run(kBin + " history --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto h = json_of(r.output);
  ASSERT_FALSE(h.is_discarded()) << r.output;
  ASSERT_EQ(h["history"].size(), 2u) << r.output;
  EXPECT_EQ(h["history"][1]["outcome"], "rolled_back");
  const std::string detail = h["history"][1]["detail"].get<std::string>();
  EXPECT_NE(detail.find("\\xFF\\u001B[2J"), std::string::npos) << detail;
  r = run(kBin + " history --site " + site());
  EXPECT_FALSE(has_escape_or_bad_byte(r.output)) << r.output;
  r = run(kBin + " audit verify --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
  r = run(kBin + " audit export --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(json_of(r.output).is_discarded()) << r.output;
  // As stored: no ESC and no stray byte in any history or audit text.
  r = run("sqlite3 " + q(dir / "site/state/state.db") +
          " \"SELECT count(*) FROM (SELECT detail || started_by AS t FROM history UNION ALL SELECT data FROM audit) "
          "WHERE instr(CAST(t AS BLOB), x'1B') OR instr(CAST(t AS BLOB), x'FF')\"");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "0\n");
}

TEST_F(TextSiteCli, StartedByIsTheRealUserNotUSER) {
  auto r = run("USER=\"$(printf '\\377\\033[31mmallory')\" " + kBin + " apply " + q(dir / "b110.tar.zst") + " --site " +
               site() + " 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " history --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto h = json_of(r.output);
  ASSERT_FALSE(h.is_discarded()) << r.output;
  std::string expect = "cli, uid " + std::to_string(::getuid());
  if (const passwd* pw = ::getpwuid(::getuid())) expect += std::string(" (") + pw->pw_name + ")";
  EXPECT_EQ(h["history"][0]["started_by"], expect);
}

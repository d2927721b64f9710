// PostgreSQL's error text through the real binary: a migration that fails on the build's scratch
// PostgreSQL with a message holding a quote and a newline reaches the terminal and --json escaped
// exactly once (the newline as \u000a, the quote as it is on the terminal and as \" in JSON),
// as valid, printable UTF-8.
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
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;

bool postgres_installed() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(e.path() / "bin/initdb")) return true;
  return false;
}

// A recipe whose one PostgreSQL migration raises `bad "quote"`, a newline, `second line`.
fs::path failing_recipe(const fs::path& d) {
  spit(d / "en.md", "# notes\n");
  spit(d / "m/1.up.sql", "DO $$ BEGIN RAISE EXCEPTION E'bad \"quote\"\\nsecond line'; END $$;\n");
  spit(d / "m/1.down.sql", "SELECT 1;\n");
  spit(d / "recipe.toml",
       "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T00:00:00Z\n"
       "[[notes]]\nlang = \"en\"\npath = \"en.md\"\n"
       "[databases.main]\nkind = \"postgres\"\n"
       "[[migrations]]\nid = \"0001_fails\"\ndatabase = \"main\"\nup = \"m/1.up.sql\"\ndown = \"m/1.down.sql\"\n");
  return d / "recipe.toml";
}

TEST(PgTextCli, AMigrationErrorWithAQuoteAndANewlineIsEscapedOnce) {
  if (!postgres_installed()) GTEST_SKIP() << "PostgreSQL is not installed";
  TempDir d;
  fs::create_directories(d / "m");
  ASSERT_EQ(run(kBin + " keygen --no-password --out " + q(d / "k")).status, 0);
  const std::string build =
      kBin + " build " + q(failing_recipe(d.path())) + " --key " + q(d / "k") + " --out " + q(d / "out.tar.zst");

  auto human = run("(" + build + " >/dev/null)");  // run() adds 2>&1: stderr only
  EXPECT_EQ(human.status, 20) << human.output;
  EXPECT_NE(human.output.find("bad \"quote\"\\u000Asecond line"), std::string::npos) << human.output;
  EXPECT_EQ(human.output.find("\\\\"), std::string::npos) << "a backslash escaped twice: " << human.output;

  auto machine = run(build + " --json 2>/dev/null");
  EXPECT_EQ(machine.status, 20) << machine.output;
  EXPECT_NE(machine.output.find("bad \\\"quote\\\"\\\\u000Asecond line"), std::string::npos) << machine.output;
  auto j = json_of(machine.output);
  ASSERT_FALSE(j.is_discarded()) << "valid UTF-8 JSON: " << machine.output;
  const std::string text = j["error"]["text"].get<std::string>();
  EXPECT_NE(text.find("bad \"quote\"\\u000Asecond line"), std::string::npos) << text;
  EXPECT_EQ(text.find("\\\\"), std::string::npos) << "a backslash escaped twice: " << text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
}

}  // namespace

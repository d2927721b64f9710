// The build's migration round trip runs on the site's hardened connection (core/db_sandbox), and
// before any secret key is decrypted: a recipe whose SQL tries an escape is a build refusal (20)
// naming the migration and the reason, and touches nothing on the build host.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundler/bundler.hpp"
#include "core/db/db.hpp"
#include "tests/bundler/bundler_fixture.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

const std::string kMigration =
    "[[migrations]]\nid = \"0001_evil\"\ndatabase = \"main\"\nup = \"m/1.up.sql\"\ndown = \"m/1.down.sql\"\n";

// A database on the build host that a migration must not reach.
struct Victim {
  TempDir dir;
  std::string path = (dir / "victim.db").string();
  Victim() {
    auto d = db::Database::open(path, db::OpenMode::create);
    EXPECT_TRUE(d && d->exec("CREATE TABLE secrets(x); INSERT INTO secrets VALUES ('keep');"));
  }
  std::int64_t rows() const {
    auto d = db::Database::open(path, db::OpenMode::read_only);
    return std::get<std::int64_t>((*d->query("SELECT count(*) FROM secrets"))[0][0]);
  }
};

// Builds in a child process, so that a crash (a call through a pointer the SQL chose) is this
// test's failure, not the test binary's. Returns the exit code: the error class, 0 when built,
// 128 + the signal when it crashed; `message` gets the error text.
int build_in_child(const std::string& recipe, const std::string& out, std::string& message) {
  TempDir t;
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto r = build_with(recipe, out, {demo_key("demo-hq")});
    spit(t / "msg", r ? std::string() : r.error().what());
    ::_exit(r ? 0 : exit_code(r.error().cls()));
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  message = fs::exists(t / "msg") ? slurp(t / "msg") : "";
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void expect_refused(RecipeDir& d, const std::string& up, const std::vector<std::string>& needles) {
  d.file("m/1.up.sql", up);
  d.file("m/1.down.sql", "SELECT 1;");
  std::string message;
  EXPECT_EQ(build_in_child(d.recipe(kMigration), d.out(), message), 20) << message;
  for (const auto& n : needles) EXPECT_NE(message.find(n), std::string::npos) << message;
  EXPECT_NE(message.find("0001_evil"), std::string::npos) << "names the migration: " << message;
  EXPECT_FALSE(fs::exists(d.out()));
}

}  // namespace

TEST(MigrationSandbox, AttachOfAFileOnTheBuildHostIsRefusedAndTheFileUntouched) {
  RecipeDir d;
  Victim v;
  std::string before = slurp(v.path);
  expect_refused(d, "ATTACH '" + v.path + "' AS v; DELETE FROM v.secrets;", {"ATTACH"});
  EXPECT_EQ(v.rows(), 1);
  EXPECT_TRUE(slurp(v.path) == before) << "the victim file changed";
}

TEST(MigrationSandbox, Fts3TokenizerIsRefusedWithoutACrash) {
  RecipeDir d;
  expect_refused(d, "SELECT fts3_tokenizer('simple', x'4141414141414141'); CREATE VIRTUAL TABLE v USING fts3(x);",
                 {"fts3_tokenizer"});
  expect_refused(d, "CREATE TABLE leak AS SELECT hex(fts3_tokenizer('simple')) AS p;", {"fts3_tokenizer"});
}

TEST(MigrationSandbox, PragmaEverySiteRefusesIsABuildRefusal) {
  RecipeDir d;
  expect_refused(d, "PRAGMA foreign_keys = ON; CREATE TABLE t(a);", {"PRAGMA foreign_keys"});
}

TEST(MigrationSandbox, VacuumIntoBehindAnEmptyStatementIsRefused) {
  RecipeDir d;
  Victim v;
  fs::path target = v.dir / "copy.db";
  expect_refused(d, "; VACUUM INTO '" + target.string() + "';", {"VACUUM"});
  EXPECT_FALSE(fs::exists(target));
}

TEST(MigrationSandbox, FixtureSqlRunsInTheSandboxToo) {
  RecipeDir d;
  Victim v;
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  d.file("m/1.down.sql", "DROP TABLE t;");
  d.file("fixture.sql", "ATTACH '" + v.path + "' AS v; DELETE FROM v.secrets;");
  std::string message;
  EXPECT_EQ(build_in_child(d.recipe(kMigration + "fixture = \"fixture.sql\"\n"), d.out(), message), 20) << message;
  EXPECT_NE(message.find("ATTACH"), std::string::npos) << message;
  EXPECT_EQ(v.rows(), 1);
}
// The keys are loaded only once the recipe passed every check: a refused recipe never asks for a
// password. load_keys stands for the command line's loader (which asks for the password).
TEST(MigrationSandbox, RefusedRecipeNeverLoadsTheKeys) {
  RecipeDir d;
  d.file("m/1.up.sql", "PRAGMA foreign_keys = ON;");
  d.file("m/1.down.sql", "SELECT 1;");
  bool asked = false;
  bundler::BuildRequest req;
  req.recipe_path = d.recipe(kMigration);
  req.out_path = d.out();
  req.load_keys = [&]() -> Result<std::vector<minisign::SecretKey>> {
    asked = true;
    return fail(ErrorClass::usage, "no password");
  };
  auto r = bundler::build(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::build_refused) << r.error().what();
  EXPECT_FALSE(asked);
  // A good recipe loads them, once.
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  d.file("m/1.down.sql", "DROP TABLE t;");
  int calls = 0;
  req.load_keys = [&]() -> Result<std::vector<minisign::SecretKey>> {
    ++calls;
    return std::vector<minisign::SecretKey>{demo_key("demo-hq")};
  };
  auto ok = bundler::build(req);
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(calls, 1);
}

// Release rules: each breach is refused (build_refused, exit 20) with a message naming the recipe,
// the item and the rule; a malformed recipe is a usage error (2). No output appears either way.
#include <gtest/gtest.h>

#include "bundler/bundler.hpp"
#include "core/db/db.hpp"
#include "tests/bundler/bundler_fixture.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

const std::string kMigration = "[[migrations]]\nid = \"0001_items\"\ndatabase = \"main\"\nup = \"m/1.up.sql\"\n";

// Builds, expects a refusal of class `cls` whose message holds every one of `needles`.
void expect_refused(RecipeDir& d, const std::string& recipe, ErrorClass cls, std::vector<std::string> needles) {
  fs::remove(d.out());
  auto r = build_with(recipe, d.out(), {demo_key("demo-hq")});
  ASSERT_FALSE(r) << "built, but should have been refused";
  EXPECT_EQ(r.error().cls(), cls) << r.error().what();
  for (const auto& n : needles) EXPECT_NE(r.error().what().find(n), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find(recipe), std::string::npos) << "names the recipe: " << r.error().what();
  EXPECT_FALSE(fs::exists(d.out()));
}

}  // namespace

TEST(Rules, MigrationWithoutDownIsRefused) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  expect_refused(d, d.recipe(kMigration), ErrorClass::build_refused, {"0001_items", "has no `down`", "irreversible"});
}

TEST(Rules, IrreversibleNeedsRollbackToThisVersion) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  std::string m = kMigration + "irreversible = true\n";
  expect_refused(d, d.recipe(m), ErrorClass::build_refused, {"0001_items", "rollback_to must be \"1.0.0\"", "none"});
  expect_refused(d, d.recipe(m, true, "rollback_to = \"0.9.0\"\n"), ErrorClass::build_refused, {"got \"0.9.0\""});
  auto ok = build_with(d.recipe(m, true, "rollback_to = \"1.0.0\"\n"), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
  ASSERT_EQ(ok->manifest.migrations.size(), 1u);
  EXPECT_FALSE(ok->manifest.migrations[0].down.has_value());
}

TEST(Rules, DownThatDoesNotUndoUpIsRefusedNamingTheDifference) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE t(a); CREATE TABLE u(b);");
  d.file("m/1.down.sql", "DROP TABLE t;");
  expect_refused(d, d.recipe(kMigration + "down = \"m/1.down.sql\"\n"), ErrorClass::build_refused,
                 {"does not undo", "left over after down", "CREATE TABLE u(b)"});
}

TEST(Rules, DownThatFailsIsRefused) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  d.file("m/1.down.sql", "DROP TABLE nope;");
  expect_refused(d, d.recipe(kMigration + "down = \"m/1.down.sql\"\n"), ErrorClass::build_refused,
                 {"down 'm/1.down.sql' fails", "no such table: nope"});
}

TEST(Rules, UpThatFailsOrCannotRunTwiceIsRefused) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE t(a) garbage;");
  d.file("m/1.down.sql", "DROP TABLE t;");
  std::string m = kMigration + "down = \"m/1.down.sql\"\n";
  expect_refused(d, d.recipe(m), ErrorClass::build_refused, {"up 'm/1.up.sql' fails"});
  // A down that "undoes" the schema but leaves data the up then trips over.
  d.file("m/1.up.sql", "CREATE TABLE IF NOT EXISTS t(a UNIQUE); INSERT INTO t VALUES (1);");
  d.file("m/1.down.sql", "SELECT 1;");
  expect_refused(d, d.recipe(m), ErrorClass::build_refused, {"does not undo"});
}

TEST(Rules, LaterMigrationsRunOnTheEarlierOnesState) {
  RecipeDir d;
  d.file("m/1.up.sql", "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);");
  d.file("m/1.down.sql", "DROP TABLE items;");
  d.file("m/2.up.sql", "ALTER TABLE items ADD COLUMN price INTEGER NOT NULL DEFAULT 0;");
  d.file("m/2.down.sql", "ALTER TABLE items DROP COLUMN price;");
  d.file("m/3.up.sql", "ALTER TABLE items RENAME TO items_v2;");
  d.file("m/3.down.sql", "ALTER TABLE items_v2 RENAME TO items;");
  std::string text;
  for (int i = 1; i <= 3; ++i) {
    std::string n = std::to_string(i);
    text += "[[migrations]]\nid = \"000" + n + "\"\ndatabase = \"main\"\nup = \"m/" + n + ".up.sql\"\ndown = \"m/" + n +
            ".down.sql\"\n";
  }
  auto ok = build_with(d.recipe(text), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
  // Same migrations, but each on its own database: 2 finds no table.
  std::string other = text;
  other.replace(other.find("database = \"main\"", other.find("0002")), 17, "database = \"aux\"");
  expect_refused(d, d.recipe(other), ErrorClass::build_refused, {"0002", "database 'aux'", "no such table"});
}

TEST(Rules, FixtureDatabaseIsTheStartingPoint) {
  RecipeDir d;
  d.file("m/1.up.sql", "ALTER TABLE legacy RENAME TO modern;");
  d.file("m/1.down.sql", "ALTER TABLE modern RENAME TO legacy;");
  std::string m = kMigration + "down = \"m/1.down.sql\"\n";
  expect_refused(d, d.recipe(m), ErrorClass::build_refused, {"no such table: legacy"});
  {
    auto fx = db::Database::open((d.dir / "fixture.sqlite").string(), db::OpenMode::create);
    ASSERT_TRUE(fx && fx->exec("CREATE TABLE legacy(x); INSERT INTO legacy VALUES (1);"));
  }
  auto ok = build_with(d.recipe(m + "fixture = \"fixture.sqlite\"\n"), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
  // A fixture written as SQL works the same; the fixture file itself is never modified.
  d.file("fixture.sql", "CREATE TABLE legacy(x);");
  ok = build_with(d.recipe(m + "fixture = \"fixture.sql\"\n"), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
  auto fx = db::Database::open((d.dir / "fixture.sqlite").string(), db::OpenMode::read_only);
  ASSERT_TRUE(fx);
  EXPECT_EQ(fx->query("SELECT name FROM sqlite_schema")->at(0).at(0), db::Value(std::string("legacy")));
}

TEST(Rules, ConfigPatchThatDoesNotParseIsRefused) {
  RecipeDir d;
  d.file("topology.patch.toml", "[set]\nmode = \"fast\"\n[unknown]\nx = 1\n");
  std::string c = "[[config]]\ntarget = \"topology\"\npatch = \"topology.patch.toml\"\n";
  expect_refused(d, d.recipe(c), ErrorClass::build_refused, {"config 'topology'", "does not parse"});
  d.file("topology.patch.toml", "[set\n");
  expect_refused(d, d.recipe(c), ErrorClass::build_refused, {"does not parse"});
  d.file("topology.patch.toml", "[set]\nmode = \"fast\"\n");
  auto ok = build_with(d.recipe(c), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
}

TEST(Rules, EnglishNotesAreRequired) {
  RecipeDir d;
  d.file("pt.md", "notas\n");
  expect_refused(d, d.recipe("[[notes]]\nlang = \"pt-BR\"\npath = \"pt.md\"\n", false), ErrorClass::build_refused,
                 {"English", "lang = \"en\""});
}

TEST(Rules, MalformedImageDigestIsRefused) {
  RecipeDir d;
  std::string hex(64, 'a');
  for (std::string bad : {"sha256:" + hex.substr(1), "sha256:" + std::string(64, 'A'), "md5:" + hex, hex}) {
    expect_refused(d, d.recipe("[[images]]\nref = \"r/x:1\"\ndigest = \"" + bad + "\"\n"), ErrorClass::build_refused,
                   {"image 'r/x:1'", "digest '" + bad + "'"});
  }
  auto ok = build_with(d.recipe("[[images]]\nref = \"r/x:1\"\ndigest = \"sha256:" + hex + "\"\n"), d.out(),
                       {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
}

TEST(Rules, ManifestRulesAreBuildRefusals) {
  RecipeDir d;
  d.file("a.txt", "a");
  // Two [[files]] items that land on the same payload path.
  expect_refused(d, d.recipe("[[files]]\nfrom = \"a.txt\"\nto = \"x/a\"\n[[files]]\nfrom = \"en.md\"\nto = \"X/A\"\n"),
                 ErrorClass::build_refused, {"clash"});
  expect_refused(d, d.recipe("[[files]]\nfrom = \"a.txt\"\nto = \"../a\"\n"), ErrorClass::build_refused, {"'../a'"});
  expect_refused(d, d.recipe("", true, "channel = \"nightly\"\n"), ErrorClass::build_refused, {"nightly"});
  expect_refused(d, d.recipe("", true, "min_installed = \"1.0\"\n"), ErrorClass::build_refused, {"min_installed"});
  fs::create_symlink("a.txt", d.dir / "link.txt");
  expect_refused(d, d.recipe("[[files]]\nfrom = \"link.txt\"\n"), ErrorClass::build_refused, {"not a regular file"});
  expect_refused(d, d.recipe("[[files]]\nfrom = \"missing.txt\"\n"), ErrorClass::build_refused, {"missing.txt"});
}

TEST(Rules, MalformedRecipeIsUsageError) {
  RecipeDir d;
  expect_refused(d, d.recipe("[[migrations]\n"), ErrorClass::usage, {"line "});
  expect_refused(d, d.recipe("[[notes]]\nlang = \"es\"\npath = \"en.md\"\nbreaking = true\n"), ErrorClass::usage,
                 {"notes[1].breaking: unknown key"});
  expect_refused(d, d.recipe("", true, "critical = \"yes\"\n"), ErrorClass::usage, {"release.critical"});
  d.file("recipe2.toml", "[release]\nversion = \"1.0.0\"\n");
  expect_refused(d, (d.dir / "recipe2.toml").string(), ErrorClass::usage, {"product"});
  auto r = build_with((d.dir / "absent.toml").string(), d.out(), {demo_key("demo-hq")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
}

TEST(Rules, ExampleReleaseTwelveBuildsOnItsFixture) {
  TempDir t;
  auto r = build_with(kExample12, (t / "b.tar.zst").string(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->manifest.release.version.text, "1.2.0");
  ASSERT_EQ(r->manifest.migrations.size(), 1u);
  // The fixture is a build input only, not payload.
  EXPECT_EQ(r->manifest.find_file("fixtures/main-1.1.0.sql"), nullptr);
}

TEST(Rules, TrustUpdateMustBeAValidTrustRoot) {
  RecipeDir d;
  std::string t = "[trust_update]\npath = \"next-trust.toml\"\n";
  d.file("next-trust.toml", "format = \"airlock-trust/1\"\nthreshold = 0\n");
  expect_refused(d, d.recipe(t), ErrorClass::build_refused, {"trust_update", "not a valid trust root"});
  d.file("next-trust.toml", slurp(kSource + "/keys/trust.toml"));
  auto ok = build_with(d.recipe(t), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->manifest.trust_update, std::optional<std::string>("trust/trust.toml"));
  EXPECT_NE(ok->manifest.find_file("trust/trust.toml"), nullptr);
}

TEST(Rules, ScratchDatabasesAreRemovedAfterTheCheck) {
  RecipeDir d;
  TempDir tmp;
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", tmp.str().c_str(), 1);
  d.file("m/1.up.sql", "CREATE TABLE t(a);");
  d.file("m/1.down.sql", "DROP TABLE t;");
  auto ok = build_with(d.recipe(kMigration + "down = \"m/1.down.sql\"\n"), d.out(), {demo_key("demo-hq")});
  d.file("m/1.down.sql", "SELECT 1;");
  auto refused = build_with(d.recipe(kMigration + "down = \"m/1.down.sql\"\n"), d.out() + ".2", {demo_key("demo-hq")});
  if (old)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  ASSERT_TRUE(ok) << ok.error().what();
  ASSERT_FALSE(refused);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Rules, ReleaseVersionsAndInstantsMustBeInOrder) {
  RecipeDir d;
  expect_refused(d, d.recipe("", true, "rollback_to = \"1.0.1\"\n"), ErrorClass::build_refused,
                 {"rollback_to \"1.0.1\" is later than release.version \"1.0.0\""});
  expect_refused(d, d.recipe("", true, "min_installed = \"2.0.0\"\n"), ErrorClass::build_refused,
                 {"min_installed \"2.0.0\" is later"});
  expect_refused(d, d.recipe("", true, "expires = 2025-12-31T23:59:59Z\n"), ErrorClass::build_refused,
                 {"expires 2025-12-31T23:59:59Z is not after release.created 2026-01-01T00:00:00Z"});
  auto ok = build_with(
      d.recipe("", true, "rollback_to = \"0.9.0\"\nmin_installed = \"0.8.0\"\nexpires = 2027-01-01T00:00:00Z\n"),
      d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(ok) << ok.error().what();
}

// Recipes go through core's TOML front door: hostile nesting is a usage error, not a crash of
// `airlock build` (toml++ recurses once per nesting level).
#include <gtest/gtest.h>

#include <string>

#include "bundler/recipe.hpp"

namespace airlock::bundler {
namespace {

TEST(RecipeToml, DeeplyNestedRecipeIsAUsageErrorNotACrash) {
  const std::string head = "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\n";
  std::string header = "[a", inline_tables;
  for (int i = 0; i < 40000; ++i) header += ".a";
  for (int i = 0; i < 40000; ++i) inline_tables += "{a=";
  for (const std::string& deep : {head + header + "]\n", head + "x = " + inline_tables + "1\n"}) {
    auto r = parse_recipe(deep, "/nonexistent/recipe.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
    EXPECT_NE(r.error().what().find("nested too deeply"), std::string::npos) << r.error().what();
    EXPECT_NE(r.error().what().find("recipe '/nonexistent/recipe.toml'"), std::string::npos) << r.error().what();
  }
}

TEST(RecipeToml, InvalidUtf8IsRefusedBeforeParsing) {
  auto r = parse_recipe("[release]\nproduct = \"d\xff\"\n", "/nonexistent/recipe.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("invalid UTF-8"), std::string::npos) << r.error().what();
}

const std::string kRelease = "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\n";

// A usage error (2) naming the recipe file, then the table and key: "recipe '<file>': <key path>: ".
void expect_refused(const std::string& text, const std::string& key_path, const std::string& reason) {
  auto r = parse_recipe(text, "/nonexistent/recipe.toml");
  ASSERT_FALSE(r) << text;
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("recipe '/nonexistent/recipe.toml': " + key_path + ": " + reason), std::string::npos)
      << r.error().what();
}

TEST(RecipeToml, AWrongTypedValueIsRefusedNamingFileTableAndKey) {
  // Each of these was once a value a lenient reader could take as its default.
  expect_refused(kRelease + "critical = \"true\"\n", "release.critical", "expected a boolean, found a string");
  expect_refused(kRelease + "[build]\nlevel = \"19\"\n", "build.level", "expected an integer, found a string");
  expect_refused(kRelease + "created = 2026-05-06T10:00:00\n", "release.created",
                 "expected an offset date-time (with Z or ±hh:mm), found a local date-time");
  expect_refused(kRelease + "[[migrations]]\nid = \"m1\"\ndatabase = \"main\"\nup = \"up.sql\"\nirreversible = 1\n",
                 "migrations[0].irreversible", "expected a boolean, found an integer");
  expect_refused(kRelease + "[[files]]\nfrom = [\"a\"]\n", "files[0].from", "expected a string, found an array");
  expect_refused("notes = \"en.md\"\n" + kRelease, "notes", "expected an array of tables, found a string");
  expect_refused("delta = 1\n" + kRelease, "delta", "expected a table, found an integer");
  expect_refused("release = \"1.0.0\"\n", "release", "expected a table, found a string");
}

TEST(RecipeToml, AnUnknownKeyIsRefusedNamingFileTableAndKey) {
  expect_refused(kRelease + "irreversable = true\n", "release.irreversable", "unknown key");
  expect_refused(kRelease + "[[config]]\ntarget = \"t\"\npatch = \"p\"\nbreak = true\n", "config[0].break",
                 "unknown key");
  expect_refused(kRelease + "[delta]\nbase = \"1.0.0\"\nfrom = \"x\"\n", "delta.from", "unknown key");
  expect_refused("colour = \"blue\"\n" + kRelease, "colour", "unknown key");
}

TEST(RecipeToml, AMissingRequiredKeyIsRefusedNamingIt) {
  expect_refused("[release]\nversion = \"1.0.0\"\n", "release.product", "required key is missing");
  expect_refused("[build]\nlevel = 3\n", "release", "required key is missing");
  expect_refused(kRelease + "[build]\nlevel = 23\n", "build.level", "must be 1..22, got 23");
}

TEST(RecipeToml, AWellTypedRecipeParses) {
  auto r = parse_recipe(kRelease +
                            "created = 2026-05-06T10:00:00Z\ncritical = true\n[build]\nlevel = 19\n"
                            "[delta]\nbase = \"0.9.0\"\n[[files]]\nfrom = \"bin\"\nexecutable = true\n",
                        "/nonexistent/recipe.toml");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->product, "demo");
  EXPECT_TRUE(r->critical);
  EXPECT_EQ(r->level, 19);
  EXPECT_EQ(r->delta_base, "0.9.0");
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].executable, true);
  ASSERT_TRUE(r->created.has_value());
}

}  // namespace
}  // namespace airlock::bundler

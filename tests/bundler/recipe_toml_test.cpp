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

}  // namespace
}  // namespace airlock::bundler

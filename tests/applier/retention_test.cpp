// Retention (docs/site.md): after many healthy releases the state folder keeps the snapshots and
// payloads of the current and the 3 newest previous releases only, and manual rollback still
// works across what is kept.
#include <gtest/gtest.h>

#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

std::size_t count_dirs(const fs::path& p) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(p))
    if (e.is_directory()) ++n;
  return n;
}

TEST(Retention, OldSnapshotsAndPayloadsArePrunedAndRollbackStillWorks) {
  TempDir b;
  SiteDir s("[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  for (int i = 2; i <= 7; ++i) {
    std::string v = "1." + std::to_string(i) + ".0";
    std::string t = "t" + std::to_string(i);
    std::string recipe = write_recipe(
        b, "r" + std::to_string(i), "", v,
        "[[migrations]]\nid = \"" + t + "\"\ndatabase = \"main\"\nup = \"m/up.sql\"\ndown = \"m/down.sql\"\n",
        {{"m/up.sql", "CREATE TABLE " + t + " (x);\n"}, {"m/down.sql", "DROP TABLE " + t + ";\n"}});
    auto bundle = build_bundle(recipe, (b / ("r" + std::to_string(i) + ".tar.zst")).string());
    auto r = applier::apply(s.site, bundle, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    ASSERT_EQ(r->outcome, applier::Outcome::applied);
  }
  // 7 releases installed in a row: current + 3 previous kept.
  EXPECT_EQ(count_dirs(fs::path(s.state) / "releases"), 4u);
  EXPECT_LE(count_dirs(fs::path(s.state) / "snapshots"), 4u + 2u);
  // Three manual rollbacks reach back to 1.4.0, each undoing its migration.
  for (const char* expect : {"1.6.0", "1.5.0", "1.4.0"}) {
    auto r = applier::rollback(s.site, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->to_version, expect);
  }
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->query("SELECT count(*) FROM t4"));
  EXPECT_FALSE(d->query("SELECT count(*) FROM t5")) << "1.5.0's migration was reversed";
}

}  // namespace
}  // namespace airlock::test

// apply --dry-run's plan (applier/plan.hpp) on a real site with real bundles: what it reports, and
// that the site — state folder (state.db and its audit log included), databases, config files — is
// byte-identical afterwards.
#include <gtest/gtest.h>

#include "applier/plan.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

// Every path under the site folder with its bytes (a symlink by its target).
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto rel = fs::relative(e.path(), dir).string();
    if (e.is_symlink())
      out[rel] = "-> " + fs::read_symlink(e.path()).string();
    else if (e.is_regular_file())
      out[rel] = slurp(e.path());
    else
      out[rel] = "<dir>";
  }
  return out;
}

TEST(Plan, ShowsTheUpgradeAndChangesNothing) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  const auto before = tree(s.dir.path());
  auto p = applier::plan_apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_EQ(tree(s.dir.path()), before) << "a dry run changes nothing and records nothing";
  EXPECT_EQ(p->from_version, "1.1.0");
  EXPECT_EQ(p->to_version, "1.2.0");
  EXPECT_EQ(p->channel, "recommended");
  ASSERT_FALSE(p->preflight.empty());
  EXPECT_TRUE(p->preflight[0].ok) << p->preflight[0].detail;
  std::vector<std::string> ids;
  for (const auto& m : p->migrations) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"0003_rename_items"}));
  EXPECT_FALSE(p->migrations[0].already_applied);
  ASSERT_EQ(p->checks.size(), 1u);
  EXPECT_EQ(p->checks[0].name, "items");
  EXPECT_EQ(p->checks[0].kind, "sqlite");
  EXPECT_FALSE(p->blocked) << (p->blockers.empty() ? "" : p->blockers[0]);
}

TEST(Plan, FirstInstallListsEveryMigrationAndTheConfigDelta) {
  SiteDir s;
  const auto before = tree(s.dir.path());
  auto p = applier::plan_apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_EQ(tree(s.dir.path()), before);
  EXPECT_FALSE(fs::exists(s.state)) << "not even the state folder is made";
  EXPECT_EQ(p->from_version, "");
  ASSERT_EQ(p->migrations.size(), 2u);
  EXPECT_EQ(p->migrations[0].id, "0001_create_items");
  ASSERT_EQ(p->config.size(), 1u);
  EXPECT_EQ(p->config[0].target, "topology");
  EXPECT_TRUE(p->config[0].changes);
  EXPECT_EQ(p->config[0].problem, "");
}

TEST(Plan, AFailingPreflightIsABlockerNotAnError) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("DELETE FROM items WHERE rowid = (SELECT max(rowid) FROM items)"));
  }
  const auto before = tree(s.dir.path());
  auto p = applier::plan_apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_EQ(tree(s.dir.path()), before);
  ASSERT_TRUE(p->blocked);
  EXPECT_EQ(*p->blocked, ErrorClass::preflight);
  ASSERT_FALSE(p->blockers.empty());
  EXPECT_NE(p->blockers[0].find("items"), std::string::npos) << p->blockers[0];
}

TEST(Plan, ATamperedBundleIsRefusedAsByApply) {
  SiteDir s;
  const fs::path bad = s.dir / "bad.tar.zst";
  fs::copy_file(bundles().v110, bad);
  {
    std::string bytes = slurp(bad);
    bytes[bytes.size() / 2] ^= 0x5a;
    spit(bad, bytes);
  }
  const auto before = tree(s.dir.path());
  auto p = applier::plan_apply(s.site, bad.string(), quiet_env());
  ASSERT_FALSE(p);
  EXPECT_GE(static_cast<int>(p.error().cls()), 10);
  EXPECT_LE(static_cast<int>(p.error().cls()), 13);
  EXPECT_EQ(tree(s.dir.path()), before);
}

}  // namespace
}  // namespace airlock::test

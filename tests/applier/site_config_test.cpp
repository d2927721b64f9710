// Faults in the site's own configuration, through the real apply: every TOML document a site
// reads goes through core's front door (a config target nested 40,000 deep is the site's
// configuration error, 2, found before anything changed, no crash), and a malformed or missing trust root is a
// configuration error (2, spec §8), nothing changed.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

TEST(SiteConfig, DeeplyNestedConfigTargetIsAUsageErrorWithoutACrash) {
  SiteDir s;
  std::string header = "[a";
  for (int i = 0; i < 40000; ++i) header += ".a";
  spit(s.topology, header + "]\n");
  const std::string before = s.observable();
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("nested too deeply"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

TEST(SiteConfig, DeeplyNestedSiteFileIsAUsageErrorForEveryCommand) {
  SiteDir s;
  std::string header = "[a";
  for (int i = 0; i < 40000; ++i) header += ".a";
  spit(s.site, slurp(s.site) + header + "]\n");
  auto st = applier::status(s.site);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().cls(), ErrorClass::usage) << st.error().what();
  auto h = applier::history(s.site);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().cls(), ErrorClass::usage);
  auto a = applier::audit_verify(s.site);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().cls(), ErrorClass::usage);
}

TEST(SiteConfig, MalformedOrMissingTrustRootIsAUsageErrorAndChangesNothing) {
  SiteDir s;
  const std::string before = s.observable();
  spit(s.dir / "trust.toml", "threshold = \"one\"\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("trust root"), std::string::npos) << r.error().what();
  fs::remove(s.dir / "trust.toml");
  r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

}  // namespace
}  // namespace airlock::test

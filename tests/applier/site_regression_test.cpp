// Fuzz finding (site_fuzz, 2026-11-23; docs/reliability.md): "\xcf\xbb\x01\x01" (U+03FB where a
// key may start) drives toml++ 3.3.0 into TOML_UNREACHABLE inside
// is_non_ascii_horizontal_whitespace() — undefined behaviour, upstream marzer/tomlplusplus#295.
// applier/site.cpp compiles toml++ header-only unless airlock_applier links PkgConfig::TOMLPP
// (as airlock_core does), so under -DAIRLOCK_SANITIZE=ON this test aborts with a UBSan report
// until it does. The user-visible contract: a site file with such bytes is a usage error naming it.
#include <gtest/gtest.h>

#include <string>

#include "applier/site.hpp"

namespace airlock::applier {
namespace {

TEST(SiteRegression, NonAsciiWhereAKeyMayStartIsAUsageError) {
  for (const std::string& in : {std::string("\xcf\xbb\x01\x01"), std::string("[site]\n\xc3\xa9 = 1\n")}) {
    auto r = parse_site(in, "/nonexistent/site.toml");
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  }
}

}  // namespace
}  // namespace airlock::applier

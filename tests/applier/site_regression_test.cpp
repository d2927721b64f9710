// Fuzz finding (site_fuzz, 2026-11-23; docs/reliability.md): "\xcf\xbb\x01\x01" (U+03FB where a
// key may start) drives toml++ 3.3.0 into TOML_UNREACHABLE inside
// is_non_ascii_horizontal_whitespace() — undefined behaviour, upstream marzer/tomlplusplus#295.
// applier/site.cpp compiled toml++ header-only then, so under -DAIRLOCK_SANITIZE=ON this test
// aborted with a UBSan report; it now uses the compiled library, as core does. The user-visible
// contract: a site file with such bytes is a usage error.
#include <gtest/gtest.h>

#include <string>

#include "applier/site.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

TEST(SiteRegression, NonAsciiWhereAKeyMayStartIsAUsageError) {
  for (const std::string& in : {std::string("\xcf\xbb\x01\x01"), std::string("[site]\n\xc3\xa9 = 1\n")}) {
    auto r = parse_site(in, "/nonexistent/site.toml");
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  }
}

// Fuzz finding (site_fuzz, 2026-11-23): a duration whose seconds fit int64 but whose milliseconds
// do not ("10000000390770813s") overflowed the conversion in applier/site.cpp (UBSan: signed
// integer overflow). It must be refused, naming the key; the largest that fits still parses.
TEST(SiteRegression, DurationWhoseMillisecondsOverflowIsRefused) {
  auto demo = read_file(std::string(AIRLOCK_SOURCE_DIR) + "/manifests/demo-site/site.toml", 1 << 20);
  ASSERT_TRUE(demo) << demo.error().what();
  const std::string from = "migration_timeout = \"60s\"";
  const auto at = demo->find(from);
  ASSERT_NE(at, std::string::npos);
  auto with = [&](const std::string& value) {
    std::string text = *demo;
    return text.replace(at, from.size(), "migration_timeout = \"" + value + "\"");
  };
  auto r = parse_site(with("10000000390770813s"), "/nonexistent/site.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("migration_timeout"), std::string::npos) << r.error().what();

  // Deadlines are now() + timeout on steady_clock (int64 nanoseconds): anything near the old
  // int64-milliseconds bound overflowed there, so every timeout is capped at a week.
  r = parse_site(with("9223372036854775s"), "/nonexistent/site.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("limit of 7d"), std::string::npos) << r.error().what();
  r = parse_site(with("8d"), "/nonexistent/site.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("migration_timeout"), std::string::npos) << r.error().what();
  auto ok = parse_site(with("7d"), "/nonexistent/site.toml");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->migration_timeout_ms, 7LL * 24 * 3600 * 1000);
  std::string text = *demo;
  text.replace(at, from.size(), "migration_timeout = 604800001");  // integer milliseconds, 1 ms over
  r = parse_site(text, "/nonexistent/site.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
}

}  // namespace
}  // namespace airlock::applier

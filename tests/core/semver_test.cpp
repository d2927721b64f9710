#include "core/model/semver.hpp"

#include <gtest/gtest.h>

namespace airlock {
namespace {

SemVer v(const char* s) {
  auto r = parse_semver(s);
  EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().what());
  return r ? *r : SemVer{};
}

TEST(SemVer, ParsesComponents) {
  auto s = v("1.2.3-alpha.1+build.5");
  EXPECT_EQ(s.major, "1");
  EXPECT_EQ(s.minor, "2");
  EXPECT_EQ(s.patch, "3");
  EXPECT_EQ(s.prerelease, (std::vector<std::string>{"alpha", "1"}));
  EXPECT_EQ(s.build, (std::vector<std::string>{"build", "5"}));
  EXPECT_EQ(s.text, "1.2.3-alpha.1+build.5");
}

TEST(SemVer, AcceptsValidExamplesFromTheSpec) {
  for (const char* s : {"0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta", "1.1.2+meta-valid",
                        "1.0.0-alpha", "1.0.0-alpha.beta.1", "1.0.0-alpha0.valid", "1.0.0-0A.is.legal",
                        "1.0.0-rc.1+build.1", "1.0.0+001", "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
                        "1.0.0---RC-SNAPSHOT.12.9.1--.12+788", "18446744073709551615.0.0"})
    EXPECT_TRUE(parse_semver(s)) << s;
}

TEST(SemVer, RefusesInvalid) {
  for (const char* s : {"",          "1",
                        "1.2",       "1.2.3.4",
                        "v1.2.3",    "01.2.3",
                        "1.02.3",    "1.2.03",
                        "1.2.3-",    "1.2.3+",
                        "1.2.3-01",  "1.2.3-a..b",
                        "1.2.3-a.",  "1.2.3+a..b",
                        "1.2.3-a_b", "1.2.3+a b",
                        " 1.2.3",    "1.2.3 ",
                        "-1.2.3",    "+1.2.3",
                        "1.2.3-é",   "018446744073709551616.0.0",
                        "1.2.-3",    "a.b.c"})
    EXPECT_FALSE(parse_semver(s)) << s;
}

TEST(SemVer, ErrorNamesTheTextAndIsMalformed) {
  auto r = parse_semver("v1.2.3");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed);
  EXPECT_NE(r.error().message().find("v1.2.3"), std::string::npos);
}

TEST(SemVer, PrecedenceTableFromSemverOrg) {
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                           "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                           "1.0.0-rc.1",  "1.0.0",         "2.0.0",
                           "2.1.0",       "2.1.1",         "10.0.0"};
  const std::size_t n = std::size(ordered);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const int c = compare_semver(v(ordered[i]), v(ordered[j]));
      const int want = i < j ? -1 : (i == j ? 0 : 1);
      EXPECT_EQ((c > 0) - (c < 0), want) << ordered[i] << " vs " << ordered[j];
    }
}

TEST(SemVer, BuildMetadataIsIgnoredForPrecedence) {
  EXPECT_EQ(compare_semver(v("1.0.0+a"), v("1.0.0+b")), 0);
  EXPECT_EQ(compare_semver(v("1.0.0-rc.1+x"), v("1.0.0-rc.1")), 0);
}

TEST(SemVer, NumericIdentifiersCompareNumericallyEvenPastU64) {
  EXPECT_LT(compare_semver(v("1.0.0-9"), v("1.0.0-10")), 0);
  EXPECT_LT(compare_semver(v("1.0.0-99999999999999999999"), v("1.0.0-100000000000000000000")), 0);
  EXPECT_LT(compare_semver(v("1.0.0-999"), v("1.0.0-a")), 0);  // numeric < alphanumeric
  EXPECT_LT(compare_semver(v("1.0.0-B"), v("1.0.0-a")), 0);    // ASCII order
}

// SemVer bounds no number; the bundle format bounds only the whole version (64 bytes). A release
// numbered past 2^64 is valid and orders by its value.
TEST(SemVer, CoreNumbersPastU64AreValidAndCompareNumerically) {
  const SemVer big = v("99999999999999999999.0.0");
  EXPECT_EQ(big.major, "99999999999999999999");
  EXPECT_LT(compare_semver(v("18446744073709551615.0.0"), v("18446744073709551616.0.0")), 0);
  EXPECT_LT(compare_semver(v("4.5.3"), big), 0);
  EXPECT_LT(compare_semver(v("1.99999999999999999999.0"), v("1.100000000000000000000.0")), 0);
  EXPECT_EQ(compare_semver(v("1.2.18446744073709551616"), v("1.2.18446744073709551616+build")), 0);
  EXPECT_GT(compare_semver(v("1.2.18446744073709551617"), v("1.2.18446744073709551616")), 0);
}

}  // namespace
}  // namespace airlock

namespace airlock {
namespace {

TEST(SemVer, RefusesVersionsOverSixtyFourBytes) {
  const std::string at_limit = "1.0.0-" + std::string(kMaxVersionBytes - 6, 'a');
  ASSERT_EQ(at_limit.size(), kMaxVersionBytes);
  EXPECT_TRUE(parse_semver(at_limit));
  auto r = parse_semver(at_limit + "a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed);
  EXPECT_NE(r.error().what().find("over the limit of 64"), std::string::npos) << r.error().what();
  EXPECT_FALSE(parse_semver("1.0.0+" + std::string(300, 'b')));
}

}  // namespace
}  // namespace airlock

#include "core/sys/time.hpp"

#include <gtest/gtest.h>

namespace airlock {
namespace {

std::int64_t secs(const char* s) {
  auto t = parse_rfc3339(s);
  EXPECT_TRUE(t) << s;
  return t ? t->unix_seconds : -1;
}

TEST(Time, ParsesUtcAndOffsets) {
  EXPECT_EQ(secs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(secs("2026-05-06T10:00:00Z"), 1778061600);
  EXPECT_EQ(secs("2026-05-06T12:00:00+02:00"), 1778061600);
  EXPECT_EQ(secs("2026-05-06T05:30:00-04:30"), 1778061600);
  EXPECT_EQ(secs("2026-05-06t10:00:00z"), 1778061600);
  EXPECT_EQ(secs("2026-05-06 10:00:00Z"), 1778061600);  // TOML's space form
  EXPECT_EQ(secs("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(secs("2000-02-29T00:00:00Z"), 951782400);
  EXPECT_EQ(secs("9999-12-31T23:59:59Z"), 253402300799);
  EXPECT_EQ(secs("0000-01-01T00:00:00Z"), -62167219200);
}

TEST(Time, Fractions) {
  auto t = parse_rfc3339("2026-05-06T10:00:00.5Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->nanos, 500000000u);
  t = parse_rfc3339("2026-05-06T10:00:00.123456789123Z");  // truncated past nanoseconds
  ASSERT_TRUE(t);
  EXPECT_EQ(t->nanos, 123456789u);
  EXPECT_FALSE(parse_rfc3339("2026-05-06T10:00:00.Z"));
}

TEST(Time, RefusesOutOfRangeAndMalformed) {
  for (const char* s : {"",
                        "2026-05-06",
                        "2026-05-06T10:00:00",
                        "2026-05-06T10:00Z",
                        "2026-13-01T00:00:00Z",
                        "2026-00-01T00:00:00Z",
                        "2026-04-31T00:00:00Z",
                        "2026-02-29T00:00:00Z",
                        "1900-02-29T00:00:00Z",
                        "2026-01-00T00:00:00Z",
                        "2026-01-01T24:00:00Z",
                        "2026-01-01T00:60:00Z",
                        "2026-01-01T00:00:60Z",
                        "2026-01-01T00:00:00+24:00",
                        "2026-01-01T00:00:00+01:60",
                        "2026-01-01T00:00:00+0100",
                        "2026-01-01T00:00:00Zjunk",
                        "26-01-01T00:00:00Z",
                        "2026-1-01T00:00:00Z",
                        "2026-01-01X00:00:00Z",
                        "+2026-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(s)) << s;
}

TEST(Time, FormatRoundTripsInTheWrittenOffset) {
  for (const char* s : {"2026-05-06T10:00:00Z", "2026-05-06T12:00:00.5+02:00", "1969-12-31T23:59:59.000000001Z",
                        "2026-01-01T00:30:00-05:45", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00"}) {
    auto t = parse_rfc3339(s);
    ASSERT_TRUE(t) << s;
    EXPECT_EQ(format_rfc3339(*t), s);
  }
}

TEST(Time, ComparesInstantsNotWallClocks) {
  auto a = parse_rfc3339("2026-05-06T12:00:00+02:00");
  auto b = parse_rfc3339("2026-05-06T10:00:00Z");
  auto c = parse_rfc3339("2026-05-06T10:00:00.1Z");
  EXPECT_EQ(*a, *b);
  EXPECT_LT(*b, *c);
}

TEST(Time, NowIsAfter2024) { EXPECT_GT(now_utc().unix_seconds, 1704067200); }

TEST(Duration, Units) {
  EXPECT_EQ(parse_duration("300"), 300);
  EXPECT_EQ(parse_duration("90s"), 90);
  EXPECT_EQ(parse_duration("5m"), 300);
  EXPECT_EQ(parse_duration("2h"), 7200);
  EXPECT_EQ(parse_duration("1d"), 86400);
  EXPECT_EQ(parse_duration("0"), 0);
}

TEST(Duration, RefusesMalformed) {
  for (const char* s :
       {"", "s", "-5m", "+5m", "5 m", "5w", "1.5h", "5mm", "99999999999999999999", "999999999999999999d"})
    EXPECT_FALSE(parse_duration(s)) << s;
}

}  // namespace
}  // namespace airlock

// Wall times in a named time zone: the next occurrence of HH:MM (across midnight), a wall time in
// a DST gap (the first instant after it) and one read twice (the earlier instant), Europe/Berlin's
// 2026 changes (29 March 02:00 CET -> 03:00 CEST, 25 October 03:00 CEST -> 02:00 CET).
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/sys/local_time.hpp"

namespace airlock {
namespace {

Timestamp at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

std::string next(const char* tz, int hh, int mm, const char* now) {
  auto t = next_wall_time(tz, hh, mm, at(now));
  EXPECT_TRUE(t) << t.error().what();
  return t ? format_rfc3339(*t) : "";
}

TEST(LocalTime, NextOccurrenceIsTodayOrAcrossMidnight) {
  EXPECT_EQ(next("UTC", 23, 0, "2026-06-01T22:00:00Z"), "2026-06-01T23:00:00Z");
  EXPECT_EQ(next("UTC", 0, 10, "2026-06-01T23:50:00Z"), "2026-06-02T00:10:00Z");
  EXPECT_EQ(next("UTC", 23, 50, "2026-06-01T23:50:00Z"), "2026-06-02T23:50:00Z") << "now itself is not ahead";
  EXPECT_EQ(next("UTC", 0, 0, "2026-12-31T23:59:00Z"), "2027-01-01T00:00:00Z");
  // 23:50 local in Berlin (CEST) is 21:50 UTC; 00:10 local is the next local day.
  EXPECT_EQ(next("Europe/Berlin", 0, 10, "2026-06-01T21:50:00Z"), "2026-06-02T00:10:00+02:00");
  // At 23:30 UTC it is already 01:30 on 2 June in Berlin: 01:00 is 3 June's.
  EXPECT_EQ(next("Europe/Berlin", 1, 0, "2026-06-01T23:30:00Z"), "2026-06-03T01:00:00+02:00");
}

TEST(LocalTime, AWallTimeInADstGapIsTheFirstInstantAfterIt) {
  // 02:30 does not exist in Berlin on 29 March 2026: the clocks jump from 02:00 CET to 03:00 CEST.
  auto t = next_wall_time("Europe/Berlin", 2, 30, at("2026-03-28T23:00:00Z"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_seconds, at("2026-03-29T01:00:00Z").unix_seconds);
  EXPECT_EQ(format_rfc3339(*t), "2026-03-29T03:00:00+02:00");
  EXPECT_EQ(next("Europe/Berlin", 2, 0, "2026-03-28T23:00:00Z"), "2026-03-29T03:00:00+02:00");
  EXPECT_EQ(next("Europe/Berlin", 3, 0, "2026-03-28T23:00:00Z"), "2026-03-29T03:00:00+02:00");
  EXPECT_EQ(next("Europe/Berlin", 1, 59, "2026-03-28T23:00:00Z"), "2026-03-29T01:59:00+01:00");
}

TEST(LocalTime, AnAmbiguousWallTimeIsTheEarlierInstant) {
  // 02:30 happens twice in Berlin on 25 October 2026: first in CEST (00:30 UTC), then in CET.
  auto t = next_wall_time("Europe/Berlin", 2, 30, at("2026-10-24T22:00:00Z"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_seconds, at("2026-10-25T00:30:00Z").unix_seconds);
  EXPECT_EQ(format_rfc3339(*t), "2026-10-25T02:30:00+02:00");
  // Once the earlier one has passed, the later one is not "next": the next is a day later.
  EXPECT_EQ(next("Europe/Berlin", 2, 30, "2026-10-25T00:45:00Z"), "2026-10-26T02:30:00+01:00");
}

TEST(LocalTime, ShowsAnInstantWithTheZonesOffsetThen) {
  EXPECT_EQ(format_rfc3339(*in_zone("Europe/Berlin", at("2026-01-15T12:00:00Z"))), "2026-01-15T13:00:00+01:00");
  EXPECT_EQ(format_rfc3339(*in_zone("Europe/Berlin", at("2026-07-15T12:00:00Z"))), "2026-07-15T14:00:00+02:00");
  EXPECT_EQ(format_rfc3339(*in_zone("UTC", at("2026-07-15T12:00:00Z"))), "2026-07-15T12:00:00Z");
}

TEST(LocalTime, LeavesTheProcessTimeZoneAsItWas) {
  ::setenv("TZ", "America/New_York", 1);
  ASSERT_TRUE(next_wall_time("Europe/Berlin", 2, 0, at("2026-06-01T00:00:00Z")));
  EXPECT_STREQ(std::getenv("TZ"), "America/New_York");
  ::unsetenv("TZ");
  ASSERT_TRUE(in_zone("Europe/Berlin", at("2026-06-01T00:00:00Z")));
  EXPECT_EQ(std::getenv("TZ"), nullptr);
}

TEST(LocalTime, RefusesUnknownZonesAndPaths) {
  for (const char* tz : {"Mars/Olympus", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "", "Europe/Berlin\n"}) {
    auto s = check_time_zone(tz);
    ASSERT_FALSE(s) << tz;
    EXPECT_EQ(s.error().cls(), ErrorClass::usage);
  }
  EXPECT_TRUE(check_time_zone("UTC"));
  EXPECT_TRUE(check_time_zone("Europe/Berlin"));
  EXPECT_FALSE(next_wall_time("UTC", 24, 0, at("2026-06-01T00:00:00Z")));
  EXPECT_FALSE(next_wall_time("UTC", 0, 60, at("2026-06-01T00:00:00Z")));
}

}  // namespace
}  // namespace airlock

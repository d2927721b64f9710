// status shows the site's pending scheduled job (its release, its time in UTC and in the site's
// zone, its preflight time), and nothing once the job is cancelled.
#include <gtest/gtest.h>

#include <regex>

#include "applier/schedule.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

TEST(StatusScheduled, ShowsThePendingJobInUtcAndTheSiteZone) {
  SiteDir s;
  spit(s.site, std::regex_replace(slurp(s.site), std::regex("channel = \"recommended\"\n"),
                                  "channel = \"recommended\"\ntimezone = \"America/Sao_Paulo\"\n"));
  auto none = applier::status(s.site);
  ASSERT_TRUE(none) << none.error().what();
  EXPECT_FALSE(none->scheduled);

  applier::ScheduleRequest req;
  req.bundle = bundles().v110;
  req.at = "2099-01-01T05:00:00Z";
  auto added = applier::schedule_add(s.site, req, quiet_env());
  ASSERT_TRUE(added) << added.error().what();
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << st.error().what();
  ASSERT_TRUE(st->scheduled);
  const auto& j = *st->scheduled;
  EXPECT_EQ(j.id, added->job.id);
  EXPECT_EQ(j.state, "pending");
  EXPECT_EQ(j.version, "1.1.0");
  EXPECT_EQ(j.staged, added->job.staged);
  EXPECT_EQ(j.at, "2099-01-01T05:00:00Z");
  EXPECT_EQ(j.at_local, "2099-01-01T02:00:00-03:00");
  EXPECT_EQ(j.preflight_at, "2099-01-01T04:30:00Z");
  EXPECT_EQ(j.preflight_local, "2099-01-01T01:30:00-03:00");
  EXPECT_EQ(j.timezone, "America/Sao_Paulo");
  EXPECT_EQ(j.preflight_done, "");

  ASSERT_TRUE(applier::schedule_cancel(s.site, j.id, quiet_env()));
  auto after = applier::status(s.site);
  ASSERT_TRUE(after) << after.error().what();
  EXPECT_FALSE(after->scheduled) << "a cancelled job is not pending";
}

}  // namespace
}  // namespace airlock::test

// "Critical?" from the manifest's flag and an optional feed flag: a feed may raise it, never lower it.
#include <gtest/gtest.h>

#include "applier/lifecycle.hpp"

namespace airlock::test {

TEST(Lifecycle, FeedRaisesCriticalNeverLowersIt) {
  EXPECT_FALSE(applier::is_critical(false, std::nullopt));
  EXPECT_TRUE(applier::is_critical(true, std::nullopt));
  EXPECT_TRUE(applier::is_critical(false, true));
  EXPECT_TRUE(applier::is_critical(true, false));
  EXPECT_FALSE(applier::is_critical(false, false));
}

}  // namespace airlock::test

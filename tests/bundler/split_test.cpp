// The sizes of a split build (spec §9): what --split accepts, and where the parts are cut.
#include "bundler/split.hpp"

#include <gtest/gtest.h>

using namespace airlock;
using namespace airlock::bundler;

TEST(SplitSize, NamedSizeUnitsAndRefusals) {
  EXPECT_EQ(*parse_split_size("fat32"), 4294967295u);
  EXPECT_EQ(*parse_split_size("1048576"), 1048576u);
  EXPECT_EQ(*parse_split_size("700M"), 700u << 20);
  EXPECT_EQ(*parse_split_size("2GiB"), 2ull << 30);
  EXPECT_EQ(*parse_split_size("64k"), 64u << 10);
  for (const char* bad : {"", "M", "-1M", "1.5G", "3x", "1 G", "99999999999999999999", "17179869184G"}) {
    auto r = parse_split_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << bad;
  }
  EXPECT_TRUE(check_split_size(kFat32MaxFileBytes, false));
  EXPECT_FALSE(check_split_size(kFat32MaxFileBytes + 1, false));
  EXPECT_TRUE(check_split_size(kFat32MaxFileBytes + 1, true));
  EXPECT_FALSE(check_split_size(kMinSplitBytes - 1, true));
}

TEST(SplitSize, PartOneLeavesRoomForSignaturesAndTheRestAreFull) {
  const std::uint64_t p = 1 << 20;
  EXPECT_EQ(split_sizes(10, p), (std::vector<std::uint64_t>{10}));
  EXPECT_EQ(split_sizes(p - kSplitHeadroomBytes, p), (std::vector<std::uint64_t>{p - kSplitHeadroomBytes}));
  EXPECT_EQ(split_sizes(p - kSplitHeadroomBytes + 1, p), (std::vector<std::uint64_t>{p - kSplitHeadroomBytes, 1}));
  const auto s = split_sizes(5 * p, p);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0], p - kSplitHeadroomBytes);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_EQ(s[i], p);
  EXPECT_EQ(s[5], kSplitHeadroomBytes);
}

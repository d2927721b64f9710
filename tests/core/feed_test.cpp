// feed.toml (spec §10): the strict parser refuses what the spec does not allow, naming the key;
// the canonical writer is a function of the feed alone and parses back to it.
#include "core/model/feed.hpp"

#include <gtest/gtest.h>

#include "tests/support/craft.hpp"

namespace airlock {
namespace {

const std::string kHash(64, 'a');
const std::string kHash2(64, 'b');

std::string sample() {
  return "format = \"airlock-feed/1\"\nproduct = \"bench\"\nserial = 17\npublished = 2026-05-06T12:00:00Z\n"
         "[[entries]]\nversion = \"4.5.3\"\nfile = \"bench-4.5.3.tar.zst\"\nsha256 = \"" +
         kHash + "\"\nsize = 192937984\nparts = [\"" + kHash + "\", \"" + kHash2 +
         "\"]\nchannel = \"recommended\"\ncritical = false\ndeprecated = false\n";
}

Feed two_entries() {
  Feed f;
  f.product = "bench";
  f.serial = 3;
  f.published = test::craft::ts("2026-05-06T12:00:00Z");
  f.entries.push_back({"4.10.0", "bench-4.10.0.tar.zst", kHash, 10, {}, Channel::beta, true, false});
  f.entries.push_back({"4.9.1", "bench-4.9.1.tar.zst", kHash2, 20, {kHash, kHash2}, Channel::recommended, false, true});
  return f;
}

void expect_malformed(const std::string& text, const std::string& names) {
  auto f = parse_feed(text);
  ASSERT_FALSE(f) << text;
  EXPECT_EQ(f.error().cls(), ErrorClass::malformed);
  EXPECT_NE(f.error().what().find(names), std::string::npos) << f.error().what();
}

TEST(Feed, ParsesTheSpecExample) {
  auto f = parse_feed(sample());
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_EQ(f->product, "bench");
  EXPECT_EQ(f->serial, 17);
  ASSERT_EQ(f->entries.size(), 1u);
  EXPECT_EQ(f->entries[0].size, 192937984u);
  EXPECT_EQ(f->entries[0].parts.size(), 2u);
  EXPECT_EQ(f->entries[0].channel, Channel::recommended);
}

TEST(Feed, FlagsAndPartsAreOptional) {
  auto f = parse_feed(
      "format = \"airlock-feed/1\"\nproduct = \"bench\"\nserial = 1\npublished = "
      "2026-05-06T12:00:00Z\n[[entries]]\nversion = \"1.0.0\"\nfile = \"b.tar.zst\"\nsha256 = \"" +
      kHash + "\"\nsize = 5\nchannel = \"beta\"\n");
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_FALSE(f->entries[0].critical);
  EXPECT_FALSE(f->entries[0].deprecated);
  EXPECT_TRUE(f->entries[0].parts.empty());
}

TEST(Feed, RenderIsCanonicalAndRoundTrips) {
  Feed f = two_entries();
  const auto text = render_feed(f);
  std::swap(f.entries[0], f.entries[1]);
  EXPECT_EQ(render_feed(f), text) << "entry order in memory must not change the bytes";
  auto back = parse_feed(text);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(render_feed(*back), text);
  // SemVer order, not text order: 4.9.1 before 4.10.0.
  EXPECT_LT(text.find("4.9.1"), text.find("4.10.0"));
}

TEST(Feed, UnknownKeysAreRefusedByName) {
  expect_malformed(sample() + "extra = 1\n", "extra");
  auto s = sample();
  s.insert(s.find("channel ="), "signed_by = \"x\"\n");
  expect_malformed(s, "entries[0].signed_by");
}

TEST(Feed, WrongTypesAreRefusedByName) {
  auto s = sample();
  s.replace(s.find("serial = 17"), 11, "serial = \"17\"");
  expect_malformed(s, "serial");
  s = sample();
  s.replace(s.find("size = 192937984"), 16, "size = 1.5");
  expect_malformed(s, "entries[0].size");
  s = sample();
  s.replace(s.find("critical = false"), 16, "critical = \"no\"");
  expect_malformed(s, "entries[0].critical");
  s = sample();
  s.replace(s.find("parts = [\""), 10, "parts = [1, \"");
  expect_malformed(s, "entries[0].parts[0]");
  s = sample();
  s.replace(s.find("published = 2026-05-06T12:00:00Z"), 32, "published = 2026-05-06T12:00:00");
  expect_malformed(s, "published");
}

TEST(Feed, ValueRulesAreRefused) {
  auto with = [](std::string from, std::string to) {
    auto s = sample();
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  expect_malformed(with("airlock-feed/1", "airlock-feed/2"), "format");
  expect_malformed(with("product = \"bench\"", "product = \"Bench!\""), "product");
  expect_malformed(with("serial = 17", "serial = -1"), "serial");
  expect_malformed(with("version = \"4.5.3\"", "version = \"4.5\""), "entries[0].version");
  expect_malformed(with("bench-4.5.3.tar.zst", "../bench.tar.zst"), "entries[0].file");
  expect_malformed(with("sha256 = \"" + kHash, "sha256 = \"" + std::string(64, 'A')), "entries[0].sha256");
  expect_malformed(with("size = 192937984", "size = -5"), "entries[0].size");
  expect_malformed(with("channel = \"recommended\"", "channel = \"stable\""), "entries[0].channel");
  expect_malformed(with("\", \"" + kHash2 + "\"]", "\"]"), "entries[0].parts");
  const auto s = sample();
  expect_malformed(s + s.substr(s.find("[[entries]]")), "listed twice");
}

TEST(Feed, ByteRulesOfTheFrontDoor) {
  expect_malformed("\xEF\xBB\xBF" + sample(), "byte-order mark");
  expect_malformed(std::string(kMaxFeedBytes + 1, '#'), "feed.toml");
  expect_malformed("format = ", "feed.toml");
}

}  // namespace
}  // namespace airlock

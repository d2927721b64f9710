// Split transport (spec §9): a bundle cut into parts whose concatenation is the bundle, read back
// as one stream by core's split source; part 1 keeps the head's headroom; sizes of 4 GiB or more
// are refused without force; `fat32` is 4 GiB - 1.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>

#include "bundler/split.hpp"
#include "core/container/container.hpp"
#include "tests/bundler/bundler_fixture.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

std::string random_bytes(std::size_t n) {
  std::mt19937_64 g(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  return s;
}

std::string read_source(const std::string& path) {
  auto src = open_source(path);
  EXPECT_TRUE(src) << (src ? "" : src.error().what());
  if (!src) return "";
  std::string out;
  std::vector<char> buf(1 << 16);
  for (;;) {
    auto n = (*src)->read(buf.data(), buf.size());
    EXPECT_TRUE(n);
    if (!n || *n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

}  // namespace

TEST(Split, PartsConcatenateToTheBundleAndPartOneKeepsHeadroom) {
  RecipeDir d;
  d.file("blob.bin", random_bytes(1100 << 10));  // incompressible: the bundle stays over 1 MiB
  auto r = build_with(d.recipe("[[files]]\nfrom = \"blob.bin\"\n"), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  const std::string whole = slurp(d.out());
  const std::uint64_t part = 256 << 10;
  auto parts = bundler::split_bundle(d.out(), part, bundler::SplitForce::no);
  ASSERT_TRUE(parts) << parts.error().what();
  ASSERT_GE(parts->size(), 5u);
  EXPECT_FALSE(fs::exists(d.out()));
  EXPECT_EQ(fs::file_size((*parts)[0]), part - bundler::kHeadHeadroom);
  std::string joined;
  for (std::size_t i = 0; i < parts->size(); ++i) {
    EXPECT_LE(fs::file_size((*parts)[i]), part);
    joined += slurp((*parts)[i]);
  }
  EXPECT_EQ(joined, whole);
  EXPECT_EQ((*parts)[0], d.out() + ".part0001");
  EXPECT_EQ(read_source(d.out()), whole) << "read as one stream, never joined on disk";
}

TEST(Split, SizesAreParsedAndLimited) {
  EXPECT_EQ(bundler::parse_part_size("fat32"), 4294967295ull);
  EXPECT_EQ(bundler::parse_part_size("512K"), 512ull << 10);
  EXPECT_EQ(bundler::parse_part_size("2G"), 2ull << 30);
  EXPECT_EQ(bundler::parse_part_size("1000"), 1000ull);
  EXPECT_FALSE(bundler::parse_part_size("1.5G"));
  EXPECT_FALSE(bundler::parse_part_size("G"));
  EXPECT_FALSE(bundler::parse_part_size("99999999999999999999"));
  RecipeDir d;
  ASSERT_TRUE(build_with(d.recipe(""), d.out(), {demo_key("demo-hq")}));
  auto big = bundler::split_bundle(d.out(), 4ull << 30, bundler::SplitForce::no);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().cls(), ErrorClass::usage);
  auto tiny = bundler::split_bundle(d.out(), bundler::kHeadHeadroom, bundler::SplitForce::no);
  ASSERT_FALSE(tiny);
  EXPECT_TRUE(fs::exists(d.out())) << "a refused split leaves the bundle";
  auto fat = bundler::split_bundle(d.out(), 4294967295ull, bundler::SplitForce::no);
  ASSERT_TRUE(fat) << fat.error().what();
  EXPECT_EQ(fat->size(), 1u);
}

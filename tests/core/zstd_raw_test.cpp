// zstd_raw_frame: stored frames that libzstd, stock zstd and our own reader decode to the input,
// at every block-boundary size, with the length zstd_raw_frame_size promises.
#include <gtest/gtest.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <string>

#include "core/container/container.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock {
namespace {

std::string sample(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

constexpr std::size_t kSizes[] = {0, 1, 255, 256, 65791, 65792, 131071, 131072, 131073, 300000, 1 << 20};

TEST(ZstdRawFrame, LibzstdDecodesEveryBoundarySizeToTheInput) {
  for (std::size_t n : kSizes) {
    const std::string in = sample(n);
    const std::string frame = zstd_raw_frame(in);
    EXPECT_EQ(frame.size(), zstd_raw_frame_size(n)) << n;
    EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size()) << n;
    ZSTD_frameHeader fh{};
    ASSERT_EQ(ZSTD_getFrameHeader(&fh, frame.data(), frame.size()), 0u) << n;
    EXPECT_EQ(fh.windowSize, 128u << 10);
    EXPECT_EQ(fh.frameContentSize, ZSTD_CONTENTSIZE_UNKNOWN);
    std::string out(n + 16, '\0');
    const std::size_t got = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
    ASSERT_FALSE(ZSTD_isError(got)) << n << ": " << ZSTD_getErrorName(got);
    out.resize(got);
    EXPECT_EQ(out, in) << n;
  }
}

TEST(ZstdRawFrame, StockZstdAndOurReaderDecodeConcatenatedFrames) {
  test::TempDir dir;
  std::string all, expect;
  for (std::size_t n : kSizes) {
    const std::string in = sample(n);
    all += zstd_raw_frame(in);
    expect += in;
  }
  const auto path = dir / "frames.zst";
  test::spit(path, all);
  test::spit(dir / "plain", expect);
  auto r = test::run("zstd -q -dc " + path.string() + " | sha256sum");
  auto plain = test::run("sha256sum < " + (dir / "plain").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, plain.output);
  auto src = open_source(path.string());
  ASSERT_TRUE(src) << src.error().what();
  ZstdReader z(**src);
  std::string got(expect.size() + 1, '\0');
  std::size_t off = 0;
  for (;;) {
    auto n = z.read(got.data() + off, got.size() - off);
    ASSERT_TRUE(n) << n.error().what();
    if (*n == 0) break;
    off += *n;
  }
  got.resize(off);
  EXPECT_EQ(got, expect);
}

}  // namespace
}  // namespace airlock

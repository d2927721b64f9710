// ZstdFrameWriter: frames stock zstd accepts, and the same bytes whatever the worker count and
// however the input is chunked (bundles are reproducible).
#include <fcntl.h>

#include <gtest/gtest.h>

#include <random>

#include "core/sys/fd.hpp"
#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

// Compressible but not trivial: libzstd has real work to do in every job.
std::string sample(std::size_t n) {
  std::string s;
  s.reserve(n + 64);
  std::mt19937 rng(7);
  while (s.size() < n) s += "entry " + std::to_string(rng() % 50000) + (rng() % 3 ? " ok\n" : " fail\n");
  s.resize(n);
  return s;
}

// Compresses `data` in chunks of the given sizes (cycled), in two frames split at `split`.
std::string compress(const std::string& path, const std::string& data, int workers, std::vector<std::size_t> chunks,
                     std::size_t split) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  EXPECT_TRUE(fd.valid());
  auto w = ZstdFrameWriter::create(fd.get(), path, {3, workers});
  EXPECT_TRUE(w);
  std::size_t pos = 0, i = 0;
  bool split_done = false;
  while (pos < data.size()) {
    std::size_t limit = split_done ? data.size() : split;
    std::size_t n = std::min(chunks[i++ % chunks.size()], limit - pos);
    EXPECT_TRUE((*w)->write(data.data() + pos, n));
    pos += n;
    if (pos == split && !split_done) {
      EXPECT_TRUE((*w)->end_frame());
      split_done = true;
    }
  }
  EXPECT_TRUE((*w)->end_frame());
  fd.reset();
  return slurp(path);
}

TEST(ZstdFrameWriter, StockZstdDecompressesItToTheInput) {
  TempDir dir;
  const std::string data = sample(3'000'000);
  const std::string out = (dir / "x.zst").string();
  compress(out, data, 1, {1 << 20}, 1000);
  auto t = run("zstd -q -t '" + out + "'");
  EXPECT_EQ(t.status, 0) << t.output;
  auto d = run("zstd -q -dc '" + out + "' > '" + (dir / "x").string() + "'");
  ASSERT_EQ(d.status, 0) << d.output;
  EXPECT_EQ(slurp(dir / "x"), data);
  auto r = read_container(slurp(out));  // not a tar: the reader must fail on the tar, not the zstd
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what().find("zstd"), std::string::npos) << r.error().what();
}

// The output does not depend on the worker count (0 is taken as 1) or on how the writes are cut:
// 72 MiB is 72 frames, so two and three workers really split the work.
TEST(ZstdFrameWriter, BytesDoNotDependOnWorkersOrChunking) {
  TempDir dir;
  const std::string block = sample(3u << 20);
  std::string data;
  for (int i = 0; data.size() < (72u << 20); ++i) data += "copy " + std::to_string(i) + "\n" + block;
  const std::string one = compress((dir / "1").string(), data, 1, {1 << 20}, 1u << 20);
  const std::string zero = compress((dir / "0").string(), data, 0, {1 << 22}, 1u << 20);
  const std::string two = compress((dir / "2").string(), data, 2, {777, 1 << 22, 65536, 3}, 1u << 20);
  const std::string three = compress((dir / "3").string(), data, 3, {(1 << 20) + 1, 12345}, 1u << 20);
  // (EXPECT_TRUE, not EXPECT_EQ: a failure should not print megabytes.)
  EXPECT_TRUE(zero == one) << "workers 0 vs 1: " << zero.size() << " vs " << one.size() << " bytes";
  EXPECT_TRUE(two == one) << "workers 2 vs 1: " << two.size() << " vs " << one.size() << " bytes";
  EXPECT_TRUE(three == one) << "workers 3 vs 1: " << three.size() << " vs " << one.size() << " bytes";
  auto r = run("zstd -q -t '" + (dir / "1").string() + "'");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(ZstdFrameWriter, EmptyFrameIsAValidFrame) {
  TempDir dir;
  const std::string out = (dir / "e.zst").string();
  Fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  auto w = ZstdFrameWriter::create(fd.get(), out, {});
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->end_frame());
  EXPECT_GT((*w)->compressed_bytes(), 0u);
  auto src = open_source(out);
  ASSERT_TRUE(src);
  ZstdReader z(**src);
  char c;
  auto n = z.read(&c, 1);
  ASSERT_TRUE(n) << n.error().what();
  EXPECT_EQ(*n, 0u);
}

TEST(ZstdFrameWriter, WriteErrorsAreIoErrors) {
  Fd fd(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  auto w = ZstdFrameWriter::create(fd.get(), "/dev/full", {});
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write("abc", 3));
  auto s = (*w)->end_frame();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::io);
  EXPECT_NE(s.error().what().find("/dev/full"), std::string::npos) << s.error().what();
}

}  // namespace
}  // namespace airlock::test

namespace airlock::test {
namespace {

// Spec §1: writers keep the window at most 8 MiB, whatever the level (level 19 alone would pick
// a larger one). Ours also write the checksum, and frames of kWriterFrameBytes that say so.
TEST(ZstdFrameWriter, WindowChecksumAndContentSizeAtEveryLevel) {
  TempDir dir;
  const std::string data = sample(200000);  // below kWriterFrameBytes: one frame
  for (int level : {1, 3, 19}) {
    const std::string out = (dir / ("l" + std::to_string(level))).string();
    Fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    auto w = ZstdFrameWriter::create(fd.get(), out, {level, 1});
    ASSERT_TRUE(w) << w.error().what();
    ASSERT_TRUE((*w)->write(data.data(), data.size()));
    ASSERT_TRUE((*w)->end_frame());
    const std::string bytes = slurp(out);
    ZSTD_frameHeader fh{};
    ASSERT_EQ(ZSTD_getFrameHeader(&fh, bytes.data(), bytes.size()), 0u);
    EXPECT_LE(fh.windowSize, 1ull << kWriterWindowLog) << "level " << level;
    EXPECT_EQ(fh.checksumFlag, 1u) << "level " << level;
    EXPECT_EQ(fh.frameContentSize, data.size()) << "level " << level;
    EXPECT_EQ(ZSTD_findFrameCompressedSize(bytes.data(), bytes.size()), bytes.size());
  }
}

}  // namespace
}  // namespace airlock::test

namespace airlock::test {
namespace {

// Frames are cut every kWriterFrameBytes of input, and each states its content size, so a reader
// can decompress each frame on its own into a buffer of that size.
TEST(ZstdFrameWriter, CutsAFrameEveryFrameBytes) {
  TempDir dir;
  const std::string data = sample(kWriterFrameBytes * 2 + 1000);
  const std::string bytes = compress((dir / "f").string(), data, 2, {300000}, data.size());
  std::vector<unsigned long long> sizes;
  for (std::size_t at = 0; at < bytes.size();) {
    ZSTD_frameHeader fh{};
    ASSERT_EQ(ZSTD_getFrameHeader(&fh, bytes.data() + at, bytes.size() - at), 0u);
    sizes.push_back(fh.frameContentSize);
    const std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + at, bytes.size() - at);
    ASSERT_FALSE(ZSTD_isError(n));
    at += n;
  }
  EXPECT_EQ(sizes, (std::vector<unsigned long long>{kWriterFrameBytes, kWriterFrameBytes, 1000}));
}

}  // namespace
}  // namespace airlock::test

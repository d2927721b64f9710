// ZstdReader: the frame rules of spec §1 (no skippable frames, window ≤ 2^27, nothing after the
// last frame, no truncation) and the frame-end bookkeeping `sign` depends on.
#include <gtest/gtest.h>

#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

Result<std::string> decompress_all(const std::string& bytes, std::size_t chunk = 1 << 16) {
  auto src = memory_source(bytes, "t.zst");
  ZstdReader z(*src);
  std::string out, buf(chunk, '\0');
  for (;;) {
    auto n = z.read(buf.data(), buf.size());
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

void expect_malformed(const std::string& bytes, const std::string& reason) {
  auto r = decompress_all(bytes);
  ASSERT_FALSE(r) << "accepted, expected: " << reason;
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
  EXPECT_NE(r.error().what().find(reason), std::string::npos) << r.error().what();
}

std::string pseudo_text(std::size_t n) {
  std::string s;
  std::uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245u + 12345u;
    s += "word" + std::to_string((x >> 16) % 1000) + ' ';
  }
  s.resize(n);
  return s;
}

TEST(ZstdReader, ReadsConcatenatedFramesIncludingEmptyOnes) {
  std::string a = pseudo_text(300000), b = "second", c;
  auto r = decompress_all(zst(a) + zst(c) + zst(b) + raw_frame("raw", 20));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, a + b + "raw");
  // One byte at a time too: the output buffer size must not matter.
  auto r1 = decompress_all(zst(a.substr(0, 5000)) + zst(b), 1);
  ASSERT_TRUE(r1) << r1.error().what();
  EXPECT_EQ(*r1, a.substr(0, 5000) + b);
}

// Empty frames are valid zstd, and spec §1 does not forbid them, but each yields nothing: up to
// kMaxEmptyFrames are read through, in either form (content size 0, or a single empty raw block);
// one more makes the stream malformed, naming the limit.
std::string empty_frames(std::uint64_t n) {
  std::string s;
  for (std::uint64_t i = 0; i < n; ++i) s += i % 2 ? zst("") : raw_frame("", 17);
  return s;
}

TEST(ZstdReader, EmptyFramesUpToTheLimitAreReadThrough) {
  const std::uint64_t half = kMaxEmptyFrames / 2;
  auto r = decompress_all(empty_frames(half) + zst("data") + empty_frames(kMaxEmptyFrames - half));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, "data");
}

TEST(ZstdReader, OneEmptyFrameOverTheLimitIsMalformed) {
  const std::uint64_t half = kMaxEmptyFrames / 2;
  expect_malformed(empty_frames(half) + zst("data") + empty_frames(kMaxEmptyFrames - half + 1),
                   "over the limit of " + std::to_string(kMaxEmptyFrames) + " empty zstd frames");
  expect_malformed(empty_frames(kMaxEmptyFrames + 1) + zst("data"), "empty zstd frames");
}

TEST(ZstdReader, RefusesEmptyInputAndNonZstd) {
  expect_malformed("", "empty input");
  expect_malformed("hello world, not zstd at all", "not a zstd stream");
}

TEST(ZstdReader, RefusesSkippableFramesAnywhere) {
  std::string f = zst("payload"), s = skippable_frame("hidden");
  expect_malformed(s + f, "skippable frame at offset 0");
  expect_malformed(f + s + f, "skippable frame at offset " + std::to_string(f.size()));
  expect_malformed(f + s, "skippable frame at offset " + std::to_string(f.size()));
  // Every skippable magic (0x184D2A50..5F) counts.
  std::string s2 = s;
  s2[0] = 0x5F;
  expect_malformed(f + s2, "skippable frame");
}

TEST(ZstdReader, WindowLimitIs2To27) {
  auto ok = decompress_all(raw_frame("big window ok", 27));
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(*ok, "big window ok");
  expect_malformed(raw_frame("too big", 28), "window of 268435456 bytes, over the limit");
  expect_malformed(zst("x") + raw_frame("too big", 31), "window of 2147483648");
}

TEST(ZstdReader, WindowLimitAppliesToRealCompressedFrames) {
  // A frame compressed for real with windowLog 28 (content size unknown, so the window stays).
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 28);
  ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1);
  std::string in = pseudo_text(1000), out(ZSTD_compressBound(in.size()) + 64, '\0');
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
  std::size_t left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
  ZSTD_freeCCtx(c);
  ASSERT_EQ(left, 0u);
  out.resize(ob.pos);
  expect_malformed(out, "window of 268435456 bytes");
}

TEST(ZstdReader, RefusesTrailingGarbage) {
  std::string f = zst("payload");
  expect_malformed(f + "garbage!", "trailing bytes after the last zstd frame");
  expect_malformed(f + std::string(1, '\0'), "trailing bytes");
  expect_malformed(f + std::string(100, '\0'), "trailing bytes");
  // A partial magic at the very end is a truncated frame.
  expect_malformed(f + f.substr(0, 3), "truncated");
}

TEST(ZstdReader, RefusesTruncationInsideAFrame) {
  std::string f = zst(pseudo_text(200000));
  for (std::size_t cut : {std::size_t{4}, std::size_t{6}, f.size() / 2, f.size() - 4, f.size() - 1})
    expect_malformed(zst("head") + f.substr(0, cut), "truncated");
}

TEST(ZstdReader, RefusesCorruptData) {
  std::string f = zst(pseudo_text(5000));
  f[f.size() - 2] ^= 0x55;  // inside the checksum
  auto r = decompress_all(f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
}

TEST(ZstdReader, TracksFrameEnds) {
  std::string f1 = zst("manifest-bytes"), f2 = zst("sig"), f3 = zst(pseudo_text(100000));
  auto src = memory_source(f1 + f2 + f3);
  ZstdReader z(*src);
  EXPECT_TRUE(z.at_frame_end());
  char buf[64];
  // Reads never cross a frame end, and reading exactly a frame's content lands on its end.
  auto n = z.read(buf, 8);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 8u);
  EXPECT_FALSE(z.at_frame_end());
  n = z.read(buf, 6);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 6u);
  EXPECT_TRUE(z.at_frame_end());
  EXPECT_EQ(z.compressed_offset_of_frame_end(), f1.size());
  n = z.read(buf, sizeof buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, *n), "sig");
  EXPECT_TRUE(z.at_frame_end());
  EXPECT_EQ(z.compressed_offset_of_frame_end(), f1.size() + f2.size());
  EXPECT_EQ(z.decompressed_bytes(), 17u);
  n = z.read(buf, 10);
  ASSERT_TRUE(n);
  EXPECT_FALSE(z.at_frame_end());
  EXPECT_EQ(z.compressed_offset_of_frame_end(), f1.size() + f2.size());
}

// Interop: what stock `zstd` writes (multi-frame file made by concatenation) reads back.
TEST(ZstdReader, ReadsStockZstdOutput) {
  TempDir dir;
  spit(dir / "a", pseudo_text(1 << 20));
  spit(dir / "b", "tail\n");
  auto p = run("cd '" + dir.str() + "' && zstd -q -6 -c a > ab.zst && zstd -q -c b >> ab.zst");
  ASSERT_EQ(p.status, 0) << p.output;
  auto r = decompress_all(slurp(dir / "ab.zst"));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, pseudo_text(1 << 20) + "tail\n");
}

}  // namespace
}  // namespace airlock::test

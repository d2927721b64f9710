// ZstdReader with an OrderedPool: frames that fit a block are decompressed ahead on the pool's
// threads. The promise is that this changes speed only: every input, valid or broken,
// gives the same bytes and then the same error (class and words) as the reader without a pool.
// Each test below reads the same input both ways and compares; with a pool, both from memory and
// from a real file, which the reader then maps instead of reading (core/sys/mapped_file.hpp), and
// from the same bytes cut into the parts of a split bundle, which it maps one after the other.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>

#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/mapped_file.hpp"
#include "core/sys/ordered_pool.hpp"
#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

struct Outcome {
  std::string bytes;
  std::optional<ErrorClass> cls;
  std::string what;
};

bool is_prefix(const std::string& a, const std::string& b) { return b.compare(0, a.size(), a) == 0; }

// "N trailing bytes after ...": the count is given only when the reader knows it exactly, which
// depends on how much of the input it holds (all of it, when the file is mapped).
std::string without_count(const std::string& what) {
  const auto digits = what.find_first_not_of("0123456789");
  if (digits > 0 && digits != std::string::npos && what.compare(digits, 16, " trailing bytes ") == 0)
    return what.substr(digits + 1);
  return what;
}

// A valid stream gives the same bytes. Before an error, libzstd itself hands out more or fewer of
// a corrupt frame's good bytes depending on the room each read gives it (a call that fails does
// not count what it wrote), with or without a pool; so there the bytes must agree as far as both
// go, and the error must be the same, word for word.
void expect_same(const Outcome& want, const Outcome& got, const std::string& how) {
  if (!want.cls) {
    EXPECT_TRUE(got.bytes == want.bytes) << how << ": " << got.bytes.size() << " bytes, " << want.bytes.size()
                                         << " without a pool";
  } else {
    EXPECT_TRUE(is_prefix(got.bytes, want.bytes) || is_prefix(want.bytes, got.bytes))
        << how << ": " << got.bytes.size() << " bytes before the error, " << want.bytes.size()
        << " without a pool, and they differ";
  }
  EXPECT_EQ(got.cls.has_value(), want.cls.has_value()) << how << ": " << got.what << " | " << want.what;
  if (got.cls && want.cls) {
    EXPECT_EQ(*got.cls, *want.cls) << how;
    EXPECT_EQ(without_count(got.what), without_count(want.what)) << how;
  }
}

Outcome fail_with(Outcome o, const Error& e) {
  o.cls = e.cls();
  o.what = e.what();
  return o;
}

// The input as the reader gets it: from memory, or from the file `path` that holds the same bytes
// (then mapped, when it is not empty). Either way the source is named `path`.
std::unique_ptr<Source> source(const std::string& input, const std::string& path, bool from_file) {
  if (!from_file) return memory_source(input, path);
  auto src = open_source(path);
  EXPECT_TRUE(src) << src.error().what();
  EXPECT_EQ((*src)->mapping() != nullptr, !input.empty());
  return std::move(*src);
}

Outcome read_all(Source& src, std::size_t chunk, OrderedPool* pool) {
  ZstdReader z(src, pool);
  Outcome o;
  std::string buf(chunk, '\0');
  for (;;) {
    auto n = z.read(buf.data(), buf.size());
    if (!n) return fail_with(std::move(o), n.error());
    if (*n == 0) return o;
    o.bytes.append(buf.data(), *n);
  }
}

Outcome by_reads(const std::string& input, const std::string& path, bool from_file, std::size_t chunk,
                 OrderedPool* pool) {
  auto src = source(input, path, from_file);
  return read_all(*src, chunk, pool);
}

Outcome views_all(Source& src, std::size_t max, OrderedPool& pool) {
  ZstdReader z(src, &pool);
  Outcome o;
  for (;;) {
    auto v = z.read_view(max);
    if (!v) return fail_with(std::move(o), v.error());
    if (v->len == 0) return o;
    EXPECT_LE(v->len, max);
    o.bytes.append(v->data, v->len);
  }
}

Outcome by_views(const std::string& input, const std::string& path, bool from_file, std::size_t max,
                 OrderedPool& pool) {
  auto src = source(input, path, from_file);
  return views_all(*src, max, pool);
}

// The same input, read without a pool (the reference) and with one, by reads and by views of
// several sizes.
// `input` written as the parts of the split bundle `bundle`, cut before each offset in `cuts`.
void write_parts(const std::string& input, const std::string& bundle, const std::vector<std::size_t>& cuts) {
  std::size_t from = 0;
  unsigned n = 0;
  for (std::size_t to : cuts) {
    spit(part_name(bundle, ++n), input.substr(from, to - from));
    from = to;
  }
  spit(part_name(bundle, ++n), input.substr(from));
}

// The parts read with a pool (each part mapped in turn) give what reading them without one gives:
// cut inside the first frame's magic number and header, into a part of a single byte, and inside
// frames (`more`: also into five equal parts).
void check_parts_same(const std::string& input, const std::string& label, OrderedPool& pool, bool more) {
  const std::size_t n = input.size();
  std::vector<std::vector<std::size_t>> layouts{{2, 11, n / 3, n / 3 + 1, 2 * n / 3}};
  if (more) layouts.push_back({n / 5, 2 * n / 5, 3 * n / 5, 4 * n / 5});
  for (const auto& cuts : layouts) {
    if (cuts.front() == 0 || cuts.back() >= n || !std::is_sorted(cuts.begin(), cuts.end(), std::less_equal<>()))
      continue;  // an empty part: such a bundle is read, not mapped
    TempDir dir;
    const std::string bundle = (dir / "p.zst").string();
    write_parts(input, bundle, cuts);
    auto reference = open_source(bundle);
    ASSERT_TRUE(reference) << reference.error().what();
    const Outcome want = read_all(**reference, 1 << 16, nullptr);
    const std::string how = label + ", " + std::to_string(cuts.size() + 1) + " mapped parts";
    {
      auto src = open_source(bundle);
      ASSERT_TRUE(src) << src.error().what();
      ASSERT_NE((*src)->mapping(), nullptr);
      expect_same(want, read_all(**src, 70000, &pool), how + ", reads");
    }
    auto src = open_source(bundle);
    ASSERT_TRUE(src) << src.error().what();
    expect_same(want, views_all(**src, 1 << 20, pool), how + ", views");
  }
}

// Views are kept until the end, as the verifier's hash jobs keep them for a while.
void check_same(const std::string& input, const std::string& label, bool all_parts = false) {
  // (Reads smaller than a frame: given room for a whole frame, libzstd decodes it in one pass, and
  // a corrupt frame then gives no bytes at all before its error.)
  TempDir dir;
  const std::string path = (dir / "t.zst").string();
  {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(write_all(fd.get(), input.data(), input.size(), path));
  }
  const Outcome want = by_reads(input, path, false, 1 << 16, nullptr);
  OrderedPool pool(2);
  for (bool from_file : {false, true}) {
    const std::string how = label + (from_file ? ", mapped file" : ", memory");
    for (std::size_t chunk : {std::size_t{512}, std::size_t{70000}, std::size_t{1} << 20})
      expect_same(want, by_reads(input, path, from_file, chunk, &pool), how + ", reads of " + std::to_string(chunk));
    for (std::size_t max : {std::size_t{4096}, std::size_t{1} << 20})
      expect_same(want, by_views(input, path, from_file, max, pool), how + ", views of " + std::to_string(max));
  }
  check_parts_same(input, label, pool, all_parts);
}

std::string text(std::size_t n, std::uint32_t seed) {
  std::string s;
  std::uint32_t x = seed;
  while (s.size() < n) {
    x = x * 1103515245u + 12345u;
    s += "line " + std::to_string((x >> 16) % 5000) + ((x >> 8) % 3 ? " ok\n" : " failed\n");
  }
  s.resize(n);
  return s;
}

std::string noise(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Our writer's frames: 1 MiB each, content size stated, checksum on (every one goes to the pool).
std::string written(const std::string& data) {
  TempDir dir;
  const std::string path = (dir / "w.zst").string();
  {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    auto w = ZstdFrameWriter::create(fd.get(), path, {3, 2});
    EXPECT_TRUE(w);
    EXPECT_TRUE((*w)->write(data.data(), data.size()));
    EXPECT_TRUE((*w)->end_frame());
  }
  return slurp(path);
}

// A stream of every kind of frame: raw head frames, pool frames (text and noise), one frame too
// large for a block (streamed), an empty frame, then pool frames again.
std::string mixed() {
  return raw_frame("head", 17) + written(text(2'500'000, 1) + noise(700'000, 2)) + zst(text(3'000'000, 3)) + zst("") +
         written(noise(1'200'000, 4));
}

TEST(ZstdReaderPool, ValidStreamsReadTheSame) {
  check_same(written(text(3'500'000, 5)), "writer's frames", true);
  check_same(mixed(), "mixed frames", true);
  check_same(zst("just one small frame"), "one frame", true);
}

// Empty frames are counted in stream order, the pool's frames or not: the same frame breaks the
// limit, with the same words.
TEST(ZstdReaderPool, EmptyFramesCountTheSameWay) {
  std::string empties;
  for (std::uint64_t i = 0; i + 1 < kMaxEmptyFrames; ++i) empties += i % 2 ? zst("") : raw_frame("", 17);
  const std::string good = mixed();
  check_same(empties + good + zst(""), "empty frames up to the limit");
  check_same(empties + good + zst("") + zst("") + written(text(100'000, 6)), "one empty frame over the limit");
  check_same(empties + zst("") + zst("") + good, "over the limit before any data");
}

TEST(ZstdReaderPool, FlippedBytesFailTheSameWay) {
  const std::string good = mixed();
  // Everywhere, and at the start of each of the first frames (headers, block headers).
  for (std::size_t i = 0; i < 40; ++i) {
    std::string bad = good;
    const std::size_t at = 5 + i * (good.size() - 10) / 40;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    check_same(bad, "byte " + std::to_string(at) + " flipped");
  }
  for (std::size_t at : {std::size_t{0}, std::size_t{4}, std::size_t{5}, std::size_t{14}, std::size_t{20}}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    check_same(bad, "byte " + std::to_string(at) + " flipped");
  }
}

TEST(ZstdReaderPool, TruncatedStreamsFailTheSameWay) {
  const std::string good = mixed();
  for (std::size_t i = 1; i < 25; ++i) {
    const std::size_t keep = i * good.size() / 25;
    check_same(good.substr(0, keep), "cut at " + std::to_string(keep));
  }
  check_same(good.substr(0, good.size() - 1), "last byte cut");
}

TEST(ZstdReaderPool, WhatFollowsTheLastFrameFailsTheSameWay) {
  const std::string good = written(text(1'500'000, 6));
  check_same(good + "garbage after the frames", "trailing bytes");
  check_same(good + skippable_frame("skip me"), "skippable frame");
  check_same(good + raw_frame("big window", 28), "window over 2^27");
  check_same(good + std::string("\x28\xb5", 2), "half a magic number");
  check_same(std::string(), "empty input");
}

// A mapped file is all there: the count of trailing bytes is exact, and given.
TEST(ZstdReaderPool, AMappedFileCountsItsTrailingBytes) {
  TempDir dir;
  const std::string path = (dir / "t.zst").string();
  const std::string frames = written(text(1'500'000, 9));
  spit(path, frames + "garbage after the frames");
  auto src = open_source(path);
  ASSERT_TRUE(src);
  ASSERT_NE((*src)->mapping(), nullptr);
  OrderedPool pool(2);
  const Outcome o = by_views(frames, path, true, 1 << 20, pool);
  ASSERT_TRUE(o.cls);
  EXPECT_EQ(o.what, "24 trailing bytes after the last zstd frame at " + path + ": offset " +
                        std::to_string(frames.size()) + " (not a zstd frame)");
}

std::uint64_t rss_file_kib() {
  std::istringstream in(slurp("/proc/self/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("RssFile:", 0) == 0) return std::stoull(line.substr(8));
  return 0;
}

// The mapped pages behind the reader are dropped as it goes, also inside one large frame (a
// foreign writer's, streamed on the reading thread): the file's pages in our RSS stay bounded by
// the 8 MiB windows, not by the file.
TEST(ZstdReaderPool, AMappedFileIsReleasedBehindTheReaderInsideALargeFrame) {
  TempDir dir;
  const std::string path = (dir / "big.zst").string();
  spit(path, zst(noise(48u << 20, 10), 1));  // one frame, stored: about 48 MiB
  auto src = open_source(path);
  ASSERT_TRUE(src);
  ASSERT_NE((*src)->mapping(), nullptr);
  OrderedPool pool(2);
  ZstdReader z(**src, &pool);
  const std::uint64_t before = rss_file_kib();
  std::uint64_t most = before, total = 0;
  for (;;) {
    auto v = z.read_view(1 << 20);
    ASSERT_TRUE(v) << v.error().what();
    if (v->len == 0) break;
    total += v->len;
    most = std::max(most, rss_file_kib());
  }
  EXPECT_EQ(total, 48u << 20);
  EXPECT_LT(most - before, 32u << 10) << "KiB of the 48 MiB file mapped at once";
}

// The pool only changes where the bytes are decompressed: views name the pool thread whose
// cache holds them, and frames are decompressed ahead of the reader.
TEST(ZstdReaderPool, ViewsOfPoolFramesNameTheirThread) {
  const std::string input = written(text(4'000'000, 7));
  OrderedPool pool(2);
  auto src = memory_source(input, "t.zst");
  ZstdReader z(*src, &pool);
  std::size_t views = 0;
  for (;;) {
    auto v = z.read_view(1 << 20);
    ASSERT_TRUE(v) << v.error().what();
    if (v->len == 0) break;
    ++views;
    EXPECT_TRUE(v->thread == 0 || v->thread == 1) << v->thread;
  }
  EXPECT_EQ(views, 4u);  // one per 1 MiB frame
}

// A bundle file that shrinks while the reader has it mapped (overwritten with `cp`, say) must end
// the stream with an io error naming the file, as a read(2) would, not kill the process with
// SIGBUS. Here it shrinks after the first view, to less than the first frame; the frames decoded
// ahead before that are handed out, the rest fail, and the failure stays.
TEST(ZstdReaderPool, AMappedFileThatShrinksIsAnIoErrorNotACrash) {
  TempDir dir;
  const std::string path = (dir / "b.zst").string();
  spit(path, written(noise(7'000'000, 8)));  // 7 frames, about 1 MiB each, incompressible
  auto src = open_source(path);
  ASSERT_TRUE(src);
  ASSERT_NE((*src)->mapping(), nullptr);
  OrderedPool pool(2);
  ZstdReader z(**src, &pool);
  auto first = z.read_view(1 << 20);
  ASSERT_TRUE(first) << first.error().what();
  ASSERT_GT(first->len, 0u);
  ASSERT_EQ(::truncate(path.c_str(), 500'000), 0);
  std::optional<Error> err;
  std::size_t got = first->len;
  for (int i = 0; i < 20 && !err; ++i) {
    auto v = z.read_view(1 << 20);
    if (!v) {
      err = v.error();
    } else {
      ASSERT_GT(v->len, 0u) << "the stream ended cleanly after " << got << " bytes";
      got += v->len;
    }
  }
  ASSERT_TRUE(err) << "read all " << got << " bytes of a file cut to 500,000";
  EXPECT_EQ(err->cls(), ErrorClass::io) << err->what();
  EXPECT_NE(err->what().find(path + ": could not read the bytes at offset"), std::string::npos) << err->what();
  EXPECT_NE(err->what().find("the file shrank from"), std::string::npos) << err->what();
  EXPECT_NE(err->what().find(" to 500000 bytes"), std::string::npos) << err->what();
  EXPECT_LT(got, 7'000'000u);
  auto again = z.read_view(1 << 20);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::io);
}

// A mapped part that shrinks is an io error naming that part, as a whole file's is.
TEST(ZstdReaderPool, AMappedPartThatShrinksIsAnIoErrorNamingIt) {
  TempDir dir;
  const std::string bundle = (dir / "b.zst").string();
  // Part 1 holds far more than the frames the reader takes ahead of the first view (else it could be
  // done with part 1 before the shrink, and rightly read the stream to its end).
  const std::string input = written(noise(14'000'000, 8));
  write_parts(input, bundle, {input.size() * 6 / 7});
  auto src = open_source(bundle);
  ASSERT_TRUE(src);
  ASSERT_NE((*src)->mapping(), nullptr);
  OrderedPool pool(2);
  ZstdReader z(**src, &pool);
  auto first = z.read_view(1 << 20);
  ASSERT_TRUE(first) << first.error().what();
  const std::string part = part_name(bundle, 1);
  ASSERT_EQ(::truncate(part.c_str(), 500'000), 0);
  std::optional<Error> err;
  for (int i = 0; i < 20 && !err; ++i) {
    auto v = z.read_view(1 << 20);
    if (!v)
      err = v.error();
    else
      ASSERT_GT(v->len, 0u) << "the stream ended cleanly";
  }
  ASSERT_TRUE(err);
  EXPECT_EQ(err->cls(), ErrorClass::io) << err->what();
  EXPECT_NE(err->what().find(part + ": could not read the bytes at offset"), std::string::npos) << err->what();
}

}  // namespace
}  // namespace airlock::test

// The verifier's helper threads: HashingSource reads and hashes the compressed bytes
// ahead of the decompressor, HashWorker hashes and writes payload files behind it, on the pool
// threads that decompressed them. Both must hand
// over exactly the bytes, in order, and report a failure where the single-threaded code would.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/sys/ordered_pool.hpp"
#include "core/sys/sys.hpp"
#include "tests/support/tmpdir.hpp"
#include "verifier/hash_worker.hpp"
#include "verifier/hashing_source.hpp"

namespace airlock::verifier {
namespace {

// Pseudo-random bytes, several chunks long and not a multiple of the chunk size.
std::string sample(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Fails once `fail_at` bytes have been handed out.
class FailingSource final : public Source {
 public:
  FailingSource(std::string bytes, std::size_t fail_at) : bytes_(std::move(bytes)), fail_at_(fail_at) {}
  Result<std::size_t> read(void* buf, std::size_t len) override {
    if (pos_ >= fail_at_) return fail(ErrorClass::io, "read 'stick.tar.zst': Input/output error");
    const std::size_t n = std::min({len, bytes_.size() - pos_, fail_at_ - pos_});
    std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::string name() const override { return "stick.tar.zst"; }

 private:
  std::string bytes_;
  std::size_t fail_at_;
  std::size_t pos_ = 0;
};

TEST(HashingSource, HandsOverEveryByteInOrderAndHashesThemAll) {
  const std::string data = sample(HashingSource::kChunks * HashingSource::kChunkBytes * 2 + 4321);
  auto inner = memory_source(data, "b.tar.zst");
  HashingSource src(*inner, true);
  EXPECT_EQ(src.name(), "b.tar.zst");
  std::string got;
  std::vector<char> buf(100'003);  // reads that straddle the chunks
  for (;;) {
    auto n = src.read(buf.data(), buf.size());
    ASSERT_TRUE(n) << n.error().what();
    if (*n == 0) break;
    got.append(buf.data(), *n);
  }
  EXPECT_EQ(got, data);
  auto again = src.read(buf.data(), buf.size());  // the end stays the end
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
  EXPECT_EQ(src.bytes(), data.size());
  EXPECT_EQ(src.hex_digest(), to_hex(sha256(data)));
}

// ZstdReader hands over its whole (empty) input buffer: a full chunk is swapped in, a partly read
// one (or a buffer of another size) copied; either way the same bytes in the same order.
TEST(HashingSource, RefillSwapsWholeChunksAndMixesWithRead) {
  const std::string data = sample(HashingSource::kChunkBytes * 6 + 999);
  auto inner = memory_source(data);
  HashingSource src(*inner, true);
  std::string got;
  ByteBuffer whole(HashingSource::kChunkBytes), odd(12345);
  std::vector<char> small(1000);
  for (int i = 0;; ++i) {
    Result<std::size_t> n = std::size_t{0};
    if (i % 3 == 0) {
      n = src.refill(whole);
      if (n) got.append(reinterpret_cast<const char*>(whole.data()), *n);
      EXPECT_EQ(whole.size(), HashingSource::kChunkBytes);
    } else if (i % 3 == 1) {
      n = src.read(small.data(), small.size());  // leaves the chunk partly read
      if (n) got.append(small.data(), *n);
    } else {
      n = src.refill(odd);
      if (n) got.append(reinterpret_cast<const char*>(odd.data()), *n);
    }
    ASSERT_TRUE(n) << n.error().what();
    if (*n == 0) break;
  }
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
  EXPECT_EQ(src.hex_digest(), to_hex(sha256(data)));
}

TEST(HashingSource, AReadErrorArrivesAfterTheBytesBeforeIt) {
  const std::string data = sample(3 * HashingSource::kChunkBytes);
  const std::size_t fail_at = HashingSource::kChunkBytes + 777;
  FailingSource inner(data, fail_at);
  HashingSource src(inner, true);
  std::string got;
  std::vector<char> buf(65536);
  for (;;) {
    auto n = src.read(buf.data(), buf.size());
    if (!n) {
      EXPECT_EQ(n.error().cls(), ErrorClass::io);
      EXPECT_NE(n.error().what().find("stick.tar.zst"), std::string::npos) << n.error().what();
      break;
    }
    ASSERT_NE(*n, 0u) << "the end was reported instead of the error";
    got.append(buf.data(), *n);
  }
  EXPECT_EQ(got, data.substr(0, fail_at));
  EXPECT_FALSE(src.read(buf.data(), buf.size()));  // and it stays an error
}

// A view of `bytes` as the reader hands them out: it keeps them alive, and names a pool thread.
ZstdReader::View view_of(std::shared_ptr<const std::string> bytes, std::size_t at, std::size_t n, int thread) {
  return ZstdReader::View{bytes->data() + at, n, bytes, thread};
}

TEST(HashWorker, GoodFilesPassAndTheFirstBadDigestIsTheOneReported) {
  OrderedPool pool(2);
  HashWorker w(pool);
  const std::string a = sample(HashWorker::kChunkBytes * 2 + 5), b = "hello\n", c = sample(1000);
  int thread = 0;
  auto feed = [&](const std::string& label, const std::string& bytes, const std::string& expect) {
    auto held = std::make_shared<const std::string>(bytes);
    w.begin(label, expect, std::nullopt);
    for (std::size_t at = 0; at < bytes.size(); at += HashWorker::kChunkBytes) {
      const std::size_t n = std::min(HashWorker::kChunkBytes, bytes.size() - at);
      w.submit(view_of(held, at, n, thread));  // blocks alternate between the threads, as frames do
      thread = 1 - thread;
    }
    w.end();
  };
  feed("entry 4 'a'", a, to_hex(sha256(a)));
  feed("entry 5 'b'", b, to_hex(sha256("not b")));
  feed("entry 6 'c'", c, to_hex(sha256("not c either")));
  auto s = w.drain();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::integrity);
  EXPECT_EQ(s.error().what().rfind("entry 5 'b': SHA-256 " + to_hex(sha256(b)), 0), 0u) << s.error().what();
  EXPECT_TRUE(w.failed());  // the streamer stops feeding a failed worker
}

// A file's blocks hashed on alternating threads still give its digest (the jobs run in order).
TEST(HashWorker, MatchingDigestsDrainClean) {
  OrderedPool pool(2);
  HashWorker w(pool);
  for (int i = 0; i < 20; ++i) {
    auto f = std::make_shared<const std::string>(sample(700'000 + static_cast<std::size_t>(i)));
    w.begin("f", to_hex(sha256(*f)), std::nullopt);
    for (std::size_t at = 0; at < f->size(); at += 100'000)
      w.submit(view_of(f, at, std::min<std::size_t>(100'000, f->size() - at), static_cast<int>(at / 100'000) % 2));
    w.end();
  }
  EXPECT_TRUE(w.drain());
  EXPECT_FALSE(w.failed());
}

// Staging: each file's blocks, decompressed on alternating threads, land at their offsets, and
// the files are closed with exactly their bytes (the writes run beside the hashing, not in it).
TEST(HashWorker, StagedFilesGetExactlyTheirBytes) {
  test::TempDir tmp;
  auto staging = Staging::open((tmp / "stage").string());
  ASSERT_TRUE(staging) << staging.error().what();
  std::vector<std::shared_ptr<const std::string>> files;
  {
    OrderedPool pool(2);
    HashWorker w(pool);
    for (int i = 0; i < 12; ++i) {
      auto f = std::make_shared<const std::string>(sample(i == 3 ? 0 : 300'000 * static_cast<std::size_t>(i) + 17));
      files.push_back(f);
      auto out = (*staging)->create_file("d/f" + std::to_string(i), false);
      ASSERT_TRUE(out) << out.error().what();
      w.begin("f" + std::to_string(i), to_hex(sha256(*f)), std::move(*out));
      for (std::size_t at = 0; at < f->size(); at += 65'536)
        w.submit(view_of(f, at, std::min<std::size_t>(65'536, f->size() - at), static_cast<int>(at / 65'536) % 2));
      w.end();
    }
    ASSERT_TRUE(w.drain());
  }
  ASSERT_TRUE((*staging)->commit());
  for (std::size_t i = 0; i < files.size(); ++i)
    EXPECT_TRUE(test::slurp(tmp / "stage" / "d" / ("f" + std::to_string(i))) == *files[i]) << "file f" << i;
}

// A write that fails (the disk is full) is the error drain() reports, naming the file; nothing
// after it is written.
TEST(HashWorker, AFailedStagingWriteIsReportedWithItsFile) {
  test::TempDir tmp;
  auto staging = Staging::open((tmp / "stage").string());
  ASSERT_TRUE(staging) << staging.error().what();
  auto a = std::make_shared<const std::string>(sample(1'000'000));
  auto b = std::make_shared<const std::string>(sample(500'000));
  auto out_a = (*staging)->create_file("a", false);
  auto out_b = (*staging)->create_file("b", false);
  ASSERT_TRUE(out_a && out_b);
  Status s;
  {
    sys::ArmedFault full({ENOSPC, 3, /*sticky=*/true});  // the third write onwards
    OrderedPool pool(2);
    HashWorker w(pool);
    w.begin("entry 4 'a'", to_hex(sha256(*a)), std::move(*out_a));
    for (std::size_t at = 0; at < a->size(); at += 200'000)
      w.submit(view_of(a, at, std::min<std::size_t>(200'000, a->size() - at), static_cast<int>(at / 200'000) % 2));
    w.end();
    w.begin("entry 5 'b'", to_hex(sha256(*b)), std::move(*out_b));
    w.submit(view_of(b, 0, b->size(), 0));
    w.end();
    s = w.drain();
    EXPECT_TRUE(w.failed());
  }
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what().find("entry 4 'a'"), std::string::npos) << s.error().what();
  EXPECT_NE(s.error().what().find("No space left on device"), std::string::npos) << s.error().what();
  EXPECT_EQ(std::filesystem::file_size(tmp / "stage" / Staging::kPartial / "b"), 0u);  // never committed
}

// Two failures in two lanes: file A's digest is wrong (hashing lane), and the disk is full from
// file B's first write on (writing lane, which runs ahead). The error reported is A's, the
// earlier in the stream, however the lanes were timed; within one file a failed write comes
// before the file's digest check, as it did when both were one chain.
TEST(HashWorker, TheEarliestFailureInTheStreamIsReportedWhicheverLaneMetItFirst) {
  const auto a = std::make_shared<const std::string>(sample(20 * HashWorker::kChunkBytes));
  const auto b = std::make_shared<const std::string>(sample(3 * HashWorker::kChunkBytes));
  for (int round = 0; round < 10; ++round) {
    test::TempDir tmp;
    auto staging = Staging::open((tmp / "stage").string());
    ASSERT_TRUE(staging) << staging.error().what();
    auto out_a = (*staging)->create_file("a", false);
    auto out_b = (*staging)->create_file("b", false);
    ASSERT_TRUE(out_a && out_b);
    const bool write_fails_in_a = round % 2 == 1;
    Status s;
    {
      // A is written in 20 pwrite calls, each faster than hashing its block; with blocks that
      // any thread may take (streamed frames), the writing lane is at B's first write (call 21)
      // well before the hashing lane reaches A's end.
      sys::ArmedFault full({ENOSPC, write_fails_in_a ? 3u : 21u, /*sticky=*/true});
      OrderedPool pool(2);
      HashWorker w(pool);
      w.begin("entry 4 'a'", to_hex(sha256("not a")), std::move(*out_a));
      for (std::size_t at = 0; at < a->size(); at += HashWorker::kChunkBytes)
        w.submit(view_of(a, at, HashWorker::kChunkBytes, OrderedPool::kAnyThread));
      w.end();
      w.begin("entry 5 'b'", to_hex(sha256(*b)), std::move(*out_b));
      for (std::size_t at = 0; at < b->size(); at += HashWorker::kChunkBytes)
        w.submit(view_of(b, at, HashWorker::kChunkBytes, OrderedPool::kAnyThread));
      w.end();
      s = w.drain();
    }
    ASSERT_FALSE(s);
    if (write_fails_in_a) {
      EXPECT_EQ(s.error().cls(), ErrorClass::io) << s.error().what();
      EXPECT_NE(s.error().what().find("entry 4 'a'"), std::string::npos) << s.error().what();
    } else {
      EXPECT_EQ(s.error().cls(), ErrorClass::integrity) << "round " << round << ": " << s.error().what();
      EXPECT_EQ(s.error().what().rfind("entry 4 'a': SHA-256 ", 0), 0u) << s.error().what();
    }
  }
}

}  // namespace
}  // namespace airlock::verifier

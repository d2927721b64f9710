// core/blob: the streaming decorators (hash, limit, count) and the content-addressed blob store,
// including a sweep that fails every mutating call of a put and of an adopt in turn (EIO, ENOSPC):
// the store then holds the blob intact or not at all, never a temporary, and a retry succeeds.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "core/blob/store.hpp"
#include "core/blob/stream.hpp"
#include "core/sys/sys.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

namespace fs = std::filesystem;
using blob::BlobStore;

constexpr int kFaults[] = {EIO, ENOSPC};

class BytesReader final : public blob::Reader {
 public:
  explicit BytesReader(std::string s) : s_(std::move(s)) {}
  Result<std::size_t> read(void* buf, std::size_t len) override {
    // Small steps, so that the decorators see several reads.
    const std::size_t n = std::min({len, s_.size() - pos_, std::size_t{3}});
    std::copy_n(s_.data() + pos_, n, static_cast<char*>(buf));
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t pos_ = 0;
};

std::string digest_of(const std::string& s) { return blob::digest_text(sha256(s)); }

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

Result<std::string> drain(blob::Reader& r) {
  std::string out;
  AIRLOCK_CHECK(blob::copy(r,
                           [&](const void* p, std::size_t n) -> Status {
                             out.append(static_cast<const char*>(p), n);
                             return {};
                           }),
                "draining");
  return out;
}

TEST(BlobStream, DigestTextIsStrict) {
  const std::string hex(64, 'a');
  EXPECT_EQ(blob::digest_hex("sha256:" + hex), hex);
  EXPECT_FALSE(blob::digest_hex("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(blob::digest_hex("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(blob::digest_hex("sha512:" + hex));
  EXPECT_FALSE(blob::digest_hex("sha256:../../" + std::string(58, 'a')));
}

TEST(BlobStream, LimitPassesExactlyTheLimitAndRefusesOneByteMore) {
  BytesReader exact("0123456789");
  blob::LimitReader ok(exact, 10, ErrorClass::malformed, "ten");
  ASSERT_EQ(drain(ok).value(), "0123456789");
  BytesReader longer("0123456789x");
  blob::LimitReader over(longer, 10, ErrorClass::integrity, "ten");
  auto r = drain(over);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity);
  EXPECT_NE(r.error().what().find("more than 10 bytes"), std::string::npos) << r.error().what();
}

TEST(BlobStream, HashingAndCountingSeeEveryByte) {
  BytesReader in("hello blob");
  blob::CountingReader count(in);
  blob::HashingReader h(count);
  ASSERT_TRUE(drain(h));
  EXPECT_EQ(count.count(), 10u);
  BytesReader again("hello blob");
  blob::HashingReader h2(again);
  ASSERT_TRUE(drain(h2));
  EXPECT_TRUE(h2.check(digest_of("hello blob"), "x"));
  BytesReader other("hello blob");
  blob::HashingReader h3(other);
  ASSERT_TRUE(drain(h3));
  auto s = h3.check(digest_of("hello blub"), "layer");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::integrity);
}

TEST(BlobStore, StoresEachBlobOnceUnderItsDigest) {
  TempDir d;
  auto store = BlobStore::open(d.str()).value();
  auto a = store.put_bytes("layer A").value();
  EXPECT_EQ(a, digest_of("layer A"));
  EXPECT_EQ(slurp(store.path_of(a)), "layer A");
  EXPECT_EQ(store.put_bytes("layer A").value(), a);
  auto b = store.put_bytes("config B").value();
  auto listed = store.list().value();
  std::vector<std::string> want{a, b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(listed, want);
  EXPECT_EQ(files_in(d / "ingest"), 0u);
  EXPECT_TRUE(store.has(a).value());
  EXPECT_FALSE(store.has(digest_of("nothing")).value());
  EXPECT_FALSE(store.has("sha256:../x"));
}

TEST(BlobStore, RefusesContentThatIsNotTheExpectedDigestOrTooLong) {
  TempDir d;
  auto store = BlobStore::open(d.str()).value();
  BytesReader in("tampered");
  auto r = store.put(in, digest_of("original"), 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity);
  BytesReader big("0123456789");
  auto r2 = store.put(big, std::nullopt, 9);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().cls(), ErrorClass::malformed);
  EXPECT_TRUE(store.list().value().empty());
  EXPECT_EQ(files_in(d / "ingest"), 0u);
}

TEST(BlobStore, VerifyFindsADamagedBlob) {
  TempDir d;
  auto store = BlobStore::open(d.str()).value();
  auto a = store.put_bytes("layer A").value();
  EXPECT_TRUE(store.verify(a));
  spit(store.path_of(a), "layer B");
  auto s = store.verify(a);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::integrity);
  auto missing = store.verify(digest_of("absent"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().cls(), ErrorClass::io);
  ASSERT_TRUE(store.remove(a));
  EXPECT_FALSE(store.has(a).value());
}

TEST(BlobStore, AdoptRenamesWithoutCopying) {
  TempDir d;
  auto store = BlobStore::open((d / "store").string()).value();
  const auto staged = d / "store-staging-blob";
  spit(staged, "big layer");
  struct stat before {};
  ASSERT_EQ(::stat(staged.c_str(), &before), 0);
  const auto digest = digest_of("big layer");
  ASSERT_TRUE(store.adopt(staged.string(), digest).value());
  struct stat after {};
  ASSERT_EQ(::stat(store.path_of(digest).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_FALSE(fs::exists(staged));
  spit(staged, "big layer");
  EXPECT_FALSE(store.adopt(staged.string(), digest).value());  // already stored: left alone
  EXPECT_TRUE(fs::exists(staged));
}

// After a failed (or successful) put: the blob is intact or absent, nothing is left in ingest.
void expect_intact_or_absent(const BlobStore& store, const fs::path& root, const std::string& digest) {
  EXPECT_EQ(files_in(root / "ingest"), 0u);
  EXPECT_LE(files_in(root / "blobs/sha256"), 1u);
  if (store.has(digest).value()) {
    EXPECT_TRUE(store.verify(digest));
  }
}

TEST(BlobStore, EveryFailedCallOfAPutLeavesTheBlobIntactOrAbsent) {
  const std::string content(3 << 20, 'z');  // several writes
  const std::string digest = digest_of(content);
  std::uint64_t n = 0;
  {
    TempDir d;
    auto store = BlobStore::open(d.str()).value();
    sys::ArmedFault count({});
    ASSERT_TRUE(store.put_bytes(content));
    n = count.calls();
  }
  ASSERT_GE(n, 4u);  // mkostemp, writes, fsync, rename, fsync folder
  for (int err : kFaults) {
    for (std::uint64_t k = 1; k <= n; ++k) {
      SCOPED_TRACE("fail call " + std::to_string(k) + " with " + std::to_string(err));
      TempDir d;
      auto store = BlobStore::open(d.str()).value();
      Result<std::string> r = fail(ErrorClass::internal, "not run");
      {
        sys::ArmedFault f({err, k});
        r = store.put_bytes(content);
        EXPECT_TRUE(f.fired());
      }
      if (!r) {
        EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
      }
      expect_intact_or_absent(store, d.path(), digest);
      ASSERT_EQ(store.put_bytes(content).value(), digest);
      EXPECT_TRUE(store.verify(digest));
    }
  }
}

TEST(BlobStore, AFailedAdoptLeavesTheSourceInPlace) {
  for (int err : kFaults) {
    TempDir d;
    auto store = BlobStore::open((d / "store").string()).value();
    const auto staged = d / "staged";
    spit(staged, "layer");
    {
      sys::ArmedFault f({err, 1});  // the rename
      ASSERT_FALSE(store.adopt(staged.string(), digest_of("layer")));
    }
    EXPECT_TRUE(fs::exists(staged));
    EXPECT_FALSE(store.has(digest_of("layer")).value());
  }
}

}  // namespace
}  // namespace airlock::test

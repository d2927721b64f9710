// The reading stack end to end: sources (a file, split parts per spec §9), and every prefix and
// every single-byte corruption of a small valid bundle-shaped stream (ninja's truncation sweep).
#include <fcntl.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "core/sys/fd.hpp"
#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

// manifest frame, signature frame, payload frame: as the bundler lays a bundle out.
std::string small_bundle(const std::string& dir) {
  const std::string path = dir + "/small.tar.zst";
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  auto z = ZstdFrameWriter::create(fd.get(), path, {});
  auto t = TarWriter::create(z->get());
  auto put = [&](const std::string& name, const std::string& data) {
    EXPECT_TRUE((*t)->begin_entry({name, data.size(), false, 1767225600}));
    EXPECT_TRUE((*t)->write_data(data.data(), data.size()));
    EXPECT_TRUE((*t)->end_entry());
  };
  put("manifest.toml", "format = \"airlock-bundle/1\"\n");
  EXPECT_TRUE((*z)->end_frame());
  put("signatures/0000000000000001.minisig", "sig\n");
  EXPECT_TRUE((*z)->end_frame());
  put("notes/en.md", "# hello\n");
  put("empty", "");
  EXPECT_TRUE((*t)->finish());
  EXPECT_TRUE((*z)->end_frame());
  return slurp(path);
}

Result<ReadBack> read_file_source(const std::string& path) {
  auto src = open_source(path);
  if (!src) return tl::unexpected(src.error());
  std::string all;
  char buf[4096];
  for (;;) {  // concatenate what the source yields; then parse that through the whole stack
    auto n = (*src)->read(buf, sizeof buf);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) break;
    all.append(buf, *n);
  }
  return read_container(all);
}

TEST(Container, SmallBundleReadsBack) {
  TempDir dir;
  auto r = read_container(small_bundle(dir.str()));
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->entries.size(), 4u);
  EXPECT_EQ(r->entries[2], (std::pair<std::string, std::string>{"notes/en.md", "# hello\n"}));
}

TEST(Container, EveryTruncationIsMalformed) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    auto r = read_container(bytes.substr(0, len));
    ASSERT_FALSE(r) << "a prefix of " << len << " of " << bytes.size() << " bytes was accepted";
    EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << len << ": " << r.error().what();
  }
}

TEST(Container, EveryByteCorruptionIsRefusedOrHarmless) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  auto good = read_container(bytes);
  ASSERT_TRUE(good);
  std::size_t refused = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ x);
      auto r = read_container(bad);
      if (!r) {
        ++refused;
        EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << i << ": " << r.error().what();
      } else {
        // Only bits that do not reach the content (e.g. a larger but allowed window) may pass.
        EXPECT_EQ(r->entries, good->entries) << "byte " << i << " changed the content undetected";
      }
    }
  }
  EXPECT_GT(refused, bytes.size() * 2);
}

// The same at the tar level: every byte of the uncompressed archive flipped, then compressed
// afresh, so each change reaches the tar parser. Refused as malformed, or parsed (e.g. a mode digit
// or a data byte changed): never a crash, never another class.
TEST(Container, EveryTarByteCorruptionIsRefusedOrParsed) {
  struct Mem : ByteSink {
    std::string bytes;
    Status write(const void* d, std::size_t n) override {
      bytes.append(static_cast<const char*>(d), n);
      return {};
    }
  } mem;
  auto t = TarWriter::create(&mem);
  for (auto [name, data] : {std::pair<std::string, std::string>{"manifest.toml", "format = 1\n"},
                            {"signatures/0000000000000001.minisig", "sig\n"},
                            {"notes/" + std::string(120, 'n'), "# hello\n"},
                            {"empty", ""}}) {
    ASSERT_TRUE((*t)->begin_entry({name, data.size(), false, 1767225600}));
    ASSERT_TRUE((*t)->write_data(data.data(), data.size()));
    ASSERT_TRUE((*t)->end_entry());
  }
  ASSERT_TRUE((*t)->finish());
  const std::string tar = mem.bytes;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < tar.size(); ++i) {
    std::string bad = tar;
    bad[i] = static_cast<char>(bad[i] ^ (i % 2 ? 0x80 : 0x01));  // a low and a high bit, alternately
    auto r = read_container(zst(bad, 1));
    if (!r) {
      ++refused;
      EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << i << ": " << r.error().what();
    }
  }
  EXPECT_GT(refused, tar.size() / 2);
}

TEST(Container, OpenSourceReadsAFile) {
  TempDir dir;
  small_bundle(dir.str());
  auto r = read_file_source(dir.str() + "/small.tar.zst");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries.size(), 4u);
}

TEST(Container, OpenSourceReadsSplitPartsInOrder) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  const std::string base = dir.str() + "/split.tar.zst";
  // Cuts inside the first frame's header, mid-frame, and an empty part.
  const std::size_t cuts[] = {0, 2, 40, 40, bytes.size()};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, ".part%04zu", i + 1);
    spit(base + name, bytes.substr(cuts[i], cuts[i + 1] - cuts[i]));
  }
  auto src = open_source(base);
  ASSERT_TRUE(src) << src.error().what();
  EXPECT_NE((*src)->name().find("4 parts"), std::string::npos) << (*src)->name();
  auto r = read_file_source(base);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries.size(), 4u);

  // The stack reads the parts as one stream without joining them on disk.
  auto s2 = open_source(base);
  ZstdReader z(**s2);
  TarReader t(z);
  std::size_t n = 0;
  for (;;) {
    auto e = t.next();
    ASSERT_TRUE(e) << e.error().what();
    if (!*e) break;
    ASSERT_TRUE(t.skip());
    ++n;
  }
  EXPECT_TRUE(t.finish());
  EXPECT_EQ(n, 4u);
}

// A part missing in the middle of the sequence is an io error naming it, not a shorter stream: a
// stray later part would otherwise be ignored, and a bundle that happens to end where the gap
// starts would verify without it.
TEST(Container, AGapInThePartsIsAnIoErrorNamingTheMissingPart) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  const std::string base = dir.str() + "/split.tar.zst";
  spit(base + ".part0001", bytes.substr(0, 100));
  spit(base + ".part0003", bytes.substr(100));
  auto r = open_source(base);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_NE(r.error().what().find("split.tar.zst.part0002 is missing"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("split.tar.zst.part0003"), std::string::npos) << r.error().what();
}

TEST(Container, AStrayPartAfterACompleteBundleIsRefused) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  const std::string base = dir.str() + "/split.tar.zst";
  spit(base + ".part0001", bytes);  // the whole bundle: it would verify on its own
  spit(base + ".part0007", "stray");
  auto r = open_source(base);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_NE(r.error().what().find("split.tar.zst.part0002 is missing"), std::string::npos) << r.error().what();
  // A file of another bundle that merely starts with the same name is not a part.
  std::filesystem::remove(base + ".part0007");
  spit(base + ".part0002.sha256", "checksum file");
  spit(base + ".part02", "not a part name");
  EXPECT_TRUE(read_file_source(base)) << "only .partNNNN names count";
}

TEST(Container, AnExistingFileWinsOverParts) {
  TempDir dir;
  const std::string bytes = small_bundle(dir.str());
  const std::string base = dir.str() + "/small.tar.zst";
  spit(base + ".part0001", "garbage");
  auto r = read_file_source(base);
  EXPECT_TRUE(r) << r.error().what();
}

TEST(Container, OpenSourceErrorsAreIoErrorsNamingThePath) {
  TempDir dir;
  auto missing = open_source(dir.str() + "/nope.tar.zst");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().cls(), ErrorClass::io);
  EXPECT_NE(missing.error().what().find("nope.tar.zst"), std::string::npos) << missing.error().what();
  auto folder = open_source(dir.str());
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().cls(), ErrorClass::io);
}

}  // namespace
}  // namespace airlock::test

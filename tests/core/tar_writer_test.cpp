// TarWriter + ZstdFrameWriter produce the container of spec §1: listed by stock `tar --zstd`,
// tested by stock `zstd -t`, read back by our strict reader, manifest and signatures in frames of
// their own, deterministic bytes.
#include <fcntl.h>

#include <gtest/gtest.h>

#include "core/sys/fd.hpp"
#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

class MemorySink final : public ByteSink {
 public:
  Status write(const void* d, std::size_t n) override {
    bytes.append(static_cast<const char*>(d), n);
    return {};
  }
  std::string bytes;
};

class FailingSink final : public ByteSink {
 public:
  Status write(const void*, std::size_t) override { return fail(ErrorClass::io, "disk full (test)"); }
};

struct File {
  std::string path, data;
  bool executable = false;
};

// Its last segment is over 100 bytes: no ustar prefix/name split fits, so a pax path is needed.
const std::string kLongPath = "images/blobs/sha256/" + std::string(64, 'e') + "/" + std::string(120, 'x');

const std::vector<File>& sample_files() {
  static const std::vector<File> files = [] {
    std::string big;
    for (std::uint64_t i = 0; big.size() < 3'000'000; ++i) big += "line " + std::to_string(i * 7919 % 100003) + "\n";
    return std::vector<File>{{"bin/tool", "#!/bin/sh\necho hi\n", true},
                             {"notes/en.md", "# Notes\n", false},
                             {"empty", "", false},
                             {kLongPath, "long path content", false},
                             {"data/big.txt", big, false}};
  }();
  return files;
}

Status put(TarWriter& t, const std::string& path, const std::string& data, bool exec = false) {
  AIRLOCK_CHECK(t.begin_entry({path, data.size(), exec, 1767225600}), "begin");
  AIRLOCK_CHECK(t.write_data(data.data(), data.size()), "data");
  return t.end_entry();
}

struct Written {
  std::uint64_t frame1_end = 0, frame2_end = 0;
};

// manifest.toml in frame 1, signatures in frame 2, the payload (about 3 MiB) and the end marker in
// frames 3 to 5 (one per kWriterFrameBytes).
Written write_bundle(const std::string& out, int workers = 1) {
  Written w;
  Fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  EXPECT_TRUE(fd.valid());
  auto z = ZstdFrameWriter::create(fd.get(), out, {3, workers});
  EXPECT_TRUE(z);
  auto t = TarWriter::create(z->get());
  EXPECT_TRUE(t);
  EXPECT_TRUE(put(**t, "manifest.toml", "format = \"airlock-bundle/1\"\n"));
  EXPECT_TRUE((*z)->end_frame());
  w.frame1_end = (*z)->compressed_bytes();
  EXPECT_TRUE(put(**t, "signatures/0123456789ABCDEF.minisig", "untrusted comment: x\nRWQ\ntrusted comment: y\nZZZ\n"));
  EXPECT_TRUE((*z)->end_frame());
  w.frame2_end = (*z)->compressed_bytes();
  for (const auto& f : sample_files()) EXPECT_TRUE(put(**t, f.path, f.data, f.executable));
  EXPECT_TRUE((*t)->finish());
  EXPECT_TRUE((*z)->end_frame());
  return w;
}

TEST(TarWriter, BundleIsReadByStockToolsAndByOurReader) {
  TempDir dir;
  const std::string out = (dir / "b.tar.zst").string();
  Written w = write_bundle(out);

  auto t = run("zstd -q -t '" + out + "'");
  EXPECT_EQ(t.status, 0) << t.output;
  auto list = run("TZ=UTC tar --zstd -tvf '" + out + "'");
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("-rw-r--r-- 0/0"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("-rwxr-xr-x 0/0"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("2026-01-01 00:00"), std::string::npos) << list.output;
  auto names = run("tar --zstd -tf '" + out + "'");
  std::string expected = "manifest.toml\nsignatures/0123456789ABCDEF.minisig\n";
  for (const auto& f : sample_files()) expected += f.path + "\n";
  EXPECT_EQ(names.output, expected);
  std::filesystem::create_directories(dir / "x");
  auto x = run("tar --zstd -xf '" + out + "' -C '" + (dir / "x").string() + "'");
  ASSERT_EQ(x.status, 0) << x.output;
  EXPECT_EQ(slurp(dir / "x" / kLongPath), "long path content");

  auto r = read_container(slurp(out));
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->entries.size(), 2 + sample_files().size());
  EXPECT_EQ(r->entries[0].first, "manifest.toml");
  for (std::size_t i = 0; i < sample_files().size(); ++i) {
    EXPECT_EQ(r->entries[2 + i].first, sample_files()[i].path);
    EXPECT_EQ(r->entries[2 + i].second, sample_files()[i].data);
  }
  EXPECT_GT(w.frame2_end, w.frame1_end);
}

// What `sign` relies on: after the signature entries, the reader stands at the end of frame 2.
TEST(TarWriter, ManifestAndSignaturesEndAtFrameEnds) {
  TempDir dir;
  const std::string out = (dir / "b.tar.zst").string();
  Written w = write_bundle(out);
  auto src = open_source(out);
  ASSERT_TRUE(src);
  ZstdReader z(**src);
  TarReader t(z);
  for (std::uint64_t frame_end : {w.frame1_end, w.frame2_end}) {
    auto e = t.next();
    ASSERT_TRUE(e && *e);
    EXPECT_FALSE(z.at_frame_end());
    ASSERT_TRUE(t.skip());
    EXPECT_TRUE(z.at_frame_end()) << (*e)->path;
    EXPECT_EQ(z.compressed_offset_of_frame_end(), frame_end) << (*e)->path;
    EXPECT_EQ(z.decompressed_bytes(), t.offset());
  }
}

// Each frame states its content size, at most kWriterFrameBytes (the reader's pool needs it to fit).
TEST(TarWriter, FramesHaveSmallWindowChecksumAndBoundedContentSize) {
  TempDir dir;
  const std::string out = (dir / "b.tar.zst").string();
  write_bundle(out);
  std::string bytes = slurp(out);
  std::size_t pos = 0, frames = 0;
  while (pos < bytes.size()) {
    ZSTD_frameHeader fh{};
    ASSERT_EQ(ZSTD_getFrameHeader(&fh, bytes.data() + pos, bytes.size() - pos), 0u);
    EXPECT_EQ(fh.frameType, ZSTD_frame);
    EXPECT_LE(fh.windowSize, 1ull << kWriterWindowLog);
    EXPECT_EQ(fh.checksumFlag, 1u);
    EXPECT_LE(fh.frameContentSize, kWriterFrameBytes);
    std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + pos, bytes.size() - pos);
    ASSERT_FALSE(ZSTD_isError(n));
    pos += n;
    ++frames;
  }
  EXPECT_EQ(frames, 5u);
}

TEST(TarWriter, OutputIsDeterministic) {
  TempDir dir;
  write_bundle((dir / "a").string(), 1);
  write_bundle((dir / "b").string(), 2);
  EXPECT_EQ(slurp(dir / "a"), slurp(dir / "b"));
}

TEST(TarWriter, EndMarkerIsExactlyTwoZeroBlocks) {
  MemorySink m;
  auto t = TarWriter::create(&m);
  ASSERT_TRUE(t);
  ASSERT_TRUE(put(**t, "a", "12345"));
  ASSERT_EQ(m.bytes.size(), 1024u);
  ASSERT_TRUE((*t)->finish());
  ASSERT_EQ(m.bytes.size(), 2048u);
  EXPECT_EQ(m.bytes.substr(1024), std::string(1024, '\0'));
  t->reset();
  EXPECT_EQ(m.bytes.size(), 2048u);
}

TEST(TarWriter, UnfinishedWriterWritesNoEndMarker) {
  MemorySink m;
  {
    auto t = TarWriter::create(&m);
    ASSERT_TRUE(t);
    ASSERT_TRUE(put(**t, "a", "12345"));
    ASSERT_TRUE((*t)->begin_entry({"b", 10, false, 0}));
  }
  EXPECT_EQ(m.bytes.size(), 1024u + 512u);  // entry a, then b's header: no padding, no marker
}

TEST(TarWriter, SinksSwitchBetweenEntries) {
  MemorySink first, second;
  auto t = TarWriter::create(&first);
  ASSERT_TRUE(t);
  ASSERT_TRUE(put(**t, "manifest.toml", "m"));
  (*t)->set_sink(&second);
  ASSERT_TRUE(put(**t, "payload", "p"));
  ASSERT_TRUE((*t)->finish());
  EXPECT_EQ(first.bytes.size(), 1024u);
  EXPECT_EQ(second.bytes.size(), 1024u + 1024u);
  auto r = read_container(zst(first.bytes) + zst(second.bytes));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries.size(), 2u);
}

TEST(TarWriter, RefusesSizeMismatches) {
  MemorySink m;
  auto t = TarWriter::create(&m);
  ASSERT_TRUE(t);
  ASSERT_TRUE((*t)->begin_entry({"a", 3, false, 0}));
  auto over = (*t)->write_data("abcd", 4);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().cls(), ErrorClass::internal);
  ASSERT_TRUE((*t)->write_data("ab", 2));
  auto early = (*t)->end_entry();
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().cls(), ErrorClass::internal);
}

TEST(TarWriter, SinkErrorsKeepTheirClass) {
  FailingSink f;
  auto t = TarWriter::create(&f);
  ASSERT_TRUE(t);
  auto s = (*t)->begin_entry({"a", 1, false, 0});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::io);
  EXPECT_NE(s.error().what().find("disk full"), std::string::npos);
}

// Sizes from 8 GiB on: a pax size record, and an octal ustar size field (libarchive would write
// base-256 from 64 GiB on). No data is written; the header alone is checked by our reader.
TEST(TarWriter, HugeSizesGetPaxSizeAndOctalUstarField) {
  for (std::uint64_t size : {9ull << 30, 100ull << 30}) {
    MemorySink m;
    {
      auto t = TarWriter::create(&m);
      ASSERT_TRUE(t);
      ASSERT_TRUE((*t)->begin_entry({"huge.bin", size, false, 0}));
    }
    ASSERT_EQ(m.bytes.size(), 3u * 512);
    EXPECT_NE(m.bytes.find("size=" + std::to_string(size) + "\n"), std::string::npos);
    EXPECT_EQ(static_cast<unsigned char>(m.bytes[1024 + 124]) & 0x80, 0);
    auto src = memory_source(zst(m.bytes + "some data"));
    ZstdReader z(*src);
    TarReader r(z);
    auto e = r.next();
    ASSERT_TRUE(e) << e.error().what();
    ASSERT_TRUE(*e);
    EXPECT_EQ((*e)->path, "huge.bin");
    EXPECT_EQ((*e)->size, size);
  }
}

TEST(TarWriter, LongPathGetsDeterministicPaxHeader) {
  MemorySink m;
  auto t = TarWriter::create(&m);
  ASSERT_TRUE(t);
  ASSERT_TRUE(put(**t, kLongPath, "x"));
  // libarchive names the pax header "<dir>/PaxHeader/<name>" and gives it the entry's mtime: no
  // process id, no clock.
  EXPECT_EQ(m.bytes.find("PaxHeader/"), 0u);
  EXPECT_EQ(m.bytes.substr(136, 12), std::string("15125334400 ", 12));  // 1767225600 in octal
  EXPECT_EQ(m.bytes.substr(512, 512).find("path=" + kLongPath + "\n"), 4u);
}

}  // namespace
}  // namespace airlock::test

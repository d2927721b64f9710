// The strict tar grammar of spec §1, one rule per test, on byte-crafted archives; and interop with
// archives written by stock GNU tar and compressed by stock zstd.
#include <gtest/gtest.h>

#include "tests/core/container_craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

void expect_malformed(const std::string& tar, const std::string& reason) {
  auto r = read_container(zst(tar));
  ASSERT_FALSE(r) << "accepted, expected refusal for: " << reason;
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
  EXPECT_NE(r.error().what().find(reason), std::string::npos) << "message: " << r.error().what();
}

TEST(TarReader, ReadsValidEntriesWithPaxAndPrefix) {
  Hdr prefixed;
  prefixed.prefix = "deep/folder";
  prefixed.name = "leaf.bin";
  prefixed.with_size(3);
  std::string tar =
      entry("a.txt", "hello") + header(prefixed) + padded("xyz") +
      pax_header(pax_record("path", "long/name/from/pax") + pax_record("mtime", "1.5") + pax_record("atime", "-3.25") +
                 pax_record("ctime", "7") + pax_record("uid", "0") + pax_record("gid", "0") + pax_record("uname", "") +
                 pax_record("gname", "root") + pax_record("size", "4")) +
      entry("placeholder", "data") + entry("empty", "") + end_marker();
  auto r = read_container(zst(tar));
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->entries.size(), 4u);
  EXPECT_EQ(r->entries[0], (std::pair<std::string, std::string>{"a.txt", "hello"}));
  EXPECT_EQ(r->entries[1].first, "deep/folder/leaf.bin");
  EXPECT_EQ(r->entries[2], (std::pair<std::string, std::string>{"long/name/from/pax", "data"}));
  EXPECT_EQ(r->entries[3], (std::pair<std::string, std::string>{"empty", ""}));
}

TEST(TarReader, EntryOffsetsAndPositions) {
  std::string tar = entry("a", "1234") + pax_header(pax_record("path", "b")) + entry("x", "5") + end_marker();
  auto src = memory_source(zst(tar));
  ZstdReader z(*src);
  TarReader t(z);
  auto e1 = t.next();
  ASSERT_TRUE(e1 && *e1);
  EXPECT_EQ((*e1)->offset, 0u);
  ASSERT_TRUE(t.skip());
  EXPECT_EQ(t.offset(), 1024u);
  auto e2 = t.next();
  ASSERT_TRUE(e2 && *e2);
  EXPECT_EQ((*e2)->offset, 1024u);  // the pax header is where the entry starts
  EXPECT_EQ((*e2)->path, "b");
  char c;
  auto n = t.read(&c, 1);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(t.offset(), 1024u + 4 * 512);  // pax header + records + file header + data block
  auto end = t.next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  EXPECT_TRUE(t.finish());
}

TEST(TarReader, NextBeforeDataIsReadIsAnInternalError) {
  auto src = memory_source(zst(entry("a", "1234") + end_marker()));
  ZstdReader z(*src);
  TarReader t(z);
  ASSERT_TRUE(t.next());
  auto e = t.next();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().cls(), ErrorClass::internal);
}

TEST(TarReader, RefusesBadMagicAndVersion) {
  Hdr gnu;
  gnu.magic = "ustar ";
  gnu.version = " ";  // GNU tar's old format: "ustar  \0"
  expect_malformed(header(gnu) + end_marker(), "not a ustar header");
  Hdr v;
  v.version = "01";
  expect_malformed(header(v) + end_marker(), "not a ustar header");
}

TEST(TarReader, RefusesBadChecksum) {
  Hdr h;
  h.fix_checksum = false;
  h.checksum = "0001234";
  expect_malformed(header(h) + end_marker(), "checksum mismatch");
  // The sum is over unsigned bytes: a checksum computed over signed chars (old tars) is refused.
  Hdr high;
  high.uname = "\xE9";
  std::string b = header(high);
  int signed_sum = 0;
  for (std::size_t i = 0; i < 512; ++i) signed_sum += (i >= 148 && i < 156) ? ' ' : static_cast<signed char>(b[i]);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06o", signed_sum);
  std::memcpy(&b[148], buf, 6);
  expect_malformed(b + end_marker(), "checksum mismatch");
}

TEST(TarReader, AcceptsChecksumTerminatedBySpaceOrNul) {
  for (std::string term : {std::string("\0 ", 2), std::string(" \0", 2), std::string("\0\0", 2)}) {
    std::string b = header(Hdr{});
    b[154] = term[0];
    b[155] = term[1];
    // The checksum field is summed as spaces, so its terminator does not change the sum.
    auto r = read_container(zst(b + end_marker()));
    EXPECT_TRUE(r) << r.error().what();
  }
}

TEST(TarReader, RefusesNonOctalNumbers) {
  Hdr base256;
  base256.raw_size = std::string("\x80\0\0\0\0\0\0\0\0\0\0\x05", 12);
  expect_malformed(header(base256) + padded("hello") + end_marker(), "base-256");
  Hdr nine;
  nine.size = "00000000009";
  expect_malformed(header(nine) + end_marker(), "field 'size' is not an octal number");
  Hdr spaces;
  spaces.mode = "  644 ";
  expect_malformed(header(spaces) + end_marker(), "field 'mode'");
  Hdr garbage;
  garbage.mtime = "1234x";
  expect_malformed(header(garbage) + end_marker(), "field 'mtime'");
  Hdr empty_uid;
  empty_uid.uid = "";
  expect_malformed(header(empty_uid) + end_marker(), "field 'uid'");
}

TEST(TarReader, AcceptsLibarchiveStyleOctal) {
  Hdr h;
  h.mode = "000644 ";
  h.uid = "000000 ";
  h.size = "00000000005 ";
  h.devmajor = "";  // GNU tar leaves these empty in pax headers
  h.devminor = "";
  auto r = read_container(zst(header(h) + padded("hello") + end_marker()));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries.at(0).second, "hello");
}

TEST(TarReader, RefusesEveryTypeflagButRegularFile) {
  const std::pair<char, const char*> refused[] = {
      {'5', "directory"},     {'2', "symbolic link"}, {'1', "hard link"},  {'3', "character device"},
      {'4', "block device"},  {'6', "FIFO"},          {'7', "contiguous"}, {'L', "GNU long name"},
      {'K', "GNU long link"}, {'g', "pax global"},    {'S', "sparse"},     {'\0', "old-style"},
      {'V', "0x56"}};
  for (auto [flag, reason] : refused) {
    Hdr h;
    h.typeflag = flag;
    expect_malformed(header(h) + end_marker(), reason);
  }
}

TEST(TarReader, RefusesNamesWithHiddenBytesOrLinks) {
  Hdr nul;
  nul.name = std::string("ok\0evil", 7);
  expect_malformed(header(nul) + end_marker(), "after its terminating NUL");
  Hdr empty;
  empty.name = "";
  expect_malformed(header(empty) + end_marker(), "empty name");
  Hdr link;
  link.linkname = "target";
  expect_malformed(header(link) + end_marker(), "link name");
}

TEST(TarReader, RefusesNonZeroPadding) {
  std::string data = padded("hello");
  data[100] = 'x';
  Hdr h;
  h.with_size(5);
  expect_malformed(header(h) + data + end_marker(), "padding after entry 'file.txt' is not zero");
  std::string pax = padded(pax_record("path", "p"));
  pax[511] = 1;
  Hdr x;
  x.typeflag = 'x';
  x.with_size(pax_record("path", "p").size());
  expect_malformed(header(x) + pax + entry("f", "") + end_marker(), "padding of the pax header");
}

TEST(TarReader, RefusesPaxLinkpathUnknownKeysAndBadRecords) {
  expect_malformed(pax_header(pax_record("linkpath", "x")) + entry("f", "") + end_marker(), "pax key 'linkpath'");
  expect_malformed(pax_header(pax_record("GNU.sparse.size", "1")) + entry("f", "") + end_marker(), "GNU.sparse.size");
  expect_malformed(pax_header(pax_record("SCHILY.xattr.a", "1")) + entry("f", "") + end_marker(), "SCHILY");
  expect_malformed(pax_header(pax_record("comment", "hi")) + entry("f", "") + end_marker(), "'comment' is not allowed");
  expect_malformed(pax_header("11 path=abc\n") + entry("f", "") + end_marker(), "pax record at byte 0");
  expect_malformed(pax_header("99 path=abc\n") + entry("f", "") + end_marker(), "does not fit");
  expect_malformed(pax_header("011 path=a\n") + entry("f", "") + end_marker(), "no decimal length");
  expect_malformed(pax_header("10 patha\n\n") + entry("f", "") + end_marker(), "not 'key=value'");
  expect_malformed(pax_header(pax_record("path", "a") + "junk") + entry("f", "") + end_marker(), "pax record at byte");
  expect_malformed(pax_header(pax_record("path", "a") + pax_record("path", "b")) + entry("f", "") + end_marker(),
                   "given twice");
  expect_malformed(pax_header(pax_record("size", "+5")) + entry("f", "") + end_marker(), "decimal size");
  expect_malformed(pax_header(pax_record("mtime", "1.2.3")) + entry("f", "") + end_marker(), "not a time");
  expect_malformed(pax_header(pax_record("path", std::string("a\0b", 3))) + entry("f", "") + end_marker(), "NUL");
  expect_malformed(pax_header(pax_record("path", "")) + entry("f", "") + end_marker(), "is empty");
  // A length that swallows the next record: a line-splitting reader would see size=5 there.
  std::string swallow = pax_record("uname", "u") + pax_record("size", "5");
  swallow = std::to_string(swallow.size()) + swallow.substr(swallow.find(' '));
  expect_malformed(pax_header(swallow) + entry("f", "12345") + end_marker(), "newline inside the value");
}

TEST(TarReader, PaxSizeMustMatchUstarBelow8GiB) {
  expect_malformed(pax_header(pax_record("size", "4")) + entry("f", "12345") + end_marker(),
                   "pax size 4 differs from the ustar size field 5");
  auto ok = read_container(zst(pax_header(pax_record("size", "5")) + entry("f", "12345") + end_marker()));
  EXPECT_TRUE(ok) << ok.error().what();
}

TEST(TarReader, PaxSizeFrom8GiBOverridesUstarSize) {
  // The ustar field says 0; the pax size (8 GiB) is authoritative: the reader expects 8 GiB of
  // data, so the short stream is a truncation inside the entry, not an empty file.
  const std::uint64_t eight_gib = 1ull << 33;
  std::string tar = pax_header(pax_record("size", std::to_string(eight_gib))) + entry("big", "") + end_marker();
  auto src = memory_source(zst(tar));
  ZstdReader z(*src);
  TarReader t(z);
  auto e = t.next();
  ASSERT_TRUE(e && *e) << (e ? "" : e.error().what());
  EXPECT_EQ((*e)->size, eight_gib);
  auto s = t.skip();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::malformed);
  EXPECT_NE(s.error().what().find("stream ends inside tar entry 'big'"), std::string::npos) << s.error().what();
}

TEST(TarReader, RefusesOversizedOrDoubledOrDanglingPaxHeaders) {
  std::string big = pax_record("uname", std::string(kMaxPaxHeaderBytes, 'u'));
  expect_malformed(pax_header(big) + entry("f", "") + end_marker(), "over the limit of 65536");
  std::string p = pax_header(pax_record("path", "a"));
  expect_malformed(p + p + entry("f", "") + end_marker(), "two pax headers in a row");
  expect_malformed(p + end_marker(), "not followed by a file entry");
}

TEST(TarReader, EndMarkerAndTrailingBytes) {
  std::string body = entry("f", "x");
  expect_malformed(body, "before the end-of-archive marker");
  expect_malformed(body + std::string(512, '\0'), "end-of-archive marker");
  expect_malformed(body + std::string(512, '\0') + entry("g", ""), "lone zero block");
  EXPECT_TRUE(read_container(zst(body + end_marker() + std::string(kMaxTrailingZeroBytes, '\0'))));
  expect_malformed(body + end_marker() + std::string(kMaxTrailingZeroBytes + 1, '\0'), "more than 1048576 zero bytes");
  std::string junk = body + end_marker() + std::string(100, '\0');
  junk += 'J';
  expect_malformed(junk, "non-zero byte at offset " + std::to_string(body.size() + 1024 + 100));
  // Trailing zeros in a frame of their own, and a whole entry after the end marker.
  EXPECT_TRUE(read_container(zst(body + end_marker()) + zst(std::string(4096, '\0'))));
  expect_malformed(body + end_marker() + entry("late", "x"), "after the end-of-archive marker");
}

TEST(TarReader, TruncationInsideHeaderOrEntryNamesTheEntry) {
  std::string tar = entry("first", "abc") + entry("second", std::string(2000, 's')) + end_marker();
  expect_malformed(tar.substr(0, 1024 + 100), "stream ends inside a tar header at offset 1024 (after entry 'first')");
  expect_malformed(tar.substr(0, 1024 + 512 + 10), "stream ends inside tar entry 'second' (10 of 2000 bytes)");
  expect_malformed(tar.substr(0, 1024 + 512 + 2001), "stream ends inside the padding after entry 'second'");
}

// Stock GNU tar (ustar and pax formats), compressed with stock zstd.
TEST(TarReader, ReadsGnuTarArchives) {
  TempDir dir;
  std::filesystem::create_directories(dir / "in/sub");
  spit(dir / "in/a.txt", "alpha\n");
  spit(dir / "in/sub/b.bin", std::string(70000, 'b'));
  spit(dir / "in/empty", "");
  const std::string long_name = "sub/" + std::string(120, 'n') + ".txt";
  spit(dir / ("in/" + long_name), "long");
  for (std::string format : {"ustar", "pax"}) {
    std::string files = "a.txt sub/b.bin empty";
    if (format == "pax") files += " " + long_name;
    std::string out = (dir / (format + ".tar.zst")).string();
    auto p = run("cd '" + (dir / "in").string() + "' && tar --format=" + format + " -cf - " + files +
                 " | zstd -q -c > '" + out + "'");
    ASSERT_EQ(p.status, 0) << p.output;
    auto r = read_container(slurp(out));
    ASSERT_TRUE(r) << format << ": " << r.error().what();
    ASSERT_EQ(r->entries.size(), format == "pax" ? 4u : 3u);
    EXPECT_EQ(r->entries[0], (std::pair<std::string, std::string>{"a.txt", "alpha\n"}));
    EXPECT_EQ(r->entries[1].first, "sub/b.bin");
    EXPECT_EQ(r->entries[1].second, std::string(70000, 'b'));
    EXPECT_EQ(r->entries[2], (std::pair<std::string, std::string>{"empty", ""}));
    if (format == "pax") {
      EXPECT_EQ(r->entries[3], (std::pair<std::string, std::string>{long_name, "long"}));
    }
  }
}

TEST(TarReader, RefusesGnuTarDirectoriesAndLongNames) {
  TempDir dir;
  std::filesystem::create_directories(dir / "in/d");
  spit(dir / "in/d/f", "x");
  spit(dir / ("in/" + std::string(120, 'n')), "x");
  auto mk = [&](const std::string& args) {
    std::string out = (dir / "t.tar.zst").string();
    auto p = run("cd '" + (dir / "in").string() + "' && tar " + args + " -cf - | zstd -q -c > '" + out + "'");
    EXPECT_EQ(p.status, 0) << p.output;
    return slurp(out);
  };
  auto dirs = read_container(mk("--format=pax d"));
  ASSERT_FALSE(dirs);
  EXPECT_NE(dirs.error().what().find("directory"), std::string::npos) << dirs.error().what();
  auto gnu = read_container(mk("--format=gnu " + std::string(120, 'n')));
  ASSERT_FALSE(gnu);
  EXPECT_EQ(gnu.error().cls(), ErrorClass::malformed);
}

}  // namespace
}  // namespace airlock::test

// Spec §1: the container. Tar grammar (only regular files, strict pax), zstd framing (no skippable
// frames, no trailing bytes, window at most 128 MiB), the end of the archive (at most 1 MiB of zeros
// then the end of the stream) — all malformed (10), nothing written, staging cleaned.
#include <gtest/gtest.h>

#include "core/container/container.hpp"
#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Container = VerifierTest;

// A good bundle whose first payload entry is replaced by `e` (the manifest unchanged).
craft::Bundle with_first_payload(craft::Bundle b, craft::Entry e) {
  b.payload[0] = std::move(e);
  return b;
}

craft::Entry typed(char typeflag, std::string linkname = "") {
  craft::Entry e = craft::file_entry("notes/en.md", "");
  e.typeflag = typeflag;
  e.linkname = std::move(linkname);
  return e;
}

TEST_F(Container, SymlinkEntry) {
  expect_refused(with_first_payload(good(), typed('2', "/etc/passwd")), ErrorClass::malformed);
}
TEST_F(Container, HardLinkEntry) {
  expect_refused(with_first_payload(good(), typed('1', "data/table.csv")), ErrorClass::malformed);
}
TEST_F(Container, DirectoryEntry) { expect_refused(with_first_payload(good(), typed('5')), ErrorClass::malformed); }
TEST_F(Container, CharacterDeviceEntry) {
  expect_refused(with_first_payload(good(), typed('3')), ErrorClass::malformed);
}
TEST_F(Container, BlockDeviceEntry) { expect_refused(with_first_payload(good(), typed('4')), ErrorClass::malformed); }
TEST_F(Container, FifoEntry) { expect_refused(with_first_payload(good(), typed('6')), ErrorClass::malformed); }
TEST_F(Container, PaxGlobalHeader) {
  auto b = good();
  auto g = craft::file_entry("pax_global_header", craft::pax_record("comment", "hi"));
  g.typeflag = 'g';
  b.payload.insert(b.payload.begin(), g);
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, GnuLongNameEntry) {
  auto b = good();
  auto l = craft::file_entry("././@LongLink", b.payload[0].path + std::string(1, '\0'));
  l.typeflag = 'L';
  b.payload.insert(b.payload.begin(), l);
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, PaxLinkpath) {
  auto b = good();
  b.payload[0].pax = {{"linkpath", "/etc/shadow"}};
  expect_refused(b, ErrorClass::malformed, "linkpath");
}

TEST_F(Container, PaxUnknownKey) {
  auto b = good();
  b.payload[0].pax = {{"SCHILY.xattr.user.x", "1"}};
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, PaxAllowedKeysAccepted) {
  auto b = good();
  b.payload[0].pax = {{"mtime", "1778061600.25"}, {"uname", ""}, {"path", b.payload[0].path}};
  expect_accepted(b);
}

TEST_F(Container, LongPathThroughPaxAccepted) {
  craft::BundleSpec s;
  const std::string deep = "docs/" + std::string(120, 'a') + "/" + std::string(100, 'b') + ".md";
  s.files.push_back({deep, "deep\n", false});
  auto r = run(good(s));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(test::slurp(staging / deep), "deep\n");
}

TEST_F(Container, PaxPathOverridesAHarmlessUstarName) {
  // A reader that ignored pax would see 'notes/en.md'; the effective path is the pax one.
  auto b = good();
  b.payload[0].pax = {{"path", "../../evil"}};
  expect_refused(b, ErrorClass::malformed, "'..'");
}

TEST_F(Container, NonOctalSizeField) {
  auto b = good();
  // Rebuild the first payload header with a size field that is not octal.
  craft::Header h;
  h.name = b.payload[0].path;
  h.size_field = std::string("0000000009x") + '\0';
  std::string bytes;
  for (const auto& e : b.head) bytes += craft::tar_entry(e);
  bytes += craft::ustar_header(h) + craft::pad_to_block(b.payload[0].data);
  for (std::size_t i = 1; i < b.payload.size(); ++i) bytes += craft::tar_entry(b.payload[i]);
  bytes += craft::end_marker();
  expect_refused_bytes(craft::zstd_frame(bytes), ErrorClass::malformed);
}

TEST_F(Container, TarHeaderModeIsIgnored) {
  // setuid, world-writable in the header; the manifest says a plain file: 0644 it is.
  auto b = good();
  b.payload[2].mode = 06777;
  auto r = run(b);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  struct stat st {};
  ::lstat((staging / "data/table.csv").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST_F(Container, PaxSizeDiffersFromUstarSize) {
  auto b = good();
  b.payload[0].pax = {{"size", std::to_string(b.payload[0].data.size() + 1)}};
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, MalformedPaxRecord) {
  auto b = good();
  b.payload[0].raw_pax = "999 path=notes/en.md\n";  // length says 999, record is 21 bytes
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, BadHeaderChecksum) {
  auto b = good();
  b.payload[1].checksum = 1234;
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, NonZeroPadding) {
  auto b = good();
  b.payload[0].padding_byte = "x";
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, TruncatedZstdStream) {
  const auto bytes = good().bytes();
  expect_refused_bytes(bytes.substr(0, bytes.size() - 7), ErrorClass::malformed);
}

TEST_F(Container, FramesWithoutChecksumOrContentSizeAccepted) {
  craft::ZstdParams p;
  p.checksum = false;
  p.content_size = false;
  p.level = 19;
  test::spit(bundle_path, craft::zstd_frame(good().tar(), p));
  auto r = verify(request(true));
  ASSERT_TRUE(r.has_value()) << r.error().what();
}

TEST_F(Container, CorruptFrameChecksum) {
  std::string bytes = craft::zstd_frame(good().tar());
  bytes.back() = static_cast<char>(bytes.back() ^ 0x55);  // the last 4 bytes are the checksum
  expect_refused_bytes(bytes, ErrorClass::malformed);
}

TEST_F(Container, CorruptCompressedBlock) {
  craft::ZstdParams p;
  p.checksum = false;
  std::string bytes = craft::zstd_frame(good().tar(), p);
  for (std::size_t i = 20; i < bytes.size(); i += 97) bytes[i] = static_cast<char>(bytes[i] ^ 0xA5);
  test::spit(bundle_path, bytes);
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  // Whatever the damage decodes to, it is never accepted, and never leaves anything behind.
  EXPECT_FALSE(fs::exists(staging));
}

TEST_F(Container, NoEndOfArchiveMarker) {
  auto b = good();
  b.end_marker = false;
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, TrailingGarbageAfterTheStream) {
  auto b = good();
  b.after_stream = "garbage";
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, TrailingTarDataAfterTheEndMarker) {
  auto b = good();
  b.after_end = craft::tar_entry(craft::file_entry("extra.txt", "smuggled\n"));
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, SomeZerosAfterTheEndMarkerAccepted) {
  auto b = good();
  b.after_end = std::string(4096, '\0');
  expect_accepted(b);
}

TEST_F(Container, SkippableFrameAtTheEnd) {
  auto b = good();
  b.after_stream = craft::skippable_frame("metadata");
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Container, SkippableFrameAtTheStart) {
  expect_refused_bytes(craft::skippable_frame("x", 3) + good().bytes(), ErrorClass::malformed);
}

TEST_F(Container, FrameWindowOver128MiB) {
  auto b = good();
  std::string head;
  for (const auto& e : b.head) head += craft::tar_entry(e);
  std::string rest;
  for (const auto& e : b.payload) rest += craft::tar_entry(e);
  rest += craft::end_marker();
  expect_refused_bytes(craft::zstd_frame(head) + craft::zstd_raw_frame(rest, 28), ErrorClass::malformed);
}

TEST_F(Container, FrameWindowOfExactly128MiBAccepted) {
  test::spit(bundle_path, craft::zstd_raw_frame(good().tar(), 27));
  auto r = verify(request(true));
  ASSERT_TRUE(r.has_value()) << r.error().what();
}

TEST_F(Container, HandMadeFrameWithSmallWindowAccepted) {
  // The control for the test above: the same hand-made framing with an 8 MiB window is fine.
  auto b = good();
  std::string all = b.tar();
  test::spit(bundle_path, craft::zstd_raw_frame(all, 23));
  auto r = verify(request(true));
  ASSERT_TRUE(r.has_value()) << r.error().what();
}

// Decompression bombs: the archive is complete, then the zstd stream inflates on and on (100 MiB
// of `fill`). The verifier must stop after its 1 MiB allowance, not inflate it all.
std::string bomb_after_end_marker(const craft::Bundle& b, char fill) {
  std::string head;
  for (const auto& e : b.head) head += craft::tar_entry(e);
  std::string rest;
  for (const auto& e : b.payload) rest += craft::tar_entry(e);
  rest += craft::end_marker();
  return craft::zstd_frame(head) + craft::zstd_repeat_frame(rest, 100ull << 20, fill);
}

TEST_F(Container, BombOfZerosAfterTheEndMarker) {
  expect_refused_bytes(bomb_after_end_marker(good(), '\0'), ErrorClass::malformed);
}

TEST_F(Container, BombOfNonZeroBytesAfterTheEndMarker) {
  expect_refused_bytes(bomb_after_end_marker(good(), 'A'), ErrorClass::malformed);
}

// Empty zstd frames (9 bytes each, yielding nothing) ahead of the manifest: a few verify, as spec
// §1 allows them; one over kMaxEmptyFrames is malformed before any signature is checked.
std::string empty_frames(std::uint64_t n) {
  std::string s;
  for (std::uint64_t i = 0; i < n; ++i) s += craft::zstd_raw_frame("", 17);
  return s;
}

TEST_F(Container, AFewEmptyFramesAccepted) {
  test::spit(bundle_path, empty_frames(3) + good().bytes() + empty_frames(2));
  auto r = verify(request(true));
  ASSERT_TRUE(r.has_value()) << r.error().what();
}

TEST_F(Container, EmptyFramesOverTheLimit) {
  expect_refused_bytes(empty_frames(kMaxEmptyFrames + 1) + good().bytes(), ErrorClass::malformed,
                       "over the limit of " + std::to_string(kMaxEmptyFrames) + " empty zstd frames");
}

TEST_F(Container, NotZstdAtAll) { expect_refused_bytes(good().tar(), ErrorClass::malformed); }

}  // namespace
}  // namespace airlock::verifier::testing

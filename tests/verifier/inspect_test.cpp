// inspect: what a bundle declares, read without any check. It reads the head, and for the notes
// only as far as the note; what it skips on the way is bounded, so that a small file whose payload
// inflates to tens of GiB (a compression bomb ahead of the note) costs it next to nothing.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/verifier/fixture.hpp"
#include "verifier/inspect.hpp"

namespace airlock::verifier::testing {
namespace {

constexpr std::uint64_t kBombBytes = 512ull << 30;  // zeros: many seconds to inflate, even as a memset
constexpr std::uint64_t kRle = 128 * 1024;          // one RLE block's output

void put_le24(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 3; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// One zstd frame by hand (window 2^17, no content size, no checksum): `before` in a raw block,
// `zeros` zero bytes as RLE blocks (4 bytes for 128 KiB), `after` in a raw last block.
std::string bomb_frame(const std::string& before, std::uint64_t zeros, const std::string& after) {
  std::string f("\x28\xb5\x2f\xfd", 4);
  f += '\0';                                  // frame header descriptor: nothing optional
  f += static_cast<char>((17 - 10) << 3);     // window 2^17
  auto raw = [&](const std::string& data, bool last) {
    std::size_t at = 0;
    do {
      const std::size_t n = std::min<std::size_t>(data.size() - at, kRle);
      at += n;
      put_le24(f, static_cast<std::uint32_t>(n << 3 | (last && at == data.size() ? 1 : 0)));  // raw block
      f.append(data, at - n, n);
    } while (at < data.size());
  };
  raw(before, false);
  for (std::uint64_t left = zeros; left > 0; left -= kRle) {
    put_le24(f, static_cast<std::uint32_t>(kRle << 3 | 1u << 1));  // RLE block, not last
    f += '\0';
  }
  raw(after, true);
  return f;
}

// The header of a `size`-byte entry: a pax `size` record (the ustar field says 0, ignored at 8 GiB
// and over, spec §1) and the ustar block.
std::string big_entry_header(const std::string& path, std::uint64_t size) {
  const std::string records = craft::pax_record("size", std::to_string(size));
  craft::Header x;
  x.name = "PaxHeader/zero.img";
  x.typeflag = 'x';
  x.size = records.size();
  craft::Header h;
  h.name = path;
  h.size = 0;
  return craft::ustar_header(x) + craft::pad_to_block(records) + craft::ustar_header(h);
}

class Inspect : public VerifierTest {
 protected:
  const std::string note = "# bench 4.5.3\n\nRead me first.\n";

  // A bundle whose payload is `first` (a huge zero entry, or a note) then `second`.
  void write_bundle(bool note_first, std::uint64_t zeros = kBombBytes) {
    craft::BundleSpec s;
    s.files = {{"data/zero.img", ""}, {"notes/en.md", note}};
    if (note_first) s.files = {{"notes/en.md", note}, {"zz/zero.img", ""}};
    std::string manifest = craft::manifest_text(s);
    const auto size_at = manifest.find("size = 0\n");
    ASSERT_NE(size_at, std::string::npos);
    manifest.replace(size_at, std::strlen("size = 0"), "size = " + std::to_string(zeros));
    const std::string head =
        craft::tar_entry(craft::file_entry("manifest.toml", manifest)) + craft::tar_entry(craft::signature_entry(hq, manifest));
    const std::string note_entry = craft::tar_entry(craft::file_entry("notes/en.md", note));
    std::string bytes = craft::zstd_frame(head);
    if (note_first)
      bytes += bomb_frame(note_entry + big_entry_header("zz/zero.img", zeros), zeros, craft::end_marker());
    else
      bytes += bomb_frame(big_entry_header("data/zero.img", zeros), zeros, note_entry + craft::end_marker());
    test::spit(bundle_path, bytes);
  }
};

// The attack: a note behind 512 GiB of zeros in a 16 MiB file. inspect shows the head, says why it
// shows no note, and stops after a bounded amount of inflating.
TEST_F(Inspect, ANoteBehindACompressionBombIsNotReachedAndSaysWhy) {
  write_bundle(false);
  auto r = inspect(bundle_path.string(), "en");
  ASSERT_TRUE(r.has_value()) << r.error().what();
  ASSERT_TRUE(r->manifest.has_value()) << r->manifest_problem;
  ASSERT_EQ(r->signatures.size(), 1u);
  EXPECT_TRUE(r->signatures[0].well_formed);
  EXPECT_FALSE(r->notes_text.has_value());
  EXPECT_NE(r->notes_problem.find("notes/en.md"), std::string::npos) << r->notes_problem;
  EXPECT_NE(r->notes_problem.find("not shown"), std::string::npos) << r->notes_problem;
  EXPECT_GT(r->decompressed_bytes, 0u);
  EXPECT_LT(r->decompressed_bytes, 1ull << 30) << "inflated the bomb";
}

// Before the bomb, the note is shown and nothing after it is read.
TEST_F(Inspect, StopsReadingAtTheNote) {
  write_bundle(true);
  auto r = inspect(bundle_path.string(), "en");
  ASSERT_TRUE(r.has_value()) << r.error().what();
  ASSERT_TRUE(r->notes_text.has_value()) << r->notes_problem;
  EXPECT_EQ(*r->notes_text, note);
  EXPECT_TRUE(r->notes_problem.empty()) << r->notes_problem;
  EXPECT_GT(r->decompressed_bytes, 0u);
  EXPECT_LT(r->decompressed_bytes, 1u << 20) << "read on past the note";
}

// Without a note asked for, only the head is read.
TEST_F(Inspect, WithoutNotesOnlyTheHeadIsRead) {
  write_bundle(false);
  auto r = inspect(bundle_path.string(), std::nullopt);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_FALSE(r->notes_text.has_value());
  EXPECT_TRUE(r->notes_problem.empty()) << r->notes_problem;
  EXPECT_LT(r->decompressed_bytes, 1u << 20);
}

// The bound follows the compressed size: a real payload that does not compress is skipped however
// large it is, so a large release still shows its note.
TEST_F(Inspect, AnIncompressiblePayloadBeforeTheNoteIsSkippedToIt) {
  std::string noise(70u << 20, '\0');  // over the 64 MiB floor: only the ratio lets it through
  std::uint32_t x = 7;
  for (auto& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  craft::BundleSpec s;
  s.files = {{"data/noise.bin", noise}, {"notes/en.md", note}};
  craft::ZstdParams fast;
  fast.level = 1;
  auto b = good(s);
  std::string head, rest;
  for (const auto& e : b.head) head += craft::tar_entry(e);
  for (const auto& e : b.payload) rest += craft::tar_entry(e);
  test::spit(bundle_path, craft::zstd_frame(head) + craft::zstd_frame(rest + craft::end_marker(), fast));
  auto r = inspect(bundle_path.string(), "en");
  ASSERT_TRUE(r.has_value()) << r.error().what();
  ASSERT_TRUE(r->notes_text.has_value()) << r->notes_problem;
  EXPECT_EQ(*r->notes_text, note);
}

}  // namespace
}  // namespace airlock::verifier::testing

// craft: building valid and hostile bundles from code, byte by byte, for the verifier's tests (and
// anyone else's). No checked-in blobs: every fixture is a good bundle with one thing changed.
//
//  - tar:   ustar_header() writes any field (checksum computed unless told otherwise), pax_record()
//           formats "<len> key=value\n" with the right length, tar_entry() one whole entry.
//  - zstd:  zstd_frame() (libzstd), zstd_raw_frame() (hand-made frame with any window descriptor),
//           skippable_frame(), zstd_repeat_frame() (a huge run of one byte, compressed while
//           streaming so the test never holds it in memory).
//  - keys:  make_key() (minisign::generate_key), trust roots as structs or as trust.toml text.
//  - the good bundle: BundleSpec -> manifest text; Bundle holds the entries (head and payload),
//           bytes after the end marker and after the stream — mutate any of them, then bytes().
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"

namespace airlock::test::craft {

// ---------------------------------------------------------------------------------------------
// tar
struct Header {
  std::string name;
  std::string prefix;
  unsigned mode = 0644;
  std::uint64_t size = 0;
  std::optional<std::string> size_field;  // raw 12-byte field text instead of octal `size`
  std::int64_t mtime = 1778061600;        // 2026-05-06T10:00:00Z
  char typeflag = '0';
  std::string linkname;
  std::string magic = std::string("ustar\0", 6);
  std::string version = "00";
  std::string uname, gname;
  std::optional<unsigned> checksum;  // written instead of the computed one
};
std::string ustar_header(const Header& h);  // exactly 512 bytes
std::string pax_record(std::string_view key, std::string_view value);
std::string pad_to_block(std::string data);  // zero padding to a multiple of 512
std::string end_marker();                    // two zero blocks

struct Entry {
  std::string path;
  std::string data;
  char typeflag = '0';
  unsigned mode = 0644;
  std::string linkname;
  std::vector<std::pair<std::string, std::string>> pax;  // an 'x' header before it, when not empty
  std::optional<std::string> raw_pax;                    // the 'x' header's data, verbatim
  std::optional<std::uint64_t> header_size;              // a lie in the ustar size field
  std::optional<unsigned> checksum;                      // a wrong checksum
  std::string padding_byte = std::string(1, '\0');       // what fills the data's padding
};
// A plain regular-file entry (every other field at its default).
Entry file_entry(std::string path, std::string data, unsigned mode = 0644);
// Paths over 100 bytes get a pax `path` record automatically (the ustar name a placeholder).
std::string tar_entry(const Entry& e);

// ---------------------------------------------------------------------------------------------
// zstd
struct ZstdParams {
  int level = 3;
  std::optional<int> window_log;  // ZSTD_c_windowLog (libzstd may still shrink it to fit the data)
  bool checksum = true;           // ZSTD_c_checksumFlag
  bool content_size = true;       // ZSTD_c_contentSizeFlag
};
std::string zstd_frame(std::string_view data, const ZstdParams& p);
std::string zstd_frame(std::string_view data, int level = 3);
// A frame made by hand: no content size, window 2^window_log, raw blocks (so any window is
// declared, whatever the data size). window_log 10..41.
std::string zstd_raw_frame(std::string_view data, unsigned window_log);
std::string skippable_frame(std::string_view payload, unsigned magic_variant = 0);
// `prefix` then `count` copies of `byte`, compressed in one frame while streaming.
std::string zstd_repeat_frame(std::string_view prefix, std::uint64_t count, char byte);

// ---------------------------------------------------------------------------------------------
// keys and trust
struct Key {
  std::string name;
  minisign::SecretKey sk;
  minisign::PublicKey pub() const { return sk.public_key(); }
  std::string id() const { return minisign::key_id_hex(sk.key_id); }
};
Key make_key(std::string name);
Timestamp ts(std::string_view rfc3339);  // aborts the test program on a typo

TrustKey trust_key(const Key& k, std::optional<std::string> not_before = std::nullopt,
                   std::optional<std::string> not_after = std::nullopt, bool revoked = false);
TrustRoot trust_root(std::vector<TrustKey> keys, int threshold = 1);
std::string trust_toml(const TrustRoot& t);  // our own writer, independent of core's

// ---------------------------------------------------------------------------------------------
// signatures
std::string signature_entry_name(const std::string& key_id_hex);
std::string signature_text(const Key& k, std::string_view manifest);
Entry signature_entry(const Key& k, std::string_view manifest);
// The legacy (non-prehashed, algorithm "Ed") form, which readers refuse.
std::string legacy_signature_text(const Key& k, std::string_view manifest);

// ---------------------------------------------------------------------------------------------
// the good bundle
struct PayloadFile {
  std::string path;
  std::string content;
  bool executable = false;
};

struct BundleSpec {
  std::string product = "bench";
  std::string version = "4.5.3";
  std::string created = "2026-05-06T10:00:00Z";
  std::string channel = "recommended";
  std::optional<std::string> expires;
  std::optional<std::string> min_installed;
  std::optional<std::string> trust_update;  // path of a payload file
  std::string notes_path = "notes/en.md";
  std::vector<PayloadFile> files = {
      {"notes/en.md", "# bench 4.5.3\n\nFaster dashboards.\n", false},
      {"bin/migrate.sh", "#!/bin/sh\necho migrating\n", true},
      {"data/table.csv", "id,name\n1,alpha\n2,beta\n", false},
  };
  std::string extra_toml;  // appended verbatim to the manifest
};
std::string manifest_text(const BundleSpec& s);
std::string sha256_hex(std::string_view data);

struct Bundle {
  std::string manifest;        // the manifest.toml entry's bytes as signed
  std::vector<Entry> head;     // [0] manifest.toml, then the signature entries
  std::vector<Entry> payload;  // in [[files]] order
  bool end_marker = true;
  std::string after_end;     // decompressed bytes after the end marker (inside the zstd stream)
  std::string after_stream;  // raw bytes after the last zstd frame

  std::string tar() const;
  // Frames as writers make them: manifest | signatures | payload + end marker + after_end.
  std::string bytes() const;
  void write(const std::filesystem::path& p) const;
  // Replaces the signature entries with fresh ones over `manifest` by `signers`.
  void resign(const std::vector<const Key*>& signers);
};

Bundle good_bundle(const BundleSpec& s, const std::vector<const Key*>& signers);

}  // namespace airlock::test::craft

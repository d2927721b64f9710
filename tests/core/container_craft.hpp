// Byte-level crafting of tar headers and zstd frames for the container tests: every must-reject
// input is built here from parts that are otherwise valid (correct checksum, real zstd frames),
// so each test breaks exactly one rule.
#pragma once

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/container/container.hpp"

namespace airlock::test {

// One ustar header block. Numeric fields are written as strings so that tests can break them.
struct Hdr {
  std::string name = "file.txt";
  std::string mode = "0000644";
  std::string uid = "0000000";
  std::string gid = "0000000";
  std::string size = "00000000000";
  std::string mtime = "14677537140";
  char typeflag = '0';
  std::string linkname;
  std::string magic = std::string("ustar\0", 6);
  std::string version = "00";
  std::string uname, gname;
  std::string devmajor = "0000000";
  std::string devminor = "0000000";
  std::string prefix;
  bool fix_checksum = true;  // false: leave the checksum field as given in `checksum`
  std::string checksum;      // used when fix_checksum is false
  std::string raw_size;      // when non-empty: the 12 bytes of the size field, verbatim

  Hdr& with_size(std::uint64_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%011llo", static_cast<unsigned long long>(n));
    size = buf;
    return *this;
  }
};

inline void put(std::string& b, std::size_t off, const std::string& v, std::size_t max) {
  std::memcpy(&b[off], v.data(), std::min(v.size(), max));
}

inline std::string header(const Hdr& h) {
  std::string b(512, '\0');
  put(b, 0, h.name, 100);
  put(b, 100, h.mode, 8);
  put(b, 108, h.uid, 8);
  put(b, 116, h.gid, 8);
  if (!h.raw_size.empty())
    put(b, 124, h.raw_size, 12);
  else
    put(b, 124, h.size, 12);
  put(b, 136, h.mtime, 12);
  b[156] = h.typeflag;
  put(b, 157, h.linkname, 100);
  put(b, 257, h.magic, 6);
  put(b, 263, h.version, 2);
  put(b, 265, h.uname, 32);
  put(b, 297, h.gname, 32);
  put(b, 329, h.devmajor, 8);
  put(b, 337, h.devminor, 8);
  put(b, 345, h.prefix, 155);
  if (h.fix_checksum) {
    std::memset(&b[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : b) sum += c;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06o", sum);
    std::memcpy(&b[148], buf, 6);
    b[154] = '\0';
    b[155] = ' ';
  } else {
    std::memset(&b[148], 0, 8);
    put(b, 148, h.checksum, 8);
  }
  return b;
}

inline std::string padded(std::string data) {
  data.resize((data.size() + 511) / 512 * 512, '\0');
  return data;
}

// A regular-file entry: header + data + zero padding.
inline std::string entry(const std::string& name, const std::string& data) {
  Hdr h;
  h.name = name;
  h.with_size(data.size());
  return header(h) + padded(data);
}

inline std::string pax_record(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  std::size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

// A pax 'x' header block + its records + padding.
inline std::string pax_header(const std::string& records) {
  Hdr h;
  h.name = "PaxHeader/file.txt";
  h.typeflag = 'x';
  h.with_size(records.size());
  return header(h) + padded(records);
}

inline std::string end_marker() { return std::string(1024, '\0'); }

// One real zstd frame (checksum on, like our writer).
inline std::string zst(const std::string& raw, int level = 3) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  std::size_t n = ZSTD_compress2(c, out.data(), out.size(), raw.data(), raw.size());
  ZSTD_freeCCtx(c);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// A hand-made frame: window 2^window_log (no content size, no checksum), one raw last block.
inline std::string raw_frame(const std::string& content, unsigned window_log) {
  std::string f("\x28\xb5\x2f\xfd", 4);
  f += '\0';                                                               // frame header descriptor: nothing optional
  f += static_cast<char>((window_log - 10) << 3);                          // window descriptor: exponent, mantissa 0
  std::uint32_t bh = static_cast<std::uint32_t>(content.size()) << 3 | 1;  // raw, last block
  f += static_cast<char>(bh & 0xff);
  f += static_cast<char>((bh >> 8) & 0xff);
  f += static_cast<char>((bh >> 16) & 0xff);
  return f + content;
}

inline std::string skippable_frame(const std::string& content) {
  std::string f("\x50\x2a\x4d\x18", 4);
  std::uint32_t n = static_cast<std::uint32_t>(content.size());
  for (int i = 0; i < 4; ++i) f += static_cast<char>((n >> (8 * i)) & 0xff);
  return f + content;
}

struct ReadBack {
  std::vector<std::pair<std::string, std::string>> entries;  // path, content
};

// The whole reading stack over `bytes`: every entry, then finish().
inline Result<ReadBack> read_container(const std::string& bytes) {
  auto src = memory_source(bytes, "test.tar.zst");
  ZstdReader z(*src);
  TarReader t(z);
  ReadBack out;
  for (;;) {
    auto e = t.next();
    if (!e) return tl::unexpected(e.error());
    if (!*e) break;
    std::string content;
    char buf[700];  // odd size: reads that straddle blocks and frames
    for (;;) {
      auto n = t.read(buf, sizeof buf);
      if (!n) return tl::unexpected(n.error());
      if (*n == 0) break;
      content.append(buf, *n);
    }
    if (content.size() != (*e)->size) return fail(ErrorClass::internal, "size mismatch in test reader");
    out.entries.emplace_back((*e)->path, std::move(content));
  }
  auto f = t.finish();
  if (!f) return tl::unexpected(f.error());
  return out;
}

}  // namespace airlock::test

// Strict ustar header and pax record grammar (spec §1). Lenient tar readers accept base-256
// numbers, old-style '\0' typeflags, GNU long names and many pax keys; a bundle may use none of
// them, so that every reader agrees on every entry's name and extent.
#include "core/container/tar_header.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace airlock::detail {
namespace {

// ustar field offsets and widths (POSIX.1-1988 / pax).
struct Field {
  std::size_t off, len;
  const char* name;
};
constexpr Field kName{0, 100, "name"}, kMode{100, 8, "mode"}, kUid{108, 8, "uid"}, kGid{116, 8, "gid"},
    kSize{124, 12, "size"}, kMtime{136, 12, "mtime"}, kChksum{148, 8, "chksum"}, kLinkname{157, 100, "linkname"},
    kDevmajor{329, 8, "devmajor"}, kDevminor{337, 8, "devminor"}, kPrefix{345, 155, "prefix"};
constexpr std::size_t kTypeflagOff = 156, kMagicOff = 257, kVersionOff = 263;

Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorClass::malformed, where + ": " + what);
}

std::string printable(const unsigned char* p, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f) {
      out += static_cast<char>(p[i]);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", p[i]);
      out += hex;
    }
  }
  return out;
}

// Octal digits (leading zeros fine), then only spaces and NULs: what GNU tar ("0000644\0") and
// libarchive ("000644 \0") write. `may_be_empty`: an all-NUL field (GNU tar leaves devmajor and
// devminor empty in pax headers).
Result<std::uint64_t> parse_octal(const unsigned char* block, const Field& f, const std::string& where,
                                  bool may_be_empty = false) {
  const unsigned char* p = block + f.off;
  if (p[0] & 0x80)
    return fail(bad(where, std::string("base-256 number in field '") + f.name + "' (only octal is allowed)"));
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < f.len && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + (p[i] - '0');
  if (i == 0) {
    if (may_be_empty && std::all_of(p, p + f.len, [](unsigned char c) { return c == 0; })) return std::uint64_t{0};
    return fail(
        bad(where, std::string("field '") + f.name + "' is not an octal number: \"" + printable(p, f.len) + "\""));
  }
  for (; i < f.len; ++i)
    if (p[i] != ' ' && p[i] != 0)
      return fail(
          bad(where, std::string("field '") + f.name + "' is not an octal number: \"" + printable(p, f.len) + "\""));
  return v;
}

// A NUL-terminated string field: bytes up to the first NUL (or the whole field); all bytes after
// that NUL must be NUL too, so no name hides behind an embedded NUL.
Result<std::string> parse_string(const unsigned char* block, const Field& f, const std::string& where) {
  const unsigned char* p = block + f.off;
  const unsigned char* end = std::find(p, p + f.len, 0);
  if (!std::all_of(end, p + f.len, [](unsigned char c) { return c == 0; }))
    return fail(bad(where, std::string("field '") + f.name + "' has bytes after its terminating NUL"));
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
}

std::string typeflag_refusal(char t) {
  switch (t) {
    case '\0':
      return "old-style regular file (typeflag NUL; only '0' is allowed)";
    case '1':
      return "hard link (typeflag '1')";
    case '2':
      return "symbolic link (typeflag '2')";
    case '3':
      return "character device (typeflag '3')";
    case '4':
      return "block device (typeflag '4')";
    case '5':
      return "directory (typeflag '5')";
    case '6':
      return "FIFO (typeflag '6')";
    case '7':
      return "contiguous file (typeflag '7')";
    case 'g':
      return "pax global header (typeflag 'g')";
    case 'L':
      return "GNU long name (typeflag 'L')";
    case 'K':
      return "GNU long link name (typeflag 'K')";
    case 'S':
      return "GNU sparse file (typeflag 'S')";
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unsupported typeflag 0x%02x", static_cast<unsigned char>(t));
      return buf;
    }
  }
}

Status check_magic_and_checksum(const unsigned char* b, const std::string& where) {
  if (std::memcmp(b + kMagicOff, "ustar\0", 6) != 0 || std::memcmp(b + kVersionOff, "00", 2) != 0)
    return fail(bad(where, "not a ustar header (magic \"" + printable(b + kMagicOff, 6) + "\", version \"" +
                               printable(b + kVersionOff, 2) + "\"; want \"ustar\\x00\" and \"00\")"));
  auto stored_r = parse_octal(b, kChksum, where);
  if (!stored_r) return fail(stored_r.error());
  const std::uint64_t stored = *stored_r;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kTarBlock; ++i) sum += (i >= kChksum.off && i < kChksum.off + kChksum.len) ? ' ' : b[i];
  if (sum != stored)
    return fail(bad(where, "header checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                               std::to_string(sum) + ")"));
  return {};
}

}  // namespace

bool is_zero_block(const unsigned char* block) {
  return std::all_of(block, block + kTarBlock, [](unsigned char c) { return c == 0; });
}

Result<UstarHeader> parse_ustar_header(const unsigned char* b, const std::string& where) {
  // The header's own faults already name `where`; no extra context is added on the way out.
  if (auto st = check_magic_and_checksum(b, where); !st) return fail(st.error());
  UstarHeader h;
  h.typeflag = static_cast<char>(b[kTypeflagOff]);
  if (h.typeflag != '0' && h.typeflag != 'x')
    return fail(bad(where, "refused entry type: " + typeflag_refusal(h.typeflag)));
  for (const Field* f : {&kMode, &kUid, &kGid, &kMtime, &kDevmajor, &kDevminor})
    if (auto v = parse_octal(b, *f, where, f == &kDevmajor || f == &kDevminor); !v) return fail(v.error());
  auto size = parse_octal(b, kSize, where);
  if (!size) return fail(size.error());
  h.size = *size;
  auto name = parse_string(b, kName, where);
  if (!name) return fail(name.error());
  auto prefix = parse_string(b, kPrefix, where);
  if (!prefix) return fail(prefix.error());
  auto link = parse_string(b, kLinkname, where);
  if (!link) return fail(link.error());
  if (name->empty()) return fail(bad(where, "empty name field"));
  if (!link->empty()) return fail(bad(where, "regular file with a link name '" + *link + "'"));
  h.path = prefix->empty() ? *name : *prefix + "/" + *name;
  return h;
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal without sign or superfluous leading zeros, fitting in 63 bits.
std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > (1ull << 62)) return std::nullopt;
  return v;
}

// pax times: [-]digits[.digits]
bool valid_time(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  auto dot = s.find('.');
  if (dot == std::string_view::npos) return all_digits(s);
  return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

Status check_value(std::string_view key, std::string_view value, PaxRecords& out, const std::string& where) {
  auto refuse = [&](const char* why) { return fail(bad(where, "pax record '" + std::string(key) + "' " + why)); };
  if (value.find('\0') != std::string_view::npos) return refuse("contains a NUL byte");
  if (key == "path") {
    if (value.empty()) return refuse("is empty");
    out.path = std::string(value);
  } else if (key == "size") {
    auto v = parse_decimal(value);
    if (!v) return refuse("is not a decimal size");
    out.size = *v;
  } else if (key == "mtime" || key == "atime" || key == "ctime") {
    if (!valid_time(value)) return refuse("is not a time ([-]seconds[.fraction])");
  } else if (key == "uid" || key == "gid") {
    if (!all_digits(value)) return refuse("is not a decimal id");
  } else if (key != "uname" && key != "gname") {
    return fail(bad(where, "pax key '" + std::string(key) +
                               "' is not allowed (only path, size, mtime, atime, "
                               "ctime, uid, gid, uname, gname)"));
  }
  return {};
}

}  // namespace

Result<PaxRecords> parse_pax_records(std::string_view data, const std::string& where) {
  PaxRecords out;
  std::array<std::string, 9> seen;
  std::size_t nseen = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::string at = "pax record at byte " + std::to_string(pos);
    std::string_view rest = data.substr(pos);
    auto sp = rest.find(' ');
    auto len = sp == std::string_view::npos ? std::nullopt : parse_decimal(rest.substr(0, sp));
    if (!len) return fail(bad(where, at + ": no decimal length followed by a space"));
    if (*len > rest.size() || *len < sp + 3)
      return fail(bad(where, at + ": length " + std::to_string(*len) + " does not fit the header (" +
                                 std::to_string(rest.size()) + " bytes left)"));
    std::string_view record = rest.substr(0, *len);
    if (record.back() != '\n')
      return fail(bad(where, at + ": length " + std::to_string(*len) + " does not end at a newline"));
    std::string_view body = record.substr(sp + 1, record.size() - sp - 2);
    auto eq = body.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail(bad(where, at + ": not 'key=value'"));
    std::string_view key = body.substr(0, eq);
    if (body.substr(eq + 1).find('\n') != std::string_view::npos)
      return fail(bad(where, at + ": a newline inside the value (or a wrong length)"));
    for (std::size_t i = 0; i < nseen; ++i)
      if (seen[i] == key) return fail(bad(where, at + ": pax key '" + std::string(key) + "' given twice"));
    std::string record_where = where;
    record_where.append(", ").append(at);
    if (auto st = check_value(key, body.substr(eq + 1), out, record_where); !st) return fail(st.error());
    if (nseen < seen.size()) seen[nseen++] = std::string(key);
    pos += *len;
  }
  return out;
}

}  // namespace airlock::detail

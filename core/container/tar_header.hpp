// Strict parsing of one ustar header block and of a pax extended header's records (spec §1).
// Private to core's container code (core/container/tar_reader.cpp); pure functions over bytes, so the
// grammar is tested without any I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace airlock::detail {

inline constexpr std::size_t kTarBlock = 512;
inline constexpr std::uint64_t kUstarSizeLimit = 1ull << 33;  // 8 GiB: ustar's 11 octal digits end here

bool is_zero_block(const unsigned char* block);

struct UstarHeader {
  char typeflag = 0;  // '0' or 'x' (everything else is refused while parsing)
  std::string path;   // prefix "/" name, or name when the prefix is empty
  std::uint64_t size = 0;
};

// Checks magic "ustar\0" + "00", the checksum, every numeric field (octal digits, then only
// spaces/NULs), the typeflag, and the name/prefix/linkname fields. `where` names the block in
// errors ("tar header at offset 1024, after entry 'a'").
[[nodiscard]] Result<UstarHeader> parse_ustar_header(const unsigned char* block, const std::string& where);

struct PaxRecords {
  std::optional<std::string> path;
  std::optional<std::uint64_t> size;
};

// Parses "LEN key=value\n" records; only the keys path, size, mtime, atime, ctime, uid, gid, uname,
// gname are allowed, each at most once.
[[nodiscard]] Result<PaxRecords> parse_pax_records(std::string_view data, const std::string& where);

}  // namespace airlock::detail

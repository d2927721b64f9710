// Split transport (spec §9): a bundle too large for one file system's files travels as
// <bundle>.part0001, .part0002, ... whose plain concatenation is the bundle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/sys/fs.hpp"

namespace airlock::bundler {

inline constexpr std::uint64_t kFat32MaxFileBytes = 4294967295;  // 4 GiB - 1 byte
// Part 1 is this much shorter than the others, so that `sign` (which rewrites part 1 only) can add
// signatures up to the most a bundle may hold and part 1 still fits the size asked for.
inline constexpr std::uint64_t kSplitHeadroomBytes = 128 * 1024;
inline constexpr std::uint64_t kMinSplitBytes = 1024 * 1024;
inline constexpr std::size_t kMaxParts = 9999;  // four digits: .part0001 ... .part9999

// A byte count with an optional unit: K, M, G (powers of 1024; KiB, MiB, GiB, and k, m, g, are the
// same). Usage error (2) otherwise, naming `option` and ending with `examples` of what it takes.
[[nodiscard]] Result<std::uint64_t> parse_byte_size(std::string_view text, const std::string& option,
                                                    const std::string& examples);
// "fat32" (4294967295), or a byte count as parse_byte_size takes it.
[[nodiscard]] Result<std::uint64_t> parse_split_size(std::string_view text);
// Refuses (2) a size below kMinSplitBytes, and one of 4 GiB or more unless `force` (such a part
// fits no FAT32 stick).
[[nodiscard]] Status check_split_size(std::uint64_t part_bytes, bool force);
// The size of each part of a bundle of `total` bytes: the first part_bytes - kSplitHeadroomBytes,
// the others part_bytes, the last what remains.
[[nodiscard]] std::vector<std::uint64_t> split_sizes(std::uint64_t total, std::uint64_t part_bytes);

// `whole` holds the finished bundle of `total` bytes and commits to `out`.part0001. Parts are cut
// from its end (each written through a temporary file, fsync, rename), the file truncated after
// each, so the disk holds at most one part more than the bundle; part 1 is committed last. Parts
// left from an earlier build beyond the new last part are removed. On failure the parts this call
// committed are removed again. Returns the part paths in order.
[[nodiscard]] Result<std::vector<std::string>> commit_parts(AtomicFile& whole, std::uint64_t total,
                                                            const std::string& out, std::uint64_t part_bytes);

}  // namespace airlock::bundler

// Split transport (spec §9): a built bundle cut into `<bundle>.part0001`, `.part0002`, ... whose
// plain concatenation is the bundle, for file systems that cap a file's size (FAT32: 4 GiB - 1).
// Part 1 is kept kHeadHeadroom smaller than the others, so that `sign`, which rewrites the head
// (in part 1) when it adds a signature, still fits the head grown to 16 signatures into it.
// Readers already take the parts as one stream (core/container: open_source).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace airlock::bundler {

inline constexpr std::uint64_t kFat32MaxFile = 4294967295ull;
inline constexpr std::uint64_t kHeadHeadroom = 128ull << 10;  // >= 16 signature entries, tar padded
inline constexpr std::uint64_t kPartLimit = 4ull << 30;       // parts this large need --force

// "fat32", or a byte count with an optional K/M/G (powers of 1024) suffix; nullopt otherwise.
std::optional<std::uint64_t> parse_part_size(std::string_view text);

enum class SplitForce { no, yes };
// The size rules below, for a caller that checks them before building.
[[nodiscard]] Status check_part_size(std::uint64_t part_bytes, SplitForce force);
// Cuts `bundle` into parts of at most `part_bytes` (each written through a temporary, fsynced,
// renamed), removes parts of an earlier split beyond the new last, then removes `bundle`.
// Refused (usage): a size not above kHeadHeadroom; one of 4 GiB or more without `force`.
// Returns the part paths in order.
[[nodiscard]] Result<std::vector<std::string>> split_bundle(const std::string& bundle, std::uint64_t part_bytes,
                                                            SplitForce force);

}  // namespace airlock::bundler

// Cutting a built bundle into parts (split.hpp). The parts are never joined again on disk: readers
// take them as one stream (core/container/source.cpp).
#include "bundler/split.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>

#include "bundler/copy_range.hpp"
#include "bundler/propagate.hpp"
#include "core/container/container.hpp"
#include "core/limits.hpp"

namespace airlock::bundler {

// Each signature entry is a tar header and a minisign text well under 1 KiB, in a zstd frame of its
// own: 2 KiB each is a generous bound.
static_assert(kMaxSignatureEntries * 2048 <= kSplitHeadroomBytes, "part 1 must have room for every signature");

Result<std::uint64_t> parse_byte_size(std::string_view text, const std::string& option, const std::string& examples) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorClass::usage,
                 option + " '" + std::string(text) + "': " + why + " (give a byte count such as " + examples + ")");
  };
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return fail(bad("not a size"));
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  unsigned shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "k" || unit == "KiB")
    shift = 10;
  else if (unit == "M" || unit == "m" || unit == "MiB")
    shift = 20;
  else if (unit == "G" || unit == "g" || unit == "GiB")
    shift = 30;
  else
    return fail(bad("unknown unit '" + std::string(unit) + "'"));
  if (shift > 0 && n > (~std::uint64_t{0} >> shift)) return fail(bad("too large"));
  return n << shift;
}

Result<std::uint64_t> parse_split_size(std::string_view text) {
  if (text == "fat32" || text == "FAT32") return kFat32MaxFileBytes;
  return parse_byte_size(text, "--split", "2G, 700M, or fat32");
}

Status check_split_size(std::uint64_t part_bytes, bool force) {
  if (part_bytes < kMinSplitBytes)
    return fail(ErrorClass::usage, "--split " + std::to_string(part_bytes) + ": a part must hold at least " +
                                       std::to_string(kMinSplitBytes) + " bytes (1 MiB)");
  if (part_bytes > kFat32MaxFileBytes && !force)
    return fail(ErrorClass::usage, "--split " + std::to_string(part_bytes) +
                                       ": parts of 4 GiB or more fit no FAT32 stick (fat32 is 4294967295 bytes); "
                                       "add --force if the sticks use another file system");
  return {};
}

std::vector<std::uint64_t> split_sizes(std::uint64_t total, std::uint64_t part_bytes) {
  std::vector<std::uint64_t> out;
  std::uint64_t left = total;
  std::uint64_t cap = part_bytes - kSplitHeadroomBytes;
  do {
    out.push_back(std::min(left, cap));
    left -= out.back();
    cap = part_bytes;
  } while (left > 0);
  return out;
}

Result<std::vector<std::string>> commit_parts(AtomicFile& whole, std::uint64_t total, const std::string& out,
                                              std::uint64_t part_bytes) {
  const auto sizes = split_sizes(total, part_bytes);
  if (sizes.size() > kMaxParts)
    return fail(ErrorClass::usage, "--split " + std::to_string(part_bytes) + " would cut the bundle into " +
                                       std::to_string(sizes.size()) + " parts, more than " + std::to_string(kMaxParts) +
                                       ": give a larger size");
  std::vector<std::uint64_t> offset(sizes.size(), 0);
  for (std::size_t i = 1; i < sizes.size(); ++i) offset[i] = offset[i - 1] + sizes[i - 1];
  std::vector<std::string> done;  // committed by this call, removed again on failure
  auto undo = [&](Error e) {
    for (const auto& p : done) ::unlink(p.c_str());
    return fail(std::move(e));
  };
  for (std::size_t i = sizes.size(); i-- > 1;) {
    const std::string name = part_name(out, static_cast<unsigned>(i + 1));
    auto part = AtomicFile::create(name, 0644);
    if (!part) return undo(part.error());
    if (auto s = copy_range(whole.fd(), offset[i], offset[i] + sizes[i], part->fd(), whole.path(), name); !s)
      return undo(s.error());
    if (auto s = part->commit(); !s) return undo(s.error());
    done.push_back(name);
    if (::ftruncate(whole.fd(), static_cast<off_t>(offset[i])) != 0)
      return undo(errno_error("truncate", whole.path(), errno));
  }
  if (auto s = whole.commit(); !s) return undo(s.error());
  // A part beyond the new last one, left by an earlier build, would be read as part of this bundle.
  std::error_code ec;
  for (auto n = static_cast<unsigned>(sizes.size()) + 1;
       n <= kMaxParts && std::filesystem::exists(part_name(out, n), ec); ++n)
    if (::unlink(part_name(out, n).c_str()) != 0) return fail(errno_error("remove", part_name(out, n), errno));
  std::vector<std::string> names;
  for (std::size_t i = 0; i < sizes.size(); ++i) names.push_back(part_name(out, static_cast<unsigned>(i + 1)));
  return names;
}

}  // namespace airlock::bundler

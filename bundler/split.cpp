#include "bundler/split.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::bundler {

namespace {

std::string part_path(const std::string& bundle, std::size_t n) {
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, ".part%04zu", n);
  return bundle + suffix;
}

Status copy_part(int in, const std::string& in_path, std::uint64_t bytes, const std::string& out_path) {
  AIRLOCK_TRY(AtomicFile out, AtomicFile::create(out_path, 0644), "writing part '" + out_path + "'");
  std::vector<char> buf(1 << 20);
  while (bytes > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, buf.size()));
    AIRLOCK_TRY(std::size_t n, read_full(in, buf.data(), want, in_path), "splitting");
    if (n != want) return fail(ErrorClass::io, "'" + in_path + "' ended early while it was split");
    AIRLOCK_CHECK(out.write(buf.data(), n), "writing part '" + out_path + "'");
    bytes -= n;
  }
  return out.commit();
}

}  // namespace

std::optional<std::uint64_t> parse_part_size(std::string_view text) {
  if (text == "fat32") return kFat32MaxFile;
  std::uint64_t n = 0, unit = 1;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  const std::string_view suffix = text.substr(i);
  if (suffix == "K")
    unit = 1ull << 10;
  else if (suffix == "M")
    unit = 1ull << 20;
  else if (suffix == "G")
    unit = 1ull << 30;
  else if (!suffix.empty())
    return std::nullopt;
  if (n > UINT64_MAX / unit) return std::nullopt;
  return n * unit;
}

Status check_part_size(std::uint64_t part_bytes, SplitForce force) {
  if (part_bytes <= kHeadHeadroom)
    return fail(ErrorClass::usage, "split: parts of " + std::to_string(part_bytes) +
                                       " bytes leave no room beside the " + std::to_string(kHeadHeadroom) +
                                       " bytes part 1 keeps for more signatures");
  if (part_bytes >= kPartLimit && force == SplitForce::no)
    return fail(ErrorClass::usage, "split: parts of " + std::to_string(part_bytes) +
                                       " bytes do not fit FAT32 (at most 4294967295, `fat32`); --force to write them");
  return {};
}

Result<std::vector<std::string>> split_bundle(const std::string& bundle, std::uint64_t part_bytes, SplitForce force) {
  AIRLOCK_CHECK(check_part_size(part_bytes, force), "split");
  Fd in(::open(bundle.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return fail(errno_error("open", bundle, errno));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(errno_error("stat", bundle, errno));
  std::uint64_t left = static_cast<std::uint64_t>(st.st_size);
  std::vector<std::string> parts;
  for (std::size_t n = 1; left > 0 || n == 1; ++n) {
    const std::uint64_t cap = n == 1 ? part_bytes - kHeadHeadroom : part_bytes;
    const std::uint64_t take = std::min(left, cap);
    parts.push_back(part_path(bundle, n));
    AIRLOCK_CHECK(copy_part(in.get(), bundle, take, parts.back()), "splitting '" + bundle + "'");
    left -= take;
  }
  // A part beyond the new last, left by an earlier split, would be read as part of this bundle.
  for (std::size_t n = parts.size() + 1;; ++n) {
    const std::string stale = part_path(bundle, n);
    if (sys::unlink(stale.c_str()) != 0) break;
  }
  if (sys::unlink(bundle.c_str()) != 0) return fail(errno_error("remove", bundle, errno));
  AIRLOCK_CHECK(fsync_dir(parent_dir(bundle)), "splitting '" + bundle + "'");
  return parts;
}

}  // namespace airlock::bundler

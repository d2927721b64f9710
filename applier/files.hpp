// Small crash-safe file operations of the applier: file hashes, the release
// pointer (<state_dir>/current, a symlink switched by rename), free space.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/sys/fs.hpp"  // copy_file_synced, fsync_file

namespace airlock::applier {

// "" when absent.
std::string read_pointer(const std::string& state_dir);
// Atomic: symlink "current.tmp" -> target, rename over "current", fsync the folder. "" removes it.
[[nodiscard]] airlock::Status write_pointer(const std::string& state_dir, const std::string& target);

[[nodiscard]] Result<std::uint64_t> free_bytes(const std::string& path);
std::uint64_t file_size_or_zero(const std::string& path);
// Removes a folder tree; missing is fine.
[[nodiscard]] airlock::Status remove_tree(const std::string& path);

}  // namespace airlock::applier

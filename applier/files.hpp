// Small crash-safe file operations of the applier: synced copies, file hashes, the release
// pointer (<state_dir>/current, a symlink switched by rename), free space.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace airlock::applier {

[[nodiscard]] Result<std::string> sha256_file(const std::string& path);
// Copies through an AtomicFile (temp, fsync, rename, fsync folder). A file replaced at `dst`
// keeps its mode and owner; a new one gets `mode`.
[[nodiscard]] airlock::Status copy_file_synced(const std::string& src, const std::string& dst, unsigned mode = 0644);
[[nodiscard]] airlock::Status fsync_file(const std::string& path);
// Removes a SQLite database's side files (-journal, -wal, -shm): a hot journal left by a crashed
// migration must never be replayed into a restored file.
[[nodiscard]] airlock::Status remove_sqlite_side_files(const std::string& db_path);

// "" when absent.
std::string read_pointer(const std::string& state_dir);
// Atomic: symlink "current.tmp" -> target, rename over "current", fsync the folder. "" removes it.
[[nodiscard]] airlock::Status write_pointer(const std::string& state_dir, const std::string& target);

[[nodiscard]] Result<std::uint64_t> free_bytes(const std::string& path);
std::uint64_t file_size_or_zero(const std::string& path);
// Removes a folder tree; missing is fine.
[[nodiscard]] airlock::Status remove_tree(const std::string& path);

}  // namespace airlock::applier

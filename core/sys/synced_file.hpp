// A file made durable and hashed in one go (a database snapshot's copy before it is sealed).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace airlock {

struct SyncedFile {
  std::uint64_t bytes = 0;
  std::string sha256;  // lower-case hex, as sha256_file gives it
};

// fsync_file and sha256_file of a file nobody else writes, side by side: the fsync waits for the
// disk on its own thread while this one hashes the bytes from the page cache, so a large file is
// not read a second time after its flush but during it.
[[nodiscard]] Result<SyncedFile> fsync_and_hash_file(const std::string& path);

}  // namespace airlock

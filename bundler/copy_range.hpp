// copy_range(): bytes [offset, end) of one file appended to another, by copy_file_range (reflinks
// where the file system can), else read/write.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace airlock::bundler {

[[nodiscard]] Status copy_range(int in, std::uint64_t offset, std::uint64_t end, int out_fd, const std::string& in_path,
                                const std::string& out_path);

}  // namespace airlock::bundler

// copy_range(): the one byte copier of the bundler (sign's payload tail, split's parts).
#include "bundler/copy_range.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "bundler/propagate.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::bundler {

namespace {
inline constexpr std::size_t kCopyChunk = 1 << 20;
}  // namespace

// Copies [offset, end) of `in` to the end of `out_fd`: copy_file_range (reflinks where the file
// system can), else read/write.
Status copy_range(int in, std::uint64_t offset, std::uint64_t end, int out_fd, const std::string& in_path,
                  const std::string& out_path) {
  loff_t off = static_cast<loff_t>(offset);
  bool fast = true;
  std::vector<char> buf;
  while (static_cast<std::uint64_t>(off) < end) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(end - static_cast<std::uint64_t>(off), 1u << 30));
    if (fast) {
      ssize_t n = sys::copy_file_range(in, &off, out_fd, nullptr, want, 0);
      if (n > 0) continue;
      if (n == 0) return fail(ErrorClass::io, "'" + in_path + "' shrank while it was copied");
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
        return fail(errno_error("copy_file_range", out_path, errno));
      fast = false;
      buf.resize(kCopyChunk);
    }
    ssize_t n = ::pread(in, buf.data(), std::min(want, buf.size()), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error("read", in_path, errno));
    if (n == 0) return fail(ErrorClass::io, "'" + in_path + "' shrank while it was copied");
    BUNDLER_CHECK(write_all(out_fd, buf.data(), static_cast<std::size_t>(n), out_path));
    off += n;
  }
  return {};
}

}  // namespace airlock::bundler

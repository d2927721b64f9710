#include "core/sys/synced_file.hpp"

#include <fcntl.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "core/crypto/hash.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock {
namespace {

Result<SyncedFile> hash_fd(int fd, const std::string& path) {
  SyncedFile out;
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    AIRLOCK_TRY(auto n, read_some(fd, buf.data(), buf.size(), path), "hashing");
    if (n == 0) break;
    h.update(buf.data(), n);
    out.bytes += n;
  }
  out.sha256 = to_hex(h.finish());
  return out;
}

}  // namespace

Result<SyncedFile> fsync_and_hash_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  int sync_errno = 0;
  std::thread syncer([&] { sync_errno = sys::fsync(fd.get()) == 0 ? 0 : errno; });
  auto hashed = hash_fd(fd.get(), path);
  syncer.join();
  if (sync_errno != 0) return fail(errno_error("fsync", path, sync_errno));
  return hashed;
}

}  // namespace airlock

#include "applier/files.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "core/crypto/hash.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::applier {

namespace fs = std::filesystem;

std::string read_pointer(const std::string& state_dir) {
  std::error_code ec;
  auto t = fs::read_symlink(state_dir + "/current", ec);
  return ec ? std::string() : t.string();
}

airlock::Status write_pointer(const std::string& state_dir, const std::string& target) {
  std::string cur = state_dir + "/current";
  if (target.empty()) {
    if (sys::unlink(cur.c_str()) != 0 && errno != ENOENT) return fail(errno_error("remove", cur, errno));
    return fsync_dir(state_dir);
  }
  std::string tmp = state_dir + "/current.tmp";
  (void)sys::unlink(tmp.c_str());
  if (sys::symlink(target.c_str(), tmp.c_str()) != 0) return fail(errno_error("symlink", tmp, errno));
  if (sys::rename(tmp.c_str(), cur.c_str()) != 0) return fail(errno_error("rename", cur, errno));
  return fsync_dir(state_dir);
}

Result<std::uint64_t> free_bytes(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return fail(errno_error("statvfs", path, errno));
  return static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
}

std::uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

airlock::Status remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fail(ErrorClass::io, "remove '" + path + "': " + ec.message());
  return {};
}

}  // namespace airlock::applier

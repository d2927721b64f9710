#include "applier/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <filesystem>

#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::applier {

Result<SiteLock> SiteLock::acquire(const std::string& state_dir) {
  // The state folder holds copies of every config (secrets) and database: its owner's only.
  AIRLOCK_CHECK(make_private_dir(state_dir), "site lock");
  std::string path = state_dir + "/lock";
  Fd fd(sys::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail(errno_error("open lock file", path, errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return fail(ErrorClass::busy, "site is busy: another apply or recovery holds '" + path + "'");
    return fail(errno_error("lock", path, errno));
  }
  return SiteLock(std::move(fd));
}

bool SiteLock::held_elsewhere(const std::string& state_dir) {
  std::string path = state_dir + "/lock";
  Fd fd(sys::open(path.c_str(), O_RDONLY | O_CLOEXEC, 0));
  if (!fd.valid()) return false;  // no lock file: no run ever started here
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return errno == EWOULDBLOCK;
  (void)::flock(fd.get(), LOCK_UN);
  return false;
}

}  // namespace airlock::applier

// SiteLock: flock(LOCK_EX|LOCK_NB) on <state_dir>/lock. The kernel drops it when the process dies,
// so a crash never leaves the site locked; a second apply/recover gets ErrorClass::busy (32).
#pragma once

#include <string>

#include "core/error.hpp"
#include "core/sys/fd.hpp"

namespace airlock::applier {

class SiteLock {
 public:
  [[nodiscard]] static Result<SiteLock> acquire(const std::string& state_dir);
  // True while another process holds the lock (a run is live). Takes nothing and creates nothing.
  static bool held_elsewhere(const std::string& state_dir);

 private:
  explicit SiteLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace airlock::applier

// Helpers for tests of file modes and owners: the umask for one scope, and a path's mode.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace airlock::test {

// The process's umask for one scope.
class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t old_;
};

// lstat(2) of p (a failure is a test failure).
inline struct stat stat_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}
inline unsigned mode_of(const std::filesystem::path& p) { return stat_of(p).st_mode & 07777; }

}  // namespace airlock::test

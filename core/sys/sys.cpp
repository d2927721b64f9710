// The seam's wrappers and its fault plan. The fast path is the relaxed load of g_armed; everything
// else (counting, the op log) runs only while a test has a plan armed, under one mutex, so the
// count, the op log and the decision to fail are consistent across threads.
#include "core/sys/sys.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace airlock::sys {
namespace {

struct State {
  std::mutex mu;
  FaultPlan plan;
  std::uint64_t count = 0;
  const char* fired_op = nullptr;
  std::vector<const char*> ops;
};

std::atomic<bool> g_armed{false};
std::atomic<bool> g_in_use{false};

State& state() {
  static State s;
  return s;
}

// Runs `call` unless the plan fails this call: then -1 with errno set, the call not performed.
template <class F>
auto guarded(const char* op, bool takes_space, F call) -> decltype(call()) {
  if (const int e = fault_check(op, takes_space)) {
    errno = e;
    return -1;
  }
  return call();
}

bool open_mutates(int flags) {
  return (flags & (O_CREAT | O_TRUNC)) != 0 || (flags & O_TMPFILE) == O_TMPFILE || (flags & O_ACCMODE) != O_RDONLY;
}

// Whether an open can need room on the disk: only when it may create or truncate. Asked only while
// a plan is armed (it costs a syscall), so a full disk still lets us open existing files.
bool open_takes_space(int dir, const char* path, int flags) {
  if ((flags & O_TMPFILE) == O_TMPFILE || (flags & (O_TRUNC | O_EXCL)) != 0) return true;
  if ((flags & O_CREAT) == 0) return false;
  return !fault_plan_armed() || ::faccessat(dir, path, F_OK, AT_SYMLINK_NOFOLLOW) != 0;
}

}  // namespace

bool fault_plan_armed() { return g_armed.load(std::memory_order_relaxed); }

int fault_check(const char* op, bool takes_space) {
  if (!g_armed.load(std::memory_order_relaxed)) return 0;
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!g_armed.load(std::memory_order_acquire)) return 0;
  const std::uint64_t n = ++s.count;
  s.ops.push_back(op);
  if (s.plan.err == 0 || s.plan.nth == 0) return 0;
  // A full disk still lets you delete, or open what exists: ENOSPC never fails a call that takes no
  // room (it is counted all the same).
  if (!takes_space && s.plan.err == ENOSPC) return 0;
  const bool hit = n == s.plan.nth || (s.plan.sticky && takes_space && n > s.plan.nth);
  if (!hit) return 0;
  if (!s.fired_op) s.fired_op = op;
  return s.plan.err;
}

ArmedFault::ArmedFault(FaultPlan plan) {
  if (g_in_use.exchange(true)) {
    // Two plans at once would make both counts meaningless: a test bug, not a runtime condition.
    std::fputs("airlock::sys::ArmedFault: a fault plan is already armed\n", stderr);
    std::abort();
  }
  State& s = state();
  std::lock_guard lock(s.mu);
  s.plan = plan;
  s.count = 0;
  s.fired_op = nullptr;
  s.ops.clear();
  g_armed.store(true, std::memory_order_release);
}

ArmedFault::~ArmedFault() {
  {
    std::lock_guard lock(state().mu);
    g_armed.store(false, std::memory_order_release);
  }
  g_in_use.store(false);
}

std::uint64_t ArmedFault::calls() const {
  std::lock_guard lock(state().mu);
  return state().count;
}

bool ArmedFault::fired() const {
  std::lock_guard lock(state().mu);
  return state().fired_op != nullptr;
}

std::string ArmedFault::fired_op() const {
  std::lock_guard lock(state().mu);
  return state().fired_op ? state().fired_op : "";
}

std::vector<std::string> ArmedFault::ops() const {
  std::lock_guard lock(state().mu);
  return {state().ops.begin(), state().ops.end()};
}

ssize_t write(int fd, const void* buf, std::size_t len) {
  return guarded("write", true, [&] { return ::write(fd, buf, len); });
}
ssize_t pwrite(int fd, const void* buf, std::size_t len, off_t offset) {
  return guarded("pwrite", true, [&] { return ::pwrite(fd, buf, len, offset); });
}
int fsync(int fd) {
  return guarded("fsync", true, [&] { return ::fsync(fd); });
}
int fdatasync(int fd) {
  return guarded("fdatasync", true, [&] { return ::fdatasync(fd); });
}
int ftruncate(int fd, off_t length) {
  return guarded("ftruncate", true, [&] { return ::ftruncate(fd, length); });
}
int fchmod(int fd, mode_t mode) {
  return guarded("fchmod", true, [&] { return ::fchmod(fd, mode); });
}
int fchown(int fd, uid_t owner, gid_t group) {
  return guarded("fchown", true, [&] { return ::fchown(fd, owner, group); });
}
int chmod(const char* path, mode_t mode) {
  return guarded("chmod", true, [&] { return ::chmod(path, mode); });
}
ssize_t copy_file_range(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, std::size_t len, unsigned flags) {
  return guarded("copy_file_range", true,
                 [&] { return ::copy_file_range(fd_in, off_in, fd_out, off_out, len, flags); });
}
int rename(const char* from, const char* to) {
  return guarded("rename", true, [&] { return ::rename(from, to); });
}
int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  return guarded("renameat", true, [&] { return ::renameat(from_dir, from, to_dir, to); });
}
int mkdir(const char* path, mode_t mode) {
  return guarded("mkdir", true, [&] { return ::mkdir(path, mode); });
}
int mkdirat(int dir, const char* path, mode_t mode) {
  return guarded("mkdirat", true, [&] { return ::mkdirat(dir, path, mode); });
}
int open(const char* path, int flags, mode_t mode) {
  if (!open_mutates(flags)) return ::open(path, flags, mode);
  return guarded("open", open_takes_space(AT_FDCWD, path, flags), [&] { return ::open(path, flags, mode); });
}
int openat(int dir, const char* path, int flags, mode_t mode) {
  if (!open_mutates(flags)) return ::openat(dir, path, flags, mode);
  return guarded("openat", open_takes_space(dir, path, flags), [&] { return ::openat(dir, path, flags, mode); });
}
int mkostemp(char* tmpl, int flags) {
  return guarded("mkostemp", true, [&] { return ::mkostemp(tmpl, flags); });
}
int symlink(const char* target, const char* link_path) {
  return guarded("symlink", true, [&] { return ::symlink(target, link_path); });
}
int symlinkat(const char* target, int dir, const char* link_path) {
  return guarded("symlinkat", true, [&] { return ::symlinkat(target, dir, link_path); });
}
int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
  return guarded("linkat", true, [&] { return ::linkat(from_dir, from, to_dir, to, flags); });
}
int unlink(const char* path) {
  return guarded("unlink", false, [&] { return ::unlink(path); });
}
int unlinkat(int dir, const char* path, int flags) {
  return guarded("unlinkat", false, [&] { return ::unlinkat(dir, path, flags); });
}
int rmdir(const char* path) {
  return guarded("rmdir", false, [&] { return ::rmdir(path); });
}

}  // namespace airlock::sys

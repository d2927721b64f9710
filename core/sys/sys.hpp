// core/sys: the filesystem seam. Every *mutating* filesystem call of our write paths (verify
// --extract, snapshots, migrations, state.db, the applier's files, the bundler's output) goes
// through these thin wrappers instead of libc, so tests can make the Nth such call fail with EIO or
// ENOSPC without performing it — the "injectable disk" of LevelDB's fault_injection_test and
// ninja's DiskInterface. We chose a process-wide seam over threading an Env object through every
// layer: the write paths sit deep under APIs (verifier::verify, applier::apply) whose signatures
// are shared contracts, and SQLite reaches the same seam through its VFS (core/db/db_vfs.cpp).
//
// Production cost: one relaxed atomic load per call; with no plan armed each wrapper is its libc
// call. Reads are not wrapped (faults on reads are the truncation and corruption sweeps' job).
//
// Tests arm a plan with ArmedFault (RAII; one at a time, process-wide):
//   { sys::ArmedFault count({});  run();  n = count.calls(); }          // count a clean run
//   for (k = 1..n) { sys::ArmedFault f({EIO, k});  run();  ... }           // fail call k
// Counting is atomic (the verifier writes from worker threads). A plan fails exactly one call
// (the Nth, counting from arming); later calls succeed again, like a transient I/O error, unless
// `sticky` is set: then every space-taking call from the Nth on fails (a disk that stays full;
// removals and opening existing files still succeed, as they do on a full disk).
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace airlock::sys {

// --- the wrappers: same contract as libc (return -1 and set errno on failure) ---
ssize_t write(int fd, const void* buf, std::size_t len);
ssize_t pwrite(int fd, const void* buf, std::size_t len, off_t offset);
int fsync(int fd);
int fdatasync(int fd);
int ftruncate(int fd, off_t length);
int fchmod(int fd, mode_t mode);
int fchown(int fd, uid_t owner, gid_t group);
int chmod(const char* path, mode_t mode);
ssize_t copy_file_range(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, std::size_t len, unsigned flags);
int rename(const char* from, const char* to);
int renameat(int from_dir, const char* from, int to_dir, const char* to);
int mkdir(const char* path, mode_t mode);
int mkdirat(int dir, const char* path, mode_t mode);
// Counted as mutating only when `flags` has O_CREAT, O_TMPFILE, O_TRUNC or a write access mode.
int open(const char* path, int flags, mode_t mode = 0);
int openat(int dir, const char* path, int flags, mode_t mode = 0);
int mkostemp(char* tmpl, int flags);
int symlink(const char* target, const char* link_path);
int symlinkat(const char* target, int dir, const char* link_path);
int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags);
int unlink(const char* path);
int unlinkat(int dir, const char* path, int flags);
int rmdir(const char* path);

// --- fault injection (tests) ---

// Called by every wrapper (and the SQLite VFS shim) before a mutating call. Returns 0 to go ahead,
// or the errno the call must fail with. `op` names the call ("write", "fsync", "sqlite xSync", ...)
// and must be a string literal. `takes_space`: false for calls that need no room on the disk
// (removals; opening an existing file without truncating it): ENOSPC never fails those.
int fault_check(const char* op, bool takes_space = true);
// Whether a plan is armed (one relaxed load): lets a wrapper skip work only a plan needs.
bool fault_plan_armed();

struct FaultPlan {
  int err = 0;            // errno to fail with (EIO, ENOSPC); 0 = count only, never fail
  std::uint64_t nth = 0;  // 1-based index of the mutating call that fails; 0 = none
  bool sticky = false;    // also fail every later space-taking call
};

class ArmedFault {
 public:
  explicit ArmedFault(FaultPlan plan);
  ~ArmedFault();
  ArmedFault(const ArmedFault&) = delete;
  ArmedFault& operator=(const ArmedFault&) = delete;

  // Mutating calls seen since arming (including the failed ones).
  std::uint64_t calls() const;
  // Whether the plan has failed a call, and which ("" when not).
  bool fired() const;
  std::string fired_op() const;
  // The op name of every mutating call seen, in order (for documenting a sweep).
  std::vector<std::string> ops() const;
};

}  // namespace airlock::sys

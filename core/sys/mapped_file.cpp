#include "core/sys/mapped_file.hpp"

#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels say EINVAL
#endif

namespace airlock {
namespace {

std::size_t page_size() {
  static const std::size_t n = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return n;
}

// The guard: a thread inside sigbus_guarded() has its jump buffer here.
thread_local sigjmp_buf* t_guard = nullptr;
struct sigaction g_previous {};

std::atomic<bool> g_can_populate{true};

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  // Ours: a fault (si_code > 0, from the kernel; not a kill) on a thread inside a guard.
  if (sigjmp_buf* to = t_guard; to && info && info->si_code > 0) siglongjmp(*to, 1);
  // Not ours: what was there before decides.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, uctx);
  } else if (g_previous.sa_handler == SIG_IGN) {
    return;
  } else if (g_previous.sa_handler != SIG_DFL) {
    return g_previous.sa_handler(sig);
  }
  // The default action. A fault re-runs the access on return, which now kills the process; a
  // signal that was sent is sent again.
  ::signal(SIGBUS, SIG_DFL);
  if (!info || info->si_code <= 0) ::raise(SIGBUS);
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

// (The handler is installed with the first mapping: before that no access can fault this way.)
bool sigbus_guarded(void (*fn)(void*), void* ctx) {
  sigjmp_buf here;
  sigjmp_buf* const outer = t_guard;
  // savemask=1: the jump out of the handler must unblock SIGBUS again.
  if (sigsetjmp(here, 1) != 0) {
    t_guard = outer;
    return false;
  }
  t_guard = &here;
  fn(ctx);
  t_guard = outer;
  return true;
}

std::shared_ptr<MappedFile> MappedFile::map(int fd, std::string name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return nullptr;
  if (static_cast<std::uint64_t>(st.st_size) > SIZE_MAX / 2) return nullptr;
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) {
    ::munmap(p, size);
    return nullptr;
  }
  (void)::madvise(p, size, MADV_SEQUENTIAL);  // a hint
  install_once();
  return std::shared_ptr<MappedFile>(new MappedFile(static_cast<const unsigned char*>(p), size, std::move(name), own));
}

MappedFile::~MappedFile() {
  ::munmap(const_cast<unsigned char*>(data_), size_);
  ::close(fd_);
}

bool MappedFile::can_populate() { return g_can_populate.load(std::memory_order_relaxed); }

Status MappedFile::populate(std::uint64_t off, std::size_t len) {
  if (!can_populate() || off >= size_) return {};
  const std::uint64_t start = off & ~std::uint64_t{page_size() - 1};
  const std::uint64_t end = std::min<std::uint64_t>(size_, off + len);
  if (::madvise(const_cast<unsigned char*>(data_) + start, end - start, MADV_POPULATE_READ) == 0) return {};
  const int err = errno;
  if (err == EINVAL || err == ENOSYS) {
    g_can_populate.store(false, std::memory_order_relaxed);  // an older kernel: pages fault in as used
    return {};
  }
  if (err == EFAULT)  // an access there would raise SIGBUS: the file shrank, or the disk failed
    return fail(ErrorClass::io, unreadable(start));
  return fail(errno_error("read", name_, err).with_context("at offset " + std::to_string(start)));
}

std::string MappedFile::unreadable(std::uint64_t off) const {
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < size_)
    return name_ + ": could not read the bytes at offset " + std::to_string(off) + ": the file shrank from " +
           std::to_string(size_) + " to " + std::to_string(st.st_size) + " bytes while it was being read";
  return name_ + ": could not read the bytes at offset " + std::to_string(off) + " (of " + std::to_string(size_) +
         "): the disk failed, or the file shrank while it was being read";
}

void MappedFile::release_before(std::uint64_t upto) {
  upto = std::min<std::uint64_t>(upto, size_) & ~std::uint64_t{page_size() - 1};
  if (upto <= released_) return;
  (void)::madvise(const_cast<unsigned char*>(data_) + released_, upto - released_, MADV_DONTNEED);
  released_ = upto;
}

}  // namespace airlock

// MappedFile: a regular file mapped read-only, so that the reader decompresses the bundle straight
// from the page cache instead of read(2)-copying every compressed byte first (that copy
// was 0.17 CPU-s of a 1 GiB verify, on the core the decompressing and hashing threads need).
//
// A mapping has one hazard read(2) does not: a page that cannot be read any more (the file shrank
// under us, or the disk failed) raises SIGBUS instead of returning an error. So:
//  - populate() faults a range in ahead of use with MADV_POPULATE_READ, which returns an error
//    (EFAULT) where an access would raise SIGBUS;
//  - every touch of the mapping runs under sigbus_guarded(): a SIGBUS there becomes an error value
//    (say, the file shrank after it was populated), never a dead process.
// release() drops the pages behind the reader from our page tables (they stay in the page cache),
// so that the peak RSS stays flat however large the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"

namespace airlock {

class MappedFile {
 public:
  // Maps the regular file open on `fd` (not taken); null when it cannot be mapped (not a regular
  // file, empty, no address space): the caller reads it instead.
  static std::shared_ptr<MappedFile> map(int fd, std::string name);
  // Whether populate() can fault pages in ahead (MADV_POPULATE_READ, Linux 5.14) on this system.
  static bool can_populate();
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

  // Makes sure the bytes in [off, off + len) (clamped to the file) are in memory. An unreadable
  // page is an io error naming the file. Without MADV_POPULATE_READ (Linux < 5.14), pages are
  // faulted in as they are used instead.
  [[nodiscard]] Status populate(std::uint64_t off, std::size_t len);
  // The error for a SIGBUS met near `off`.
  std::string unreadable(std::uint64_t off) const;
  // Drops the whole pages of [0, upto) from the mapping (not from the page cache).
  void release_before(std::uint64_t upto);

 private:
  MappedFile(const unsigned char* data, std::size_t size, std::string name, int fd)
      : data_(data), size_(size), name_(std::move(name)), fd_(fd) {}
  const unsigned char* data_;
  std::size_t size_;
  std::string name_;
  int fd_;  // ours (a duplicate): to tell the file's size now, in errors
  std::uint64_t released_ = 0;
};

// Runs `fn(ctx)`; returns false if a memory access in it faulted with SIGBUS (it was then cut
// short there). `fn` must be plain: no object with a destructor may live in its frames at the
// fault, since a jump out of a signal handler does not unwind. A SIGBUS on a thread outside a
// guard, or one sent by a process (kill), goes to the handler that was there before, or to the
// default: the process dies.
[[nodiscard]] bool sigbus_guarded(void (*fn)(void*), void* ctx);
template <typename F>
[[nodiscard]] bool sigbus_guarded(F& f) {
  return sigbus_guarded([](void* p) { (*static_cast<F*>(p))(); }, &f);
}

}  // namespace airlock

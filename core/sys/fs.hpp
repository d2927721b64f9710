// Small filesystem helpers that every part shares. All return Result; errors name the path.
//  - read_file / write_file_atomic: whole small files (trust roots, keys, recipes).
//  - AtomicFile: stream into "<path>.tmp-XXXXXX" in the same folder; commit() = fsync, rename,
//    fsync the folder. Destroyed without commit(), the temporary is removed (ccache AtomicFile).
//    A file it replaces keeps its permission bits and owner (Perms).
//  - make_private_dir / make_private_file / set_mode: state that only its owner may read, whatever
//    the umask.
//  - write_all / pwrite_all / read_some: EINTR-safe loops on an fd.
// Every mutating call here goes through the filesystem seam of core/sys/sys.hpp (fault injection).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/sys/fd.hpp"

namespace airlock {

// Reads a whole file, refusing one larger than max_bytes (ErrorClass::io when unreadable,
// `too_big` class when over the limit).
[[nodiscard]] Result<std::string> read_file(const std::string& path, std::size_t max_bytes,
                                            ErrorClass too_big = ErrorClass::usage);

[[nodiscard]] Status write_all(int fd, const void* data, std::size_t len, const std::string& path_for_errors);
// At `offset`, without moving the file offset (blocks of one file written by several threads).
[[nodiscard]] Status pwrite_all(int fd, const void* data, std::size_t len, off_t offset,
                                const std::string& path_for_errors);
// Returns bytes read (0 at EOF).
[[nodiscard]] Result<std::size_t> read_some(int fd, void* buf, std::size_t len, const std::string& path_for_errors);
// Reads until len bytes or EOF; returns count.
[[nodiscard]] Result<std::size_t> read_full(int fd, void* buf, std::size_t len, const std::string& path_for_errors);

[[nodiscard]] Status fsync_dir(const std::string& dir);
std::string parent_dir(const std::string& path);  // "." for a bare name

// mkdir -p through the filesystem seam (core/sys/sys.hpp); folders that exist are fine.
[[nodiscard]] Status make_dirs(const std::string& path, unsigned mode = 0755);
// The folder at `path` with mode exactly 0700 (created, or an existing one narrowed); missing
// parents are created as make_dirs does.
[[nodiscard]] Status make_private_dir(const std::string& path);
// An existing file's permission bits set to `mode` (no call when they already are).
[[nodiscard]] Status set_mode(const std::string& path, unsigned mode);
// The file at `path` with mode exactly 0600: created empty when absent, else narrowed.
[[nodiscard]] Status make_private_file(const std::string& path);
// rename(2) through the seam: a file or a folder, replacing `to` as rename does.
[[nodiscard]] Status rename_path(const std::string& from, const std::string& to);

// The permission bits and owner of the file an AtomicFile puts at its path.
//  keep_existing: a regular file already there keeps its bits and, where we may change it, its
//    owner and group (a 0600 config holding secrets stays 0600 and its service's); `mode` is for a
//    new file only.
//  exact: `mode` and our own owner whatever was there (secret keys).
enum class Perms { keep_existing, exact };

class AtomicFile {
 public:
  [[nodiscard]] static Result<AtomicFile> create(const std::string& path, unsigned mode = 0644,
                                                 Perms perms = Perms::keep_existing);
  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) noexcept;
  ~AtomicFile();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  [[nodiscard]] Status write(std::string_view data);
  [[nodiscard]] Status write(const void* data, std::size_t len);
  // fsync, rename over the final path, fsync the folder.
  [[nodiscard]] Status commit();

 private:
  AtomicFile(std::string path, std::string tmp, Fd fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::string path_;
  std::string tmp_;
  Fd fd_;
  bool committed_ = false;
};

[[nodiscard]] Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644,
                                       Perms perms = Perms::keep_existing);
// Copies through an AtomicFile (temp, fsync, rename, fsync folder). A file replaced at `dst`
// keeps its mode and owner; a new one gets `mode`.
[[nodiscard]] Status copy_file_synced(const std::string& src, const std::string& dst, unsigned mode = 0644);
[[nodiscard]] Status fsync_file(const std::string& path);
// The SHA-256 of the file's bytes, lower-case hex, read once in order.
[[nodiscard]] Result<std::string> sha256_file(const std::string& path);

}  // namespace airlock

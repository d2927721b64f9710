#include "core/sys/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "core/crypto/hash.hpp"
#include "core/sys/sys.hpp"

namespace airlock {

Result<std::string> read_file(const std::string& path, std::size_t max_bytes, ErrorClass too_big) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", path, errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::io, "'" + path + "' is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return fail(too_big, "'" + path + "' is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                             std::to_string(max_bytes));
  std::string out;
  out.resize(max_bytes < static_cast<std::size_t>(st.st_size) + 1 ? max_bytes + 1
                                                                  : static_cast<std::size_t>(st.st_size) + 1);
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    auto n = read_some(fd.get(), out.data() + have, out.size() - have, path);
    if (!n) return fail(n.error());
    if (*n == 0) break;
    have += *n;
  }
  if (have > max_bytes)
    return fail(too_big, "'" + path + "' is over the limit of " + std::to_string(max_bytes) + " bytes");
  out.resize(have);
  return out;
}

Status write_all(int fd, const void* data, std::size_t len, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = sys::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("write", path, errno));
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return {};
}

Status pwrite_all(int fd, const void* data, std::size_t len, off_t offset, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = sys::pwrite(fd, p, len, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("write", path, errno));
    }
    p += n;
    len -= static_cast<std::size_t>(n);
    offset += n;
  }
  return {};
}

Result<std::size_t> read_some(int fd, void* buf, std::size_t len, const std::string& path) {
  for (;;) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    return fail(errno_error("read", path, errno));
  }
}

Result<std::size_t> read_full(int fd, void* buf, std::size_t len, const std::string& path) {
  std::size_t have = 0;
  while (have < len) {
    auto n = read_some(fd, static_cast<char*>(buf) + have, len - have, path);
    if (!n) return fail(n.error());
    if (*n == 0) break;
    have += *n;
  }
  return have;
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

Status fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open folder", dir, errno));
  if (sys::fsync(fd.get()) != 0 && errno != EINVAL) return fail(errno_error("fsync folder", dir, errno));
  return {};
}

namespace {

// Gives the temporary `tmp` (open as fd) the bits and owner it must have once renamed over `path`,
// before any byte is written to it.
Status adopt_perms(int fd, const std::string& tmp, const std::string& path, unsigned mode, Perms perms) {
  struct stat old {};
  if (perms == Perms::keep_existing && ::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
    struct stat own {};
    if (::fstat(fd, &own) != 0) return fail(errno_error("stat", tmp, errno));
    // Owner first: chown clears set-id bits, which the chmod below puts back. Only root may give a
    // file away: for anyone else (EPERM) the new file stays their own, as any file they write.
    if ((own.st_uid != old.st_uid || own.st_gid != old.st_gid) && sys::fchown(fd, old.st_uid, old.st_gid) != 0 &&
        errno != EPERM)
      return fail(errno_error("chown", tmp, errno));
    mode = old.st_mode & 07777;
  }
  if (sys::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail(errno_error("chmod", tmp, errno));
  return {};
}

}  // namespace

Result<AtomicFile> AtomicFile::create(const std::string& path, unsigned mode, Perms perms) {
  std::string tmpl = path + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = sys::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) return fail(errno_error("create temporary file for", path, errno));
  Fd owned(fd);
  if (auto s = adopt_perms(fd, buf.data(), path, mode, perms); !s) {
    (void)sys::unlink(buf.data());
    return fail(s.error());
  }
  return AtomicFile(path, std::string(buf.data()), std::move(owned));
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(std::move(o.fd_)), committed_(o.committed_) {
  o.committed_ = true;
}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
  if (this != &o) {
    if (!committed_ && !tmp_.empty()) (void)sys::unlink(tmp_.c_str());
    path_ = std::move(o.path_);
    tmp_ = std::move(o.tmp_);
    fd_ = std::move(o.fd_);
    committed_ = o.committed_;
    o.committed_ = true;
  }
  return *this;
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !tmp_.empty()) (void)sys::unlink(tmp_.c_str());
}

Status AtomicFile::write(std::string_view data) { return write_all(fd_.get(), data.data(), data.size(), tmp_); }
Status AtomicFile::write(const void* data, std::size_t len) { return write_all(fd_.get(), data, len, tmp_); }

Status AtomicFile::commit() {
  if (sys::fsync(fd_.get()) != 0) return fail(errno_error("fsync", tmp_, errno));
  fd_.reset();
  if (sys::rename(tmp_.c_str(), path_.c_str()) != 0) return fail(errno_error("rename into", path_, errno));
  committed_ = true;
  // The file is in place but not yet durable: say which file, not only which folder.
  AIRLOCK_CHECK(fsync_dir(parent_dir(path_)), "'" + path_ + "' was renamed into place, but");
  return {};
}

Status make_dirs(const std::string& path, unsigned mode) {
  if (path.empty() || path == "/" || path == ".") return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return fail(ErrorClass::io, "create folder '" + path + "': a file of that name is in the way");
  }
  AIRLOCK_CHECK(make_dirs(parent_dir(path), mode), "creating '" + path + "'");
  if (sys::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
    return fail(errno_error("create folder", path, errno));
  return {};
}

Status set_mode(const std::string& path, unsigned mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(errno_error("stat", path, errno));
  if ((st.st_mode & 07777) == mode) return {};
  if (sys::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return fail(errno_error("chmod", path, errno));
  return {};
}

// mkdir's mode is cut by the umask, and a folder made earlier keeps whatever it had: so the mode
// is set explicitly. What exists is looked at first, so that opening a site on a full disk makes
// no call that needs room.
Status make_private_dir(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    AIRLOCK_CHECK(make_dirs(parent_dir(path)), "creating '" + path + "'");
    if (sys::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail(errno_error("create folder", path, errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorClass::io, "create folder '" + path + "': a file of that name is in the way");
  }
  return set_mode(path, 0700);
}

Status make_private_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    Fd fd(sys::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid() && errno != EEXIST) return fail(errno_error("create", path, errno));
  }
  return set_mode(path, 0600);
}

Status rename_path(const std::string& from, const std::string& to) {
  if (sys::rename(from.c_str(), to.c_str()) != 0) return fail(errno_error("rename '" + from + "' to", to, errno));
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode, Perms perms) {
  AIRLOCK_TRY(auto f, AtomicFile::create(path, mode, perms), "writing " + path);
  AIRLOCK_CHECK(f.write(data), "writing " + path);
  return f.commit();
}

Status copy_file_synced(const std::string& src, const std::string& dst, unsigned mode) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return fail(errno_error("open", src, errno));
  AIRLOCK_TRY(auto out, AtomicFile::create(dst, mode), "copying '" + src + "'");
  char buf[65536];
  for (;;) {
    AIRLOCK_TRY(auto n, read_some(in.get(), buf, sizeof buf, src), "copying");
    if (n == 0) break;
    AIRLOCK_CHECK(out.write(buf, n), "copying '" + src + "'");
  }
  return out.commit();
}

Status fsync_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  if (sys::fsync(fd.get()) != 0) return fail(errno_error("fsync", path, errno));
  return {};
}

Result<std::string> sha256_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  Sha256 h;
  std::vector<char> buf(1 << 16);
  for (;;) {
    AIRLOCK_TRY(auto n, read_some(fd.get(), buf.data(), buf.size(), path), "hashing");
    if (n == 0) break;
    h.update(buf.data(), n);
  }
  return to_hex(h.finish());
}

}  // namespace airlock

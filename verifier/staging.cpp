#include "verifier/staging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/fs.hpp"
#include "core/sys.hpp"

namespace airlock::verifier {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Fd open_dir_nofollow(const std::string& path) { return Fd(::open(path.c_str(), kDirFlags)); }

Result<bool> folder_is_empty(const Fd& dir, const std::string& path) {
  // fdopendir takes ownership of the fd it is given: hand it a duplicate.
  const int dup = ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(errno_error("duplicate fd of", path, errno));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    const int err = errno;
    ::close(dup);
    return fail(errno_error("list", path, err));
  }
  bool empty = true;
  while (const dirent* de = ::readdir(d)) {
    const std::string name = de->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

Error not_a_folder(const std::string& path) {
  return Error(ErrorClass::usage,
               "staging folder '" + path + "' is not a folder (or is a symbolic link, which is never followed)");
}

}  // namespace

Status StagedFile::write_at(const void* data, std::size_t len, off_t offset) {
  return pwrite_all(fd_.get(), data, len, offset, path_);
}

Status StagedFile::close() {
  const int fd = fd_.release();
  if (::close(fd) != 0) return fail(errno_error("close", path_, errno));
  return {};
}

Result<std::unique_ptr<Staging>> Staging::open(const std::string& given) {
  // A trailing slash would make the kernel follow a symbolic link despite O_NOFOLLOW.
  std::string path = given;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  bool created = false;
  Fd dir = open_dir_nofollow(path);
  if (!dir.valid() && errno == ENOENT) {
    if (sys::mkdir(path.c_str(), 0755) == 0)
      created = true;
    else if (errno != EEXIST)  // EEXIST: someone made it meanwhile; it is checked like any other
      return fail(errno_error("create staging folder", path, errno));
    dir = open_dir_nofollow(path);
  }
  if (!dir.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) return fail(not_a_folder(path));
    return fail(errno_error("open staging folder", path, errno));
  }
  auto empty = folder_is_empty(dir, path);
  if (!empty || !*empty) {
    if (created) (void)sys::rmdir(path.c_str());
    if (!empty) return fail(std::move(empty).error());
    return fail(ErrorClass::usage, "staging folder '" + path + "' is not empty");
  }
  return std::unique_ptr<Staging>(new Staging(path, std::move(dir), created));
}

Staging::~Staging() {
  if (!committed_) remove_all_created();
}

Fd Staging::open_parent(const std::string& rel) const {
  Fd cur(::fcntl(dir_.get(), F_DUPFD_CLOEXEC, 0));
  std::size_t start = 0;
  for (auto slash = rel.find('/'); cur.valid() && slash != std::string::npos; slash = rel.find('/', start)) {
    cur = Fd(::openat(cur.get(), rel.substr(start, slash - start).c_str(), kDirFlags));
    start = slash + 1;
  }
  return cur;
}

void Staging::remove_all_created() {
  // Newest first: files before the folders holding them. Best effort. Each parent is entered
  // component by component without following links: had someone swapped one of our folders for
  // a link meanwhile, a plain unlinkat("a/b") would delete through it, outside staging.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    const Fd parent = open_parent(it->rel);
    if (!parent.valid()) continue;
    const auto slash = it->rel.rfind('/');
    const auto name = slash == std::string::npos ? it->rel : it->rel.substr(slash + 1);
    (void)sys::unlinkat(parent.get(), name.c_str(), it->is_dir ? AT_REMOVEDIR : 0);
  }
  created_.clear();
  dir_.reset();
  if (created_root_) (void)sys::rmdir(path_.c_str());
}

Result<Fd> Staging::enter_folder(const Fd& parent, const std::string& name, const std::string& rel) {
  if (sys::mkdirat(parent.get(), name.c_str(), 0755) == 0)
    created_.push_back({rel, true});
  else if (errno != EEXIST)
    return fail(errno_error("create folder", path_ + "/" + rel, errno));
  Fd fd(::openat(parent.get(), name.c_str(), kDirFlags));
  if (!fd.valid()) return fail(errno_error("open folder", path_ + "/" + rel, errno));
  return fd;
}

Result<int> Staging::folder_for(const std::string& rel) {
  const auto last_slash = rel.rfind('/');
  if (last_slash == std::string::npos) return dir_.get();
  const auto parent = rel.substr(0, last_slash);
  // Files come grouped by folder in most manifests: keep the last folder open, so a file costs
  // no syscalls for its parents.
  if (last_folder_.valid() && parent == last_folder_rel_) return last_folder_.get();
  Fd owned;
  const Fd* cur = &dir_;
  std::size_t start = 0;
  for (auto slash = rel.find('/'); slash != std::string::npos && slash <= last_slash; slash = rel.find('/', start)) {
    AIRLOCK_TRY(owned, enter_folder(*cur, rel.substr(start, slash - start), rel.substr(0, slash)), "staging");
    cur = &owned;
    start = slash + 1;
  }
  last_folder_ = std::move(owned);
  last_folder_rel_ = parent;
  return last_folder_.get();
}

Result<StagedFile> Staging::create_file(const std::string& rel, bool executable) {
  AIRLOCK_TRY(const int folder, folder_for(rel), "staging");
  const auto slash = rel.rfind('/');
  const auto name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  const auto full = path_ + "/" + rel;
  const mode_t mode = executable ? 0755 : 0644;
  Fd fd(sys::openat(folder, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return fail(errno_error("create", full, errno));
  created_.push_back({rel, false});
  // The umask must not decide the mode: the manifest does (spec §1).
  if (sys::fchmod(fd.get(), mode) != 0) return fail(errno_error("chmod", full, errno));
  return StagedFile(std::move(fd), full);
}

}  // namespace airlock::verifier

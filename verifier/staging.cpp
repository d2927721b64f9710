#include "verifier/staging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>

#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::verifier {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Fd open_dir_nofollow(const std::string& path) { return Fd(::open(path.c_str(), kDirFlags)); }

// The folder as named, without the trailing "/" and "/." steps: with them the kernel resolves a
// link in the last real step despite O_NOFOLLOW (`link/.` is the link's target). nullopt when the
// last step is "..", which names a folder through whatever the step before it is.
std::optional<std::string> folder_itself(std::string path) {
  for (;;) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path.size() <= 2 || !path.ends_with("/.")) break;
    path.resize(path.size() - 2);
  }
  if (path == ".." || path.ends_with("/..")) return std::nullopt;
  return path;
}

// renameat2(RENAME_NOREPLACE), through the filesystem seam's fault check like every other
// mutating call: a verified entry moved up never replaces what someone put there meanwhile.
int rename_noreplace(int from_dir, const char* from, int to_dir, const char* to) {
  if (const int e = sys::fault_check("renameat2")) {
    errno = e;
    return -1;
  }
  return ::renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE);
}

struct Listing {
  bool empty = true;
  bool leftover = false;  // holds a partial folder, left by a run that never finished
};

Result<Listing> list_folder(const Fd& dir, const std::string& path) {
  // fdopendir takes ownership of the fd it is given: hand it a duplicate.
  const int dup = ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(errno_error("duplicate fd of", path, errno));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    const int err = errno;
    ::close(dup);
    return fail(errno_error("list", path, err));
  }
  Listing out;
  while (const dirent* de = ::readdir(d)) {
    const std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    out.empty = false;
    if (name == Staging::kPartial || name == Staging::kPartialAside) out.leftover = true;
  }
  ::closedir(d);
  return out;
}

// The partial folder, made owner-only: nobody reads an unverified file through it.
Result<Fd> open_partial(const Fd& root, const std::string& path) {
  const std::string partial = path + "/" + Staging::kPartial;
  if (sys::mkdirat(root.get(), Staging::kPartial, 0700) != 0) return fail(errno_error("create folder", partial, errno));
  Fd fd(::openat(root.get(), Staging::kPartial, kDirFlags));
  if (!fd.valid()) {
    const int err = errno;
    (void)sys::unlinkat(root.get(), Staging::kPartial, AT_REMOVEDIR);
    return fail(errno_error("open folder", partial, err));
  }
  return fd;
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
  const auto itself = folder_itself(given);
  if (!itself) return fail(ErrorClass::usage, "staging folder '" + given + "' ends in '..': name the folder itself");
  const std::string& path = *itself;
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
  auto listed = list_folder(dir, path);
  if (!listed || !listed->empty) {
    if (created) (void)sys::rmdir(path.c_str());
    if (!listed) return fail(std::move(listed).error());
    if (listed->leftover)
      return fail(ErrorClass::usage, "staging folder '" + path + "' holds '" + kPartial +
                                         "', left by an extraction that was interrupted: nothing in it was "
                                         "verified; empty the folder and try again");
    return fail(ErrorClass::usage, "staging folder '" + path + "' is not empty");
  }
  auto partial = open_partial(dir, path);
  if (!partial) {
    if (created) (void)sys::rmdir(path.c_str());
    return fail(std::move(partial).error());
  }
  return std::unique_ptr<Staging>(new Staging(path, std::move(dir), std::move(*partial), created));
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
  (void)sys::unlinkat(root_.get(), partial_name_.c_str(), AT_REMOVEDIR);
  root_.reset();
  if (created_root_) (void)sys::rmdir(path_.c_str());
}

Status Staging::rename_partial(const char* to) {
  if (rename_noreplace(root_.get(), partial_name_.c_str(), root_.get(), to) != 0)
    return fail(errno_error("rename", partial_path() + "' to '" + path_ + "/" + to, errno));
  partial_name_ = to;
  return {};
}

Status Staging::move_up(const std::string& name) {
  if (rename_noreplace(dir_.get(), name.c_str(), root_.get(), name.c_str()) != 0)
    return fail(errno_error("move verified entry", path_ + "/" + name, errno));
  return {};
}

void Staging::move_back(const std::vector<std::string>& names) {
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    (void)rename_noreplace(root_.get(), it->c_str(), dir_.get(), it->c_str());
  if (partial_name_ != kPartial) (void)rename_partial(kPartial);
}

Status Staging::commit() {
  last_folder_.reset();
  std::vector<std::string> top;  // what this run created at the partial folder's top
  for (const auto& c : created_)
    if (c.rel.find('/') == std::string::npos) top.push_back(c.rel);
  std::vector<std::string> moved;
  Status st;
  if (std::find(top.begin(), top.end(), kPartial) != top.end()) st = rename_partial(kPartialAside);
  for (std::size_t i = 0; st && i < top.size(); ++i) {
    st = move_up(top[i]);
    if (st) moved.push_back(top[i]);
  }
  if (st && sys::unlinkat(root_.get(), partial_name_.c_str(), AT_REMOVEDIR) != 0)
    st = fail(errno_error("remove folder", partial_path(), errno));
  if (!st) {
    move_back(moved);
    return st;
  }
  committed_ = true;
  return {};
}

Result<Fd> Staging::enter_folder(const Fd& parent, const std::string& name, const std::string& rel) {
  if (sys::mkdirat(parent.get(), name.c_str(), 0755) == 0)
    created_.push_back({rel, true});
  else if (errno != EEXIST)
    return fail(errno_error("create folder", partial_path() + "/" + rel, errno));
  Fd fd(::openat(parent.get(), name.c_str(), kDirFlags));
  if (!fd.valid()) return fail(errno_error("open folder", partial_path() + "/" + rel, errno));
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
  const auto full = partial_path() + "/" + rel;
  const mode_t mode = executable ? 0755 : 0644;
  Fd fd(sys::openat(folder, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return fail(errno_error("create", full, errno));
  created_.push_back({rel, false});
  // The umask must not decide the mode: the manifest does (spec §1).
  if (sys::fchmod(fd.get(), mode) != 0) return fail(errno_error("chmod", full, errno));
  return StagedFile(std::move(fd), full);
}

}  // namespace airlock::verifier

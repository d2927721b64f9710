// Sources of compressed bundle bytes: one file, a split bundle's parts read as one stream
// (spec §9), or memory. The reader above us asks for large chunks (1 MiB+), so a read here is a
// plain read(2) straight into the caller's buffer: no extra buffering, no copy.
//
// A pipe or FIFO may stall for good (a writer that hangs, or none at all), and a blocking open or
// read would then hold the verifier, and the site lock an apply holds meanwhile, past any
// termination signal (the handlers restart interrupted calls). So anything but a regular file is
// opened non-blocking and read only once poll(2) says it is ready, polling the caller's stop
// check in between.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string_view>

#include "core/container/container.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/mapped_file.hpp"

namespace airlock {
namespace {

constexpr int kStopPollMs = 100;  // how often a wait for input checks the stop

// An open input: regular files are read as they are; anything else only when poll() says so.
struct Input {
  Fd fd;
  bool waits = false;
};

Result<Input> open_sequential(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, uninterruptibly.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", path, errno));
  if (S_ISDIR(st.st_mode)) return fail(ErrorClass::io, "'" + path + "' is a folder, not a bundle file");
  const bool regular = S_ISREG(st.st_mode);
  if (regular && ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK) != 0)
    return fail(errno_error("fcntl", path, errno));
  // A hint only: it fails harmlessly on pipes, so its result is ignored.
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return Input{std::move(fd), !regular};
}

// Reads once from `in`; a stalled pipe is waited for with poll(), checking `stop` meanwhile.
Result<std::size_t> read_input(const Input& in, void* buf, std::size_t len, const std::string& path,
                               const std::function<bool()>& stop) {
  if (!in.waits || len == 0) return read_some(in.fd.get(), buf, len, path);
  for (;;) {
    if (stop && stop()) return fail(ErrorClass::io, path + ": " + kSourceStoppedMessage);
    pollfd p{in.fd.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, stop ? kStopPollMs : -1);
    if (ready < 0 && errno != EINTR) return fail(errno_error("poll", path, errno));
    if (ready <= 0) continue;
    const ssize_t n = ::read(in.fd.get(), buf, len);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR && errno != EAGAIN) return fail(errno_error("read", path, errno));
  }
}

class FileSource final : public Source {
 public:
  FileSource(Input in, std::string path, std::function<bool()> stop)
      : in_(std::move(in)), path_(std::move(path)), stop_(std::move(stop)) {}
  Result<std::size_t> read(void* buf, std::size_t len) override { return read_input(in_, buf, len, path_, stop_); }
  std::string name() const override { return path_; }
  std::shared_ptr<MappedFile> mapping() override {
    if (!tried_) map_ = MappedFile::map(in_.fd.get(), path_);
    tried_ = true;
    return map_;
  }

 private:
  Input in_;
  std::string path_;
  std::function<bool()> stop_;
  bool tried_ = false;
  std::shared_ptr<MappedFile> map_;
};

// `<bundle>.part0001`, `.part0002`, ... in order; each part is opened when the previous one ends,
// so at most one descriptor is held. The list is fixed when the source is opened. When every part
// is a regular file with bytes, a reader with a pool maps them one at a time instead (mapping(),
// next_mapping()), as it maps a whole file.
class PartsSource final : public Source {
 public:
  PartsSource(std::string bundle, std::vector<std::string> parts, Input first, std::function<bool()> stop)
      : bundle_(std::move(bundle)), parts_(std::move(parts)), in_(std::move(first)), stop_(std::move(stop)) {}

  Result<std::size_t> read(void* buf, std::size_t len) override {
    while (index_ < parts_.size()) {
      auto n = read_input(in_, buf, len, parts_[index_], stop_);
      if (!n) return fail(n.error());
      if (*n > 0 || len == 0) return *n;
      in_.fd.reset();
      if (++index_ == parts_.size()) break;
      auto next = open_sequential(parts_[index_]);
      if (!next) return fail(next.error().with_context("reading split bundle '" + bundle_ + "'"));
      in_ = std::move(*next);
    }
    return std::size_t{0};
  }
  std::string name() const override { return bundle_ + " (" + std::to_string(parts_.size()) + " parts)"; }
  std::shared_ptr<MappedFile> mapping() override {
    if (index_ != 0 || !in_.fd.valid() || in_.waits || !all_regular_with_bytes()) return nullptr;
    return MappedFile::map(in_.fd.get(), parts_[0]);
  }
  Result<std::shared_ptr<MappedFile>> next_mapping() override {
    if (index_ + 1 >= parts_.size()) return std::shared_ptr<MappedFile>{};
    in_.fd.reset();
    const std::string& part = parts_[++index_];
    auto next = open_sequential(part);
    if (!next) return fail(next.error().with_context("reading split bundle '" + bundle_ + "'"));
    auto map = MappedFile::map(next->fd.get(), part);
    if (!map) return fail(ErrorClass::io, "reading split bundle '" + bundle_ + "': cannot map '" + part + "'");
    return map;
  }
  // A read never crosses the end of a part, so the part being read is the one it came from.
  std::size_t part_count() const override { return parts_.size(); }
  std::size_t part_index() const override { return index_; }

 private:
  // (An empty part cannot be mapped: such a bundle is read.)
  bool all_regular_with_bytes() const {
    struct stat st {};
    for (const auto& p : parts_)
      if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return false;
    return true;
  }

  std::string bundle_;
  std::vector<std::string> parts_;
  std::size_t index_ = 0;
  Input in_;
  std::function<bool()> stop_;
};

class MemorySource final : public Source {
 public:
  MemorySource(std::string bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {}
  Result<std::size_t> read(void* buf, std::size_t len) override {
    std::size_t n = std::min(len, bytes_.size() - pos_);
    if (n > 0) std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::string name() const override { return name_; }

 private:
  std::string bytes_;
  std::size_t pos_ = 0;
  std::string name_;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The lowest part number above `count` among the names `<path>.partNNNN` (4 to 9 digits) in
// path's folder; 0 when there is none.
Result<unsigned> part_after(const std::string& path, unsigned count) {
  const auto slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".part";
  DIR* d = ::opendir(folder.c_str());
  if (!d) return fail(errno_error("list", folder, errno));
  unsigned lowest = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (!name.starts_with(prefix)) continue;
    const std::string_view digits = name.substr(prefix.size());
    if (digits.size() < 4 || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
      continue;
    unsigned n = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (n > count && (lowest == 0 || n < lowest)) lowest = n;
  }
  ::closedir(d);
  return lowest;
}

// Parts are numbered from 0001 without gaps. A later part beyond a missing number is refused: read
// up to the gap, a stream that happens to end there would verify without it.
Result<std::vector<std::string>> list_parts(const std::string& path) {
  std::vector<std::string> parts;
  for (unsigned i = 1; i <= 9999 && exists(part_name(path, i)); ++i) parts.push_back(part_name(path, i));
  const auto count = static_cast<unsigned>(parts.size());
  AIRLOCK_TRY(const unsigned stray, part_after(path, count), "listing the parts of '" + path + "'");
  if (stray != 0)
    return fail(ErrorClass::io, "split bundle '" + path + "': " + part_name(path, count + 1) + " is missing, but " +
                                    part_name(path, stray) + " exists (parts are numbered from 0001 without gaps)");
  return parts;
}

}  // namespace

std::string part_name(const std::string& path, unsigned index) {
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".part%04u", index);
  return path + suffix;
}

Result<std::unique_ptr<Source>> open_source(const std::string& path, std::function<bool()> stop) {
  if (exists(path) || !exists(part_name(path, 1))) {
    AIRLOCK_TRY(Input in, open_sequential(path), "opening bundle");
    return std::unique_ptr<Source>(new FileSource(std::move(in), path, std::move(stop)));
  }
  auto parts = list_parts(path);  // its errors name the bundle already
  if (!parts) return fail(std::move(parts).error());
  AIRLOCK_TRY(Input first, open_sequential(parts->front()), "opening split bundle '" + path + "'");
  return std::unique_ptr<Source>(new PartsSource(path, std::move(*parts), std::move(first), std::move(stop)));
}

std::unique_ptr<Source> memory_source(std::string bytes, std::string name) {
  return std::make_unique<MemorySource>(std::move(bytes), std::move(name));
}

}  // namespace airlock

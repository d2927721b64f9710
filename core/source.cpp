// Sources of compressed bundle bytes: one file, a split bundle's parts read as one stream
// (spec §9), or memory. The reader above us asks for large chunks (1 MiB+), so a read here is a
// plain read(2) straight into the caller's buffer: no extra buffering, no copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/container.hpp"
#include "core/fd.hpp"
#include "core/fs.hpp"
#include "core/mapped_file.hpp"

namespace airlock {
namespace {

Result<Fd> open_sequential(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", path, errno));
  if (S_ISDIR(st.st_mode)) return fail(ErrorClass::io, "'" + path + "' is a folder, not a bundle file");
  // A hint only: it fails harmlessly on pipes, so its result is ignored.
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

class FileSource final : public Source {
 public:
  FileSource(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Result<std::size_t> read(void* buf, std::size_t len) override { return read_some(fd_.get(), buf, len, path_); }
  std::string name() const override { return path_; }
  std::shared_ptr<MappedFile> mapping() override {
    if (!tried_) map_ = MappedFile::map(fd_.get(), path_);
    tried_ = true;
    return map_;
  }

 private:
  Fd fd_;
  std::string path_;
  bool tried_ = false;
  std::shared_ptr<MappedFile> map_;
};

// `<bundle>.part0001`, `.part0002`, ... in order; each part is opened when the previous one ends,
// so at most one descriptor is held. The list is fixed when the source is opened.
class PartsSource final : public Source {
 public:
  PartsSource(std::string bundle, std::vector<std::string> parts, Fd first)
      : bundle_(std::move(bundle)), parts_(std::move(parts)), fd_(std::move(first)) {}

  Result<std::size_t> read(void* buf, std::size_t len) override {
    while (index_ < parts_.size()) {
      auto n = read_some(fd_.get(), buf, len, parts_[index_]);
      if (!n) return fail(n.error());
      if (*n > 0 || len == 0) return *n;
      fd_.reset();
      if (++index_ == parts_.size()) break;
      auto next = open_sequential(parts_[index_]);
      if (!next) return fail(next.error().with_context("reading split bundle '" + bundle_ + "'"));
      fd_ = std::move(*next);
    }
    return std::size_t{0};
  }
  std::string name() const override { return bundle_ + " (" + std::to_string(parts_.size()) + " parts)"; }

 private:
  std::string bundle_;
  std::vector<std::string> parts_;
  std::size_t index_ = 0;
  Fd fd_;
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

std::string part_name(const std::string& path, unsigned index) {
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".part%04u", index);
  return path + suffix;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<std::unique_ptr<Source>> open_source(const std::string& path) {
  if (exists(path) || !exists(part_name(path, 1))) {
    AIRLOCK_TRY(Fd fd, open_sequential(path), "opening bundle");
    return std::unique_ptr<Source>(new FileSource(std::move(fd), path));
  }
  // Parts are numbered from 0001 without gaps; the first missing number ends the list.
  std::vector<std::string> parts;
  for (unsigned i = 1; i <= 9999 && exists(part_name(path, i)); ++i) parts.push_back(part_name(path, i));
  AIRLOCK_TRY(Fd first, open_sequential(parts.front()), "opening split bundle '" + path + "'");
  return std::unique_ptr<Source>(new PartsSource(path, std::move(parts), std::move(first)));
}

std::unique_ptr<Source> memory_source(std::string bytes, std::string name) {
  return std::make_unique<MemorySource>(std::move(bytes), std::move(name));
}

}  // namespace airlock

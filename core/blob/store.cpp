#include "core/blob/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::blob {

namespace {

// The temporary of one put: removed unless released (after the rename).
class TempBlob {
 public:
  explicit TempBlob(std::string path) : path_(std::move(path)) {}
  ~TempBlob() {
    if (!path_.empty()) (void)sys::unlink(path_.c_str());
  }
  TempBlob(const TempBlob&) = delete;
  TempBlob& operator=(const TempBlob&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

class StringReader final : public Reader {
 public:
  explicit StringReader(std::string_view s) : s_(s) {}
  Result<std::size_t> read(void* buf, std::size_t len) override {
    const std::size_t n = std::min(len, s_.size());
    std::copy_n(s_.data(), n, static_cast<char*>(buf));
    s_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view s_;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Result<BlobStore> BlobStore::open(const std::string& root) {
  BlobStore s(root);
  AIRLOCK_CHECK(make_dirs(s.blobs_dir()), "opening blob store '" + root + "'");
  AIRLOCK_CHECK(make_dirs(s.ingest_dir()), "opening blob store '" + root + "'");
  return s;
}

std::string BlobStore::path_of(std::string_view digest) const {
  return blobs_dir() + "/" + std::string(digest.substr(kSha256Prefix.size()));
}

Result<std::string> BlobStore::checked_path(std::string_view digest) const {
  if (!digest_hex(digest))
    return fail(ErrorClass::malformed, "'" + std::string(digest) + "' is not a digest sha256:<64 lower-case hex>");
  return path_of(digest);
}

Result<bool> BlobStore::has(std::string_view digest) const {
  AIRLOCK_TRY(std::string path, checked_path(digest), "blob store '" + root_ + "'");
  return exists(path);
}

Status BlobStore::place(const std::string& tmp, const std::string& digest) {
  const std::string dst = path_of(digest);
  if (sys::rename(tmp.c_str(), dst.c_str()) != 0) return fail(errno_error("rename into place", dst, errno));
  return fsync_dir(blobs_dir());
}

Result<std::string> BlobStore::put(Reader& in, std::optional<std::string_view> expected, std::uint64_t max_bytes) {
  if (expected) {
    AIRLOCK_TRY(bool present, has(*expected), "storing a blob");
    if (present) return std::string(*expected);
  }
  std::string tmpl = ingest_dir() + "/blob.tmp-XXXXXX";
  int raw = sys::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return fail(errno_error("create temporary file in", ingest_dir(), errno));
  Fd fd(raw);
  TempBlob tmp(tmpl);
  LimitReader cap(in, max_bytes, ErrorClass::malformed, "blob");
  HashingReader h(cap);
  AIRLOCK_CHECK(copy(h, [&](const void* p, std::size_t n) { return write_all(fd.get(), p, n, tmp.path()); }),
                "storing a blob in '" + root_ + "'");
  const std::string digest = h.finish();
  if (expected && digest != *expected)
    return fail(ErrorClass::integrity,
                "blob store '" + root_ + "': content has digest " + digest + ", expected " + std::string(*expected));
  if (sys::fsync(fd.get()) != 0) return fail(errno_error("fsync", tmp.path(), errno));
  if (exists(path_of(digest))) return digest;  // stored meanwhile, or by an earlier put
  AIRLOCK_CHECK(place(tmp.path(), digest), "blob store '" + root_ + "'");
  tmp.release();
  return digest;
}

Result<std::string> BlobStore::put_bytes(std::string_view data) {
  StringReader r(data);
  return put(r, std::nullopt, data.size());
}

Result<bool> BlobStore::adopt(const std::string& from, std::string_view digest) {
  AIRLOCK_TRY(std::string dst, checked_path(digest), "blob store '" + root_ + "'");
  if (exists(dst)) return false;
  AIRLOCK_CHECK(place(from, std::string(digest)), "blob store '" + root_ + "': moving '" + from + "'");
  return true;
}

Status BlobStore::replace(const std::string& from, std::string_view digest) {
  AIRLOCK_TRY(std::string dst, checked_path(digest), "blob store '" + root_ + "'");
  (void)dst;
  AIRLOCK_CHECK(place(from, std::string(digest)), "blob store '" + root_ + "': moving '" + from + "'");
  return {};
}

Status BlobStore::verify(std::string_view digest) const {
  AIRLOCK_TRY(std::string path, checked_path(digest), "blob store '" + root_ + "'");
  AIRLOCK_TRY(std::string got, file_digest(path), "blob store '" + root_ + "'");
  if (got != digest)
    return fail(ErrorClass::integrity, "blob store '" + root_ + "': blob " + std::string(digest) +
                                           " is damaged (its content has digest " + got + ")");
  return {};
}

Result<std::vector<std::string>> BlobStore::list() const {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(blobs_dir(), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string d = std::string(kSha256Prefix) + it->path().filename().string();
    if (!digest_hex(d))
      return fail(ErrorClass::malformed, "blob store '" + root_ + "': unexpected file '" + it->path().string() + "'");
    out.push_back(std::move(d));
  }
  if (ec) return fail(ErrorClass::io, "blob store '" + root_ + "': cannot list '" + blobs_dir() + "': " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status BlobStore::remove(std::string_view digest) {
  AIRLOCK_TRY(std::string path, checked_path(digest), "blob store '" + root_ + "'");
  if (sys::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(errno_error("remove", path, errno));
  return fsync_dir(blobs_dir());
}

}  // namespace airlock::blob

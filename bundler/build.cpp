// build(): recipe -> plan -> rule checks -> one pass over the sources: each is read once, hashed and
// compressed into the payload frames at the same time, into an unnamed temporary file beside
// --out -> manifest (now with every hash) and signatures -> --out = head frames + the payload
// frames copied behind them (copy_file_range: in the kernel, a reflink where the file system can).
// Measured against hashing every source in a first pass and reading it again while compressing
// (issue 4): the second read and hash cost more than the copy. Memory stays flat whatever the
// payload size. The output is an AtomicFile: it appears only when everything succeeded.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include "bundler/bundler.hpp"
#include "bundler/head.hpp"
#include "bundler/migration_check.hpp"
#include "bundler/plan.hpp"
#include "bundler/propagate.hpp"
#include "bundler/recipe.hpp"
#include "core/container.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"

namespace airlock::bundler {

namespace {

inline constexpr std::size_t kBufferBytes = 1 << 20;
// Payload frames close after this much input: bounded frames let a reader resynchronise or
// decompress frames in parallel, while staying large enough for zstd's worker jobs.
inline constexpr std::uint64_t kFrameInputBytes = 64ull << 20;
inline constexpr std::uint64_t kProgressEvery = 4ull << 20;

class ProgressSink {
 public:
  ProgressSink(const BuildRequest& req, std::uint64_t total) : req_(req), total_(total) {}
  void add(std::uint64_t n, const std::string& file) {
    done_ += n;
    if (req_.on_progress && (done_ - last_ >= kProgressEvery || done_ == total_)) {
      last_ = done_;
      req_.on_progress(BuildProgress{done_, total_, file});
    }
  }

 private:
  const BuildRequest& req_;
  std::uint64_t total_;
  std::uint64_t done_ = 0, last_ = 0;
};

// Sizes as the file system reports them now, for progress (the real sizes come as files are read).
std::uint64_t apparent_total(const std::vector<PlannedFile>& files) {
  std::uint64_t total = 0;
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.source.c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_size);
  }
  return total;
}

Result<Fd> open_source_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

// An unnamed file in --out's folder (same file system, so the final copy can stay in the kernel);
// it vanishes with its descriptor whatever happens.
Result<Fd> open_payload_temp(const std::string& out_path) {
  const std::string dir = parent_dir(out_path);
  Fd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.valid()) return fd;
  std::string name = dir + "/.airlock-payload-XXXXXX";  // no O_TMPFILE here: named, then unlinked
  fd = Fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("create a temporary file in", dir, errno));
  ::unlink(name.c_str());
  return fd;
}

Error changed(const PlannedFile& f, std::uint64_t opened, const std::string& now) {
  return Error(ErrorClass::io, "source '" + f.source + "' of '" + f.payload_path + "' changed during the build (" +
                                   std::to_string(opened) + " bytes when opened, " + now + ")");
}

// One file, read once: its size from the open descriptor goes into the tar header, its bytes into
// the entry and the hash. A source that shrinks or grows meanwhile is refused.
Result<FileEntry> stream_file(const PlannedFile& f, std::int64_t mtime, TarWriter& tar, ZstdFrameWriter& z,
                              std::vector<char>& buf, std::uint64_t& since_frame, ProgressSink& progress) {
  BUNDLER_TRY(Fd fd, open_source_file(f.source));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", f.source, errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  BUNDLER_CHECK(tar.begin_entry(TarFileHeader{f.payload_path, size, f.executable, mtime}));
  Sha256 h;
  std::uint64_t left = size;
  while (left > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    BUNDLER_TRY(std::size_t n, read_some(fd.get(), buf.data(), want, f.source));
    if (n == 0) return fail(changed(f, size, "it ended after " + std::to_string(size - left)));
    h.update(buf.data(), n);
    BUNDLER_CHECK(tar.write_data(buf.data(), n));
    left -= n;
    since_frame += n;
    progress.add(n, f.payload_path);
    if (since_frame >= kFrameInputBytes) {
      BUNDLER_CHECK(z.end_frame());
      since_frame = 0;
    }
  }
  BUNDLER_TRY(std::size_t extra, read_some(fd.get(), buf.data(), 1, f.source));
  if (extra != 0) return fail(changed(f, size, "more bytes followed"));
  BUNDLER_CHECK(tar.end_entry());
  return FileEntry{f.payload_path, size, to_hex(h.finish()), f.executable};
}

// The payload frames (entries after the signatures, end marker) into `tmp`; returns every file's
// manifest entry. Frames close after kFrameInputBytes of file data, as before: the split points
// depend on the inputs only.
Result<std::vector<FileEntry>> write_payload(const BuildRequest& req, const Plan& p, int tmp, int level,
                                             ProgressSink& progress, std::uint64_t& payload_bytes) {
  // Any worker count gives the same bytes (container.hpp); 0 means one per core.
  int workers = req.workers > 0 ? req.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  BUNDLER_TRY(auto z, ZstdFrameWriter::create(tmp, req.out_path, ZstdWriterOptions{level, workers}));
  BUNDLER_TRY(auto tar, TarWriter::create(z.get()));
  const std::int64_t mtime = p.manifest.release.created.unix_seconds;
  std::vector<FileEntry> out;
  std::vector<char> buf(kBufferBytes);
  std::uint64_t since_frame = 0;
  for (const auto& f : p.files) {
    BUNDLER_TRY(auto e, stream_file(f, mtime, *tar, *z, buf, since_frame, progress));
    out.push_back(std::move(e));
  }
  BUNDLER_CHECK(tar->finish());
  BUNDLER_CHECK(z->end_frame());
  payload_bytes = z->compressed_bytes();
  return out;
}

// Appends `len` bytes of `in` (from offset 0) to `out`.
Status copy_payload(int in, std::uint64_t len, int out, const std::string& out_path) {
  loff_t off = 0;
  std::vector<char> buf;
  while (static_cast<std::uint64_t>(off) < len) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len - off, 1u << 30));
    if (buf.empty()) {
      const ssize_t n = ::copy_file_range(in, &off, out, nullptr, want, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
        return fail(errno_error("copy_file_range", out_path, errno));
      buf.resize(kBufferBytes);  // unsupported here (or an early 0): plain reads and writes
    }
    const ssize_t n = ::pread(in, buf.data(), std::min(want, buf.size()), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error("read the temporary payload of", out_path, errno));
    if (n == 0) return fail(ErrorClass::io, "the temporary payload of '" + out_path + "' ended early");
    BUNDLER_CHECK(write_all(out, buf.data(), static_cast<std::size_t>(n), out_path));
    off += n;
  }
  return {};
}

Status write_bundle(const BuildRequest& req, const Plan& p, const std::string& manifest_bytes,
                    const std::vector<SignatureEntry>& sigs, int payload_fd, std::uint64_t payload_bytes,
                    std::uint64_t& bundle_bytes) {
  BUNDLER_TRY(AtomicFile out, AtomicFile::create(req.out_path, 0644));
  // The head frames get their own writer at a fixed level (head.hpp), so that adding a signature
  // later with `sign` gives the same bytes as building with both keys at once. Its tar writer is
  // dropped unfinished: the end marker is the payload's.
  BUNDLER_TRY(auto head_z, ZstdFrameWriter::create(out.fd(), req.out_path, ZstdWriterOptions{kHeadLevel, 0}));
  {
    BUNDLER_TRY(auto tar, TarWriter::create(head_z.get()));
    BUNDLER_CHECK(write_head(*tar, *head_z, manifest_bytes, sigs, p.manifest.release.created.unix_seconds));
  }
  BUNDLER_CHECK(copy_payload(payload_fd, payload_bytes, out.fd(), req.out_path));
  bundle_bytes = head_z->compressed_bytes() + payload_bytes;
  return out.commit();
}

// The rendered manifest must be one a verifier accepts: validate, size limit, and a re-parse.
Result<std::string> render_checked(const Recipe& r, const Manifest& m) {
  auto refused = [&](const std::string& what) {
    return fail(ErrorClass::build_refused, "recipe '" + r.path + "': " + what);
  };
  if (m.total_size() > kMaxTotalPayload) return refused("payload is over the limit of 1 TiB");
  if (auto s = validate_manifest(m); !s)
    return refused("the manifest breaks a rule of the bundle format: " + s.error().what());
  std::string text = render_manifest(m);
  if (text.size() > kMaxManifestBytes)
    return refused("manifest.toml would be " + std::to_string(text.size()) + " bytes, over the limit of " +
                   std::to_string(kMaxManifestBytes));
  if (auto parsed = parse_manifest(text); !parsed)
    return refused("the rendered manifest does not parse back: " + parsed.error().what());
  return text;
}

}  // namespace

Result<BuildReport> build(const BuildRequest& req) {
  if (req.keys.empty()) return fail(ErrorClass::usage, "build needs at least one signing key");
  BUNDLER_TRY(Recipe r, load_recipe(req.recipe_path));
  BUNDLER_TRY(Plan p, make_plan(r, req.source_date_epoch));
  BUNDLER_CHECK(check_migrations(r));

  BUNDLER_TRY(Fd payload, open_payload_temp(req.out_path));
  ProgressSink progress(req, apparent_total(p.files));
  const int level = req.level.value_or(r.level.value_or(3));
  std::uint64_t payload_bytes = 0;
  BUNDLER_TRY(p.manifest.files, write_payload(req, p, payload.get(), level, progress, payload_bytes));
  const std::uint64_t total = p.manifest.total_size();
  BUNDLER_TRY(std::string manifest_bytes, render_checked(r, p.manifest));

  std::vector<SignatureEntry> sigs;
  for (const auto& k : req.keys) sigs.push_back(make_signature(k, p.manifest, manifest_bytes));
  BUNDLER_CHECK(sort_signatures(sigs));

  BuildReport report;
  BUNDLER_CHECK(write_bundle(req, p, manifest_bytes, sigs, payload.get(), payload_bytes, report.bundle_bytes));

  report.manifest = std::move(p.manifest);
  report.manifest_sha256 = sha256_hex(manifest_bytes);
  for (const auto& s : sigs) report.key_ids.push_back(s.key_id);
  report.payload_bytes = total;
  return report;
}

}  // namespace airlock::bundler

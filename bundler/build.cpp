// build(): recipe -> plan -> rule checks -> pass 1 (hash every source, streaming) -> manifest and
// signatures -> pass 2 (stream the payload into zstd frames, re-hashing to catch a source that
// changed between the passes). Memory stays flat whatever the payload size: one buffer per pass.
// The output is an AtomicFile next to --out: it appears only when everything succeeded.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
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

// Sizes as the file system reports them now, only for progress during pass 1.
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

// Pass 1: size and SHA-256 of every source.
Result<std::vector<FileEntry>> hash_sources(const std::vector<PlannedFile>& files, ProgressSink& progress) {
  std::vector<FileEntry> out;
  std::vector<char> buf(kBufferBytes);
  for (const auto& f : files) {
    BUNDLER_TRY(Fd fd, open_source_file(f.source));
    Sha256 h;
    std::uint64_t size = 0;
    for (;;) {
      BUNDLER_TRY(std::size_t n, read_some(fd.get(), buf.data(), buf.size(), f.source));
      if (n == 0) break;
      h.update(buf.data(), n);
      size += n;
      progress.add(n, "hashing " + f.payload_path);
    }
    out.push_back(FileEntry{f.payload_path, size, to_hex(h.finish()), f.executable});
  }
  return out;
}

Error changed(const PlannedFile& f) {
  return Error(ErrorClass::io, "source '" + f.source + "' of '" + f.payload_path +
                                   "' changed during the build (its size or SHA-256 differs from the first pass)");
}

// Pass 2 for one file: exactly e.size bytes into the tar entry, hashed again on the way.
Status stream_file(const PlannedFile& f, const FileEntry& e, std::int64_t mtime, TarWriter& tar, ZstdFrameWriter& z,
                   std::vector<char>& buf, std::uint64_t& since_frame, ProgressSink& progress) {
  BUNDLER_TRY(Fd fd, open_source_file(f.source));
  BUNDLER_CHECK(tar.begin_entry(TarFileHeader{e.path, e.size, e.executable, mtime}));
  Sha256 h;
  std::uint64_t left = e.size;
  while (left > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    BUNDLER_TRY(std::size_t n, read_some(fd.get(), buf.data(), want, f.source));
    if (n == 0) return fail(changed(f));
    h.update(buf.data(), n);
    BUNDLER_CHECK(tar.write_data(buf.data(), n));
    left -= n;
    since_frame += n;
    progress.add(n, e.path);
    if (since_frame >= kFrameInputBytes) {
      BUNDLER_CHECK(z.end_frame());
      since_frame = 0;
    }
  }
  BUNDLER_TRY(std::size_t extra, read_some(fd.get(), buf.data(), 1, f.source));
  if (extra != 0 || to_hex(h.finish()) != e.sha256) return fail(changed(f));
  return tar.end_entry();
}

Status write_bundle(const BuildRequest& req, const Plan& p, const std::string& manifest_bytes,
                    const std::vector<SignatureEntry>& sigs, int level, ProgressSink& progress,
                    std::uint64_t& bundle_bytes) {
  BUNDLER_TRY(AtomicFile out, AtomicFile::create(req.out_path, 0644));
  // The head frames get their own writer at a fixed level (head.hpp), so that adding a signature
  // later with `sign` gives the same bytes as building with both keys at once.
  BUNDLER_TRY(auto head_z, ZstdFrameWriter::create(out.fd(), req.out_path, ZstdWriterOptions{kHeadLevel, 0}));
  BUNDLER_TRY(auto tar, TarWriter::create(head_z.get()));
  const std::int64_t mtime = p.manifest.release.created.unix_seconds;
  BUNDLER_CHECK(write_head(*tar, *head_z, manifest_bytes, sigs, mtime));
  // Any worker count gives the same bytes (container.hpp); 0 means one per core.
  int workers = req.workers > 0 ? req.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  BUNDLER_TRY(auto z, ZstdFrameWriter::create(out.fd(), req.out_path, ZstdWriterOptions{level, workers}));
  tar->set_sink(z.get());
  std::vector<char> buf(kBufferBytes);
  std::uint64_t since_frame = 0;
  for (std::size_t i = 0; i < p.files.size(); ++i)
    BUNDLER_CHECK(stream_file(p.files[i], p.manifest.files[i], mtime, *tar, *z, buf, since_frame, progress));
  BUNDLER_CHECK(tar->finish());
  BUNDLER_CHECK(z->end_frame());
  bundle_bytes = head_z->compressed_bytes() + z->compressed_bytes();
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

  ProgressSink progress(req, apparent_total(p.files));
  BUNDLER_TRY(p.manifest.files, hash_sources(p.files, progress));
  const std::uint64_t total = p.manifest.total_size();
  BUNDLER_TRY(std::string manifest_bytes, render_checked(r, p.manifest));

  std::vector<SignatureEntry> sigs;
  for (const auto& k : req.keys) sigs.push_back(make_signature(k, p.manifest, manifest_bytes));
  BUNDLER_CHECK(sort_signatures(sigs));

  BuildReport report;
  ProgressSink writing(req, total);
  int level = req.level.value_or(r.level.value_or(3));
  BUNDLER_CHECK(write_bundle(req, p, manifest_bytes, sigs, level, writing, report.bundle_bytes));

  report.manifest = std::move(p.manifest);
  report.manifest_sha256 = sha256_hex(manifest_bytes);
  for (const auto& s : sigs) report.key_ids.push_back(s.key_id);
  report.payload_bytes = total;
  return report;
}

}  // namespace airlock::bundler

// build(): recipe -> plan -> rule checks -> the head's length, from a draft manifest whose hashes
// are still zero (hashes are fixed-length hex, sizes come from stat, the head frames are stored:
// head.hpp) -> one pass over the sources, each read once, hashed and compressed into the payload
// frames written straight into --out behind the reserved head -> the real manifest and signatures
// written into the head -> fsync, rename.
// Measured (docs/performance.md) against (a) hashing every source in a first pass and
// reading it again while compressing, and (b) compressing into a temporary file and copying it
// behind the head with copy_file_range: (a) pays a second read and hash, (b) a copy of the whole
// payload and its writeback at the end. Writeback is started as each payload frame ends, so the
// final fsync finds little left to write. Memory stays flat whatever the payload size. The
// output is an AtomicFile: it appears only when everything succeeded.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include "bundler/bundler.hpp"
#include "bundler/delta.hpp"
#include "bundler/head.hpp"
#include "bundler/migration_check.hpp"
#include "bundler/plan.hpp"
#include "bundler/propagate.hpp"
#include "bundler/recipe.hpp"
#include "bundler/split.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/sys/fs.hpp"

namespace airlock::bundler {

namespace {

inline constexpr std::size_t kBufferBytes = 1 << 20;
// Writeback of the output is started after this much input (ZstdFrameWriter cuts the frames).
inline constexpr std::uint64_t kWritebackEvery = 64ull << 20;
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

// Every source's size before any is read: they go into the draft manifest that fixes the head's
// length, so a source whose size differs once it is opened has changed during the build.
Result<std::vector<std::uint64_t>> planned_sizes(const std::vector<PlannedFile>& files) {
  std::vector<std::uint64_t> sizes;
  sizes.reserve(files.size());
  for (const auto& f : files) {
    if (f.content) {
      sizes.push_back(f.content->size());
      continue;
    }
    struct stat st {};
    if (::stat(f.source.c_str(), &st) != 0) return fail(errno_error("stat", f.source, errno));
    if (!S_ISREG(st.st_mode))
      return fail(ErrorClass::usage, "source '" + f.source + "' of '" + f.payload_path + "' is not a regular file");
    sizes.push_back(static_cast<std::uint64_t>(st.st_size));
  }
  return sizes;
}

Result<Fd> open_source_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

Error changed(const PlannedFile& f, std::uint64_t expected, const std::string& now) {
  return Error(ErrorClass::io, "source '" + f.source + "' of '" + f.payload_path + "' changed during the build (" +
                                   std::to_string(expected) + " bytes when planned, " + now + ")");
}

// A file the build made (an image layout's index): no source to read.
Result<FileEntry> stream_content(const PlannedFile& f, std::int64_t mtime, TarWriter& tar) {
  const std::string& c = *f.content;
  BUNDLER_CHECK(tar.begin_entry(TarFileHeader{f.payload_path, c.size(), f.executable, mtime}));
  BUNDLER_CHECK(tar.write_data(c.data(), c.size()));
  BUNDLER_CHECK(tar.end_entry());
  return FileEntry{f.payload_path, c.size(), to_hex(sha256(c)), f.executable};
}

// An image blob whose content is not its name is refused: the bundle would carry a broken image.
Status check_expected(const PlannedFile& f, const std::string& hex) {
  if (!f.expect_sha256 || *f.expect_sha256 == hex) return {};
  return fail(ErrorClass::build_refused,
              "image blob '" + f.source + "' is damaged: its content has sha256 " + hex + ", not its name");
}

// One file, read once: its size from the open descriptor goes into the tar header, its bytes into
// the entry and the hash. A source that shrinks or grows meanwhile is refused.
Result<FileEntry> stream_file(const PlannedFile& f, std::uint64_t planned, std::int64_t mtime, TarWriter& tar,
                              int out_fd, std::vector<char>& buf, std::uint64_t& since_writeback,
                              ProgressSink& progress) {
  BUNDLER_TRY(Fd fd, open_source_file(f.source));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", f.source, errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size != planned) return fail(changed(f, planned, "it had " + std::to_string(size) + " when opened"));
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
    since_writeback += n;
    progress.add(n, f.payload_path);
    if (since_writeback >= kWritebackEvery) {
      since_writeback = 0;
      // Start writing the frames out now (asynchronously), not all at the final fsync.
      ::sync_file_range(out_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
  }
  BUNDLER_TRY(std::size_t extra, read_some(fd.get(), buf.data(), 1, f.source));
  if (extra != 0) return fail(changed(f, size, "more bytes followed"));
  std::string hex = to_hex(h.finish());
  BUNDLER_CHECK(check_expected(f, hex));
  BUNDLER_CHECK(tar.end_entry());
  return FileEntry{f.payload_path, size, std::move(hex), f.executable};
}

// The payload frames (entries after the signatures, end marker) into `out` at its current offset;
// returns every file's manifest entry. Frames are cut every kWriterFrameBytes of tar stream: the
// split points depend on the inputs only.
Result<std::vector<FileEntry>> write_payload(const BuildRequest& req, const Plan& p,
                                             const std::vector<std::uint64_t>& sizes, int out, int level,
                                             ProgressSink& progress, std::uint64_t& payload_bytes) {
  // Any worker count gives the same bytes (container.hpp); 0 means one per core.
  int workers = req.workers > 0 ? req.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  BUNDLER_TRY(auto z, ZstdFrameWriter::create(out, req.out_path, ZstdWriterOptions{level, workers}));
  BUNDLER_TRY(auto tar, TarWriter::create(z.get()));
  const std::int64_t mtime = p.manifest.release.created.unix_seconds;
  std::vector<FileEntry> entries;
  std::vector<char> buf(kBufferBytes);
  std::uint64_t since_writeback = 0;
  for (std::size_t i = 0; i < p.files.size(); ++i) {
    BUNDLER_TRY(auto e, p.files[i].content
                            ? stream_content(p.files[i], mtime, *tar)
                            : stream_file(p.files[i], sizes[i], mtime, *tar, out, buf, since_writeback, progress));
    entries.push_back(std::move(e));
  }
  BUNDLER_CHECK(tar->finish());
  BUNDLER_CHECK(z->end_frame());
  payload_bytes = z->compressed_bytes();
  return entries;
}

// The rendered manifest must be one a verifier accepts: validate, size limit, and a re-parse.
Result<std::string> render_checked(const Recipe& r, const Manifest& m) {
  auto refused = [&](const std::string& what) {
    return fail(ErrorClass::build_refused, "recipe '" + r.path + "': " + what);
  };
  // A check's own error, its text kept as it is (printable already).
  auto refused_by = [&](const std::string& what, const Error& cause) {
    return fail(cause.reclassed(ErrorClass::build_refused).with_context("recipe '" + r.path + "': " + what));
  };
  if (m.total_size() > kMaxTotalPayload) return refused("payload is over the limit of 1 TiB");
  if (auto s = validate_manifest(m); !s)
    return refused_by("the manifest breaks a rule of the bundle format", s.error());
  std::string text = render_manifest(m);
  if (text.size() > kMaxManifestBytes)
    return refused("manifest.toml would be " + std::to_string(text.size()) + " bytes, over the limit of " +
                   std::to_string(kMaxManifestBytes));
  if (auto parsed = parse_manifest(text); !parsed)
    return refused_by("the rendered manifest does not parse back", parsed.error());
  return text;
}

// The head frames for `m`, its signatures made by every key. A draft (hashes still zero) is only
// measured: rendered as it is, not validated (an image blob's name cannot match a zero hash).
Result<std::string> head_for(const std::vector<minisign::SecretKey>& keys, const Recipe& r, const Manifest& m,
                             bool draft, std::string* manifest_out, std::vector<SignatureEntry>* sigs_out) {
  BUNDLER_TRY(std::string manifest_bytes, draft ? Result<std::string>(render_manifest(m)) : render_checked(r, m));
  std::vector<SignatureEntry> sigs;
  for (const auto& k : keys) sigs.push_back(make_signature(k, m, manifest_bytes));
  BUNDLER_CHECK(sort_signatures(sigs));
  BUNDLER_TRY(std::string head, render_head(manifest_bytes, sigs, m.release.created.unix_seconds));
  if (manifest_out) *manifest_out = std::move(manifest_bytes);
  if (sigs_out) *sigs_out = std::move(sigs);
  return head;
}

// The base of a delta: --base, else the recipe's [delta] base (relative to the recipe's folder).
Result<std::optional<DeltaBase>> delta_base_for(const BuildRequest& req, const Recipe& r) {
  std::optional<std::string> path = req.base_path;
  if (!path && r.delta_base) path = r.resolve(*r.delta_base);
  if (!path && r.delta)
    return fail(ErrorClass::build_refused, "recipe '" + r.path +
                                               "' has [delta] but names no base bundle: give --base FULL_BUNDLE "
                                               "or [delta] base = \"path/to/full-bundle.tar.zst\"");
  if (!path) return std::optional<DeltaBase>();
  BUNDLER_TRY(DeltaBase base, read_delta_base(*path));
  return std::optional<DeltaBase>(std::move(base));
}

// The signing keys, asked for only now that the recipe passed every check: a refused recipe never
// gets a secret key decrypted (nor a password asked for).
Result<std::vector<minisign::SecretKey>> signing_keys(const BuildRequest& req) {
  std::vector<minisign::SecretKey> keys = req.keys;
  if (req.load_keys) {
    BUNDLER_TRY(auto loaded, req.load_keys());
    keys.insert(keys.end(), loaded.begin(), loaded.end());
  }
  if (keys.empty()) return fail(ErrorClass::usage, "build needs at least one signing key");
  return keys;
}

}  // namespace

Result<BuildReport> build(const BuildRequest& req) {
  if (req.keys.empty() && !req.load_keys) return fail(ErrorClass::usage, "build needs at least one signing key");
  if (req.split_bytes) BUNDLER_CHECK(check_split_size(*req.split_bytes, req.split_force));
  BUNDLER_TRY(Recipe r, load_recipe(req.recipe_path));
  BUNDLER_TRY(const auto base, delta_base_for(req, r));
  BUNDLER_TRY(Plan p, make_plan(r, req.source_date_epoch, base ? &*base : nullptr));
  BUNDLER_CHECK(check_migrations(r));
  BUNDLER_TRY(const auto sizes, planned_sizes(p.files));
  BUNDLER_TRY(const auto keys, signing_keys(req));

  // The head's length, from the manifest with every hash still zero.
  Manifest draft = p.manifest;
  for (std::size_t i = 0; i < p.files.size(); ++i)
    draft.files.push_back(FileEntry{p.files[i].payload_path, sizes[i], std::string(64, '0'), p.files[i].executable});
  BUNDLER_TRY(const std::string draft_head, head_for(keys, r, draft, true, nullptr, nullptr));

  const std::string target = req.split_bytes ? part_name(req.out_path, 1) : req.out_path;
  BUNDLER_TRY(AtomicFile out, AtomicFile::create(target, 0644));
  if (::lseek(out.fd(), static_cast<off_t>(draft_head.size()), SEEK_SET) < 0)
    return fail(errno_error("seek in", out.path(), errno));
  std::uint64_t total = 0;
  for (auto n : sizes) total += n;
  ProgressSink progress(req, total);
  const int level = req.level.value_or(r.level.value_or(3));
  std::uint64_t payload_bytes = 0;
  BUNDLER_TRY(p.manifest.files, write_payload(req, p, sizes, out.fd(), level, progress, payload_bytes));

  std::string manifest_bytes;
  std::vector<SignatureEntry> sigs;
  BUNDLER_TRY(const std::string head, head_for(keys, r, p.manifest, false, &manifest_bytes, &sigs));
  if (head.size() != draft_head.size())  // every size was checked against the draft's
    return fail(ErrorClass::internal, "the head of '" + req.out_path + "' came out " + std::to_string(head.size()) +
                                          " bytes, " + std::to_string(draft_head.size()) + " were reserved");
  if (::lseek(out.fd(), 0, SEEK_SET) < 0) return fail(errno_error("seek in", out.path(), errno));
  BUNDLER_CHECK(out.write(head));
  BuildReport report;
  if (req.split_bytes && head.size() + 4 > *req.split_bytes - kSplitHeadroomBytes)  // sign reads a frame's magic
    return fail(ErrorClass::usage, "--split " + std::to_string(*req.split_bytes) +
                                       ": the bundle's head (manifest and " + "signatures) is " +
                                       std::to_string(head.size()) +
                                       " bytes and must lie whole in part 1: give a larger size");
  if (req.split_bytes) {
    BUNDLER_TRY(report.parts, commit_parts(out, head.size() + payload_bytes, req.out_path, *req.split_bytes));
  } else {
    BUNDLER_CHECK(out.commit());
  }

  report.bundle_bytes = head.size() + payload_bytes;
  if (base) report.delta = DeltaReport{base->version, p.left_out_blobs, p.left_out_bytes};
  report.manifest = std::move(p.manifest);
  report.manifest_sha256 = sha256_hex(manifest_bytes);
  for (const auto& s : sigs) report.key_ids.push_back(s.key_id);
  report.payload_bytes = total;
  return report;
}

}  // namespace airlock::bundler

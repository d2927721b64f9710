#include "verifier/payload.hpp"

#include <algorithm>

#include "core/container/bundle_head.hpp"
#include "core/crypto/hash.hpp"
#include "core/model/trust.hpp"
#include "core/sys/paths.hpp"

namespace airlock::verifier {

namespace {

constexpr std::uint64_t kProgressEvery = 4ull << 20;

}  // namespace

PayloadStreamer::PayloadStreamer(TarReader& tar, const Manifest& m, Staging* staging,
                                 std::function<void(const Progress&)> on_progress, OrderedPool& pool)
    : tar_(tar),
      m_(m),
      staging_(staging),
      on_progress_(std::move(on_progress)),
      worker_(pool),
      total_(m.total_size()) {}

void PayloadStreamer::progress(const std::string& file) {
  if (!on_progress_) return;
  last_progress_ = out_.bytes;
  on_progress_(Progress{out_.bytes, total_, file});
}

// The entry's header against [[files]]: a path that breaks §3 is malformed (10); one that is not
// the next file the manifest expects, or whose size differs, is an integrity failure (12).
Result<const FileEntry*> PayloadStreamer::expect(const TarEntry& e, const std::string& label) {
  if (auto problem = payload_path_problem(e.path)) return fail(ErrorClass::malformed, label + ": " + *problem);
  const auto& files = m_.files;
  if (next_index_ >= files.size() || files[next_index_].path != e.path) {
    // Only on failure: search the list to say what is wrong with this entry.
    const auto it = std::find_if(files.begin(), files.end(), [&](const FileEntry& f) { return f.path == e.path; });
    if (it == files.end()) return fail(ErrorClass::integrity, label + ": not listed in the manifest's [[files]]");
    if (static_cast<std::size_t>(it - files.begin()) < next_index_)
      return fail(ErrorClass::integrity, label + ": repeated (it came before)");
    return fail(ErrorClass::integrity,
                label + ": out of order (the manifest expects '" + files[next_index_].path + "' next)");
  }
  const auto& f = files[next_index_];
  if (e.size != f.size)
    return fail(ErrorClass::integrity, label + ": size " + std::to_string(e.size) + " in tar header, " +
                                           std::to_string(f.size) + " in manifest");
  return &f;
}

// The bytes go to the worker; its verdict (digest, write errors) arrives by drain() at the latest.
Status PayloadStreamer::stream_file(const FileEntry& f, const std::string& label) {
  if (m_.trust_update && *m_.trust_update == f.path) return stream_trust_update(f, label);
  std::optional<StagedFile> out;
  if (staging_) {
    AIRLOCK_TRY(auto sf, staging_->create_file(f.path, f.executable), label);
    out.emplace(std::move(sf));
  }
  worker_.begin(label, f.sha256, std::move(out));
  std::uint64_t done = 0;
  for (;;) {
    if (stop_ && stop_()) return fail(ErrorClass::io, std::string(kStoppedMessage) + " in " + label);
    if (worker_.failed()) return worker_.drain();  // it failed on an earlier block
    AIRLOCK_TRY(auto bytes, tar_.read_view(HashWorker::kChunkBytes), "reading " + label);
    if (bytes.len == 0) break;
    done += bytes.len;
    out_.bytes += bytes.len;
    worker_.submit(std::move(bytes));
    if (out_.bytes - last_progress_ >= kProgressEvery) progress(f.path);
  }
  if (done != f.size)  // the reader never passes the header's size, which equals the manifest's
    return fail(ErrorClass::internal,
                label + ": read " + std::to_string(done) + " bytes, expected " + std::to_string(f.size));
  worker_.end();
  return {};
}

// The [trust_update] file is checked as soon as it is complete, so it is hashed right here once
// the worker has caught up (a small file: the pipeline pauses once per bundle at most).
Status PayloadStreamer::stream_trust_update(const FileEntry& f, const std::string& label) {
  if (f.size > kMaxTrustRootBytes)
    return fail(ErrorClass::not_authentic, label + ": the [trust_update] file is " + std::to_string(f.size) +
                                               " bytes, over the limit of " + std::to_string(kMaxTrustRootBytes));
  if (auto ok = worker_.drain(); !ok) return ok;
  std::optional<StagedFile> out;
  if (staging_) {
    AIRLOCK_TRY(auto sf, staging_->create_file(f.path, f.executable), label);
    out.emplace(std::move(sf));
  }
  std::string captured;
  Sha256 sha;
  std::vector<char> buf(std::size_t{64} << 10);
  for (;;) {
    AIRLOCK_TRY(auto n, tar_.read(buf.data(), buf.size()), "reading " + label);
    if (n == 0) break;
    sha.update(buf.data(), n);
    if (out) AIRLOCK_CHECK(out->write_at(buf.data(), n, static_cast<off_t>(captured.size())), label);
    captured.append(buf.data(), n);
    out_.bytes += n;
  }
  if (captured.size() != f.size)
    return fail(ErrorClass::internal,
                label + ": read " + std::to_string(captured.size()) + " bytes, expected " + std::to_string(f.size));
  const auto got = to_hex(sha.finish());
  if (got != f.sha256) return fail(ErrorClass::integrity, label + ": SHA-256 " + got + ", manifest says " + f.sha256);
  if (out) AIRLOCK_CHECK(out->close(), label);
  if (check_trust_update_) AIRLOCK_CHECK(check_trust_update_(captured), label);
  out_.trust_update_text = std::move(captured);
  return {};
}

Result<PayloadResult> PayloadStreamer::run_files(std::optional<TarEntry> e, std::uint64_t number) {
  for (; e; ++number) {
    const auto label = entry_label(number, e->path);
    AIRLOCK_TRY(const FileEntry* f, expect(*e, label), "checking the header");
    progress(f->path);
    if (auto ok = stream_file(*f, label); !ok) return fail(std::move(ok).error());
    ++next_index_;
    ++out_.files;
    AIRLOCK_TRY(e, tar_.next(), "reading entry " + std::to_string(number + 1));
  }
  if (next_index_ < m_.files.size())
    return fail(ErrorClass::integrity, "file '" + m_.files[next_index_].path + "' listed in the manifest never came (" +
                                           std::to_string(m_.files.size() - next_index_) + " listed file(s) missing)");
  if (auto ok = worker_.drain(); !ok) return fail(std::move(ok).error());
  progress("");
  return std::move(out_);
}

// An error found while decompressing comes after every byte the worker has: the worker's own
// error, if it has one, is the earlier fault and the one the sequential order would report.
Result<PayloadResult> PayloadStreamer::run(std::optional<TarEntry> first, std::uint64_t number) {
  auto r = run_files(std::move(first), number);
  if (r) return r;
  if (auto w = worker_.drain(); !w) return fail(std::move(w).error());
  return r;
}

}  // namespace airlock::verifier

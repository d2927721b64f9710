// Streaming the payload entries (spec §7 step 6): each entry's path, order and size are checked
// from its header before its content is read; content comes as views of the reader's decompressed
// blocks, which a HashWorker hashes and, with a staging folder, writes beneath it, on the pool
// thread that decompressed each block. Memory does not grow with the bundle.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/container/container.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"
#include "verifier/hash_worker.hpp"
#include "verifier/staging.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

struct PayloadResult {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::optional<std::string> trust_update_text;  // the [trust_update] file's verified bytes
};

// Called with the [trust_update] file's bytes as soon as they are hashed and match the manifest,
// so a bad new trust root stops the run there rather than after the whole payload.
using TrustUpdateCheck = std::function<Status(const std::string& text)>;

class PayloadStreamer {
 public:
  PayloadStreamer(TarReader& tar, const Manifest& m, Staging* staging,
                  std::function<void(const Progress&)> on_progress, OrderedPool& pool);

  // `first` is the entry after the signatures (already read by the head reader), `number` its
  // entry number. Stops at the end-of-archive marker; does not call TarReader::finish().
  [[nodiscard]] Result<PayloadResult> run(std::optional<TarEntry> first, std::uint64_t number);
  void on_trust_update(TrustUpdateCheck check) { check_trust_update_ = std::move(check); }
  // Polled before every chunk; true ends the run with kStoppedMessage (Request::stop).
  void stop_when(std::function<bool()> stop) { stop_ = std::move(stop); }

 private:
  [[nodiscard]] Result<const FileEntry*> expect(const TarEntry& e, const std::string& label);
  [[nodiscard]] Status stream_file(const FileEntry& f, const std::string& label);
  [[nodiscard]] Status stream_trust_update(const FileEntry& f, const std::string& label);
  [[nodiscard]] Result<PayloadResult> run_files(std::optional<TarEntry> e, std::uint64_t number);
  void progress(const std::string& file);

  TarReader& tar_;
  const Manifest& m_;
  Staging* staging_;
  std::function<void(const Progress&)> on_progress_;
  TrustUpdateCheck check_trust_update_;
  std::function<bool()> stop_;
  HashWorker worker_;
  std::uint64_t total_ = 0;
  std::size_t next_index_ = 0;
  PayloadResult out_;
  std::uint64_t last_progress_ = 0;
};

}  // namespace airlock::verifier

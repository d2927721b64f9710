// HashWorker: the payload files' SHA-256 and staging writes, off the thread that parses the tar
// stream (verification should cost what zstd -dc costs).
//
// Each block of file data is hashed by an ordered job on the OrderedPool thread that decompressed
// it (ZstdReader::View::thread), while the block is still in that core's cache. A file's jobs go
// to one hashing lane (files take lanes 0 and 1 in turn); a lane runs its jobs one at a time in
// the order they were handed over, so each file's SHA-256 sees its bytes in order, while the next
// file hashes beside it in the other lane (1 GiB verify: 0.71-0.77 s with one lane, 0.67-0.70 s
// with two). When staging, the block is also written, at its offset in its file (pwrite), by a
// job in a third ordered lane on the same thread (OrderedPool lanes run beside one another): the
// writes overlap the hashing of the blocks after them instead of lengthening the one chain every
// block waits on (1 GiB verify --extract: that chain was 0.9 s of a 1.0 s run). Memory is bounded
// by the reader's blocks: a view's block is reused once both its jobs have run.
//
// Errors: the jobs only ever work on bytes that came earlier in the stream than where the parsing
// thread is, so on any failure the streamer first drains the worker and reports the worker's
// error if it has one, else its own. Among the worker's, the earliest in stream order is kept
// (hash_worker.cpp), whichever lane met it first.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/container/container.hpp"
#include "core/error.hpp"
#include "core/sys/ordered_pool.hpp"
#include "verifier/staging.hpp"

namespace airlock::verifier {

class HashWorker {
 public:
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;  // at most this much per view

  explicit HashWorker(OrderedPool& pool);
  ~HashWorker();  // waits for the jobs handed over (their staged files are closed; Staging removes them)
  HashWorker(const HashWorker&) = delete;
  HashWorker& operator=(const HashWorker&) = delete;

  // True once a job has failed: stop, and drain() for the error.
  bool failed() const;
  // Starts a file: the digest it must have, and where its bytes go (if staging).
  void begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out);
  // The next bytes of the current file.
  void submit(ZstdReader::View bytes);
  // Ends the current file: its digest is compared, and its staged file closed once written.
  void end();
  // Waits until every job handed over has run; the first error one met, if any.
  [[nodiscard]] Status drain();

 private:
  struct State;
  struct Output;
  // Posts `job(Sha256&)` to the hashing lane, on `thread`, as the next job in stream order.
  template <typename Job>
  void post_hash(int thread, Job job);

  OrderedPool& pool_;
  std::shared_ptr<State> st_;
  int last_thread_ = OrderedPool::kAnyThread;
  std::uint64_t seq_ = 0;  // the next job's place in the stream
  // The current file, as the parsing thread sees it.
  std::string label_;
  std::string expected_;
  std::shared_ptr<Output> out_;
  off_t offset_ = 0;
  int hash_lane_ = 0;
  std::uint64_t files_ = 0;
};

}  // namespace airlock::verifier

#include "verifier/hash_worker.hpp"

#include <algorithm>
#include <mutex>

#include "core/hash.hpp"

namespace airlock::verifier {

namespace {
// Hash and write a slice at a time, so that write(2) copies from the cache the hash just warmed
// (one 1 MiB write after hashing 1 MiB measured slower).
constexpr std::size_t kSliceBytes = std::size_t{256} << 10;
}  // namespace

// The current file: touched by the ordered jobs only, which run one at a time.
struct HashWorker::State {
  std::string label;
  std::string expected;
  std::optional<StagedFile> out;
  Sha256 sha;
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::optional<Error> error;  // the first one
};

HashWorker::HashWorker(OrderedPool& pool) : pool_(pool), st_(std::make_shared<State>()) {}

HashWorker::~HashWorker() { pool_.wait_ordered(); }

bool HashWorker::failed() const { return st_->failed.load(std::memory_order_relaxed); }

void HashWorker::post(int thread, Status (*job)(State&, ZstdReader::View&), ZstdReader::View bytes) {
  pool_.post(thread, [st = st_, job, bytes = std::move(bytes)]() mutable {
    if (st->failed.load(std::memory_order_relaxed)) return;  // after a failure, only release the bytes
    if (auto s = job(*st, bytes); !s) {
      std::lock_guard lock(st->mu);
      if (!st->error) st->error = std::move(s).error();
      st->failed.store(true, std::memory_order_relaxed);
    }
  });
}

void HashWorker::begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out) {
  // The file's details go with a job of their own, in order; the staged file is closed by the job
  // or, if it never runs (an earlier failure), when the State goes.
  // (std::function needs a copyable job: the move-only staged file goes in a shared box.)
  auto box = std::make_shared<std::optional<StagedFile>>(std::move(out));
  pool_.post(OrderedPool::kAnyThread,
             [st = st_, label = std::move(label), expected = std::move(expected_sha256), box]() mutable {
               if (st->failed.load(std::memory_order_relaxed)) return;
               st->label = std::move(label);
               st->expected = std::move(expected);
               st->out = std::move(*box);
             });
}

void HashWorker::submit(ZstdReader::View bytes) {
  last_thread_ = bytes.thread;
  post(bytes.thread,
       [](State& c, ZstdReader::View& v) -> Status {
         for (std::size_t at = 0; at < v.len; at += kSliceBytes) {
           const std::size_t n = std::min(kSliceBytes, v.len - at);
           c.sha.update(v.data + at, n);
           if (c.out) AIRLOCK_CHECK(c.out->write(v.data + at, n), c.label);
         }
         return {};
       },
       std::move(bytes));
}

// The same checks, in the same words, as the single-threaded streamer made.
void HashWorker::end() {
  post(last_thread_, [](State& c, ZstdReader::View&) -> Status {
    const auto got = to_hex(c.sha.finish());
    if (got != c.expected)
      return fail(ErrorClass::integrity, c.label + ": SHA-256 " + got + ", manifest says " + c.expected);
    if (c.out) {
      auto closed = c.out->close();
      c.out.reset();
      AIRLOCK_CHECK(std::move(closed), c.label);
    }
    return {};
  });
}

Status HashWorker::drain() {
  pool_.wait_ordered();
  std::lock_guard lock(st_->mu);
  if (st_->error) return fail(*st_->error);
  return {};
}

}  // namespace airlock::verifier

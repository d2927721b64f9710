#include "verifier/hash_worker.hpp"

#include <limits>
#include <mutex>

#include "core/crypto/hash.hpp"

namespace airlock::verifier {

namespace {
// Staged blocks are written in an ordered lane of their own: one file's blocks one after another
// (two threads writing one file at once contend in the kernel: more system time, no gain), and
// beside the hashing lanes instead of in them.
constexpr int kHashLanes = 2;
constexpr int kWriteLane = 2;
static_assert(kWriteLane < OrderedPool::kLanes);
constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
}  // namespace

// Every job carries its place in the stream (`seq`, in the order the parsing thread handed the
// work over: a block's hash, then its write; a file's end after its blocks). The two lanes run at
// their own pace, so failures may happen out of that order; the one kept is the earliest in it,
// and a job skips its work only when an earlier one has failed. So the error reported does not
// depend on timing: it is the one the single-threaded streamer would have met first.
struct HashWorker::State {
  Sha256 sha[kHashLanes];  // each lane's current file's: touched by its lane only, one job at a time

  std::atomic<std::uint64_t> first_failed{kNone};  // error_seq, for reading without the lock
  std::mutex mu;
  std::optional<Error> error;  // the earliest in stream order
  std::uint64_t error_seq = kNone;

  bool skip(std::uint64_t seq) const { return first_failed.load(std::memory_order_acquire) < seq; }
  void record(Error e, std::uint64_t seq) {
    std::lock_guard lock(mu);
    if (seq < error_seq) {
      error = std::move(e);
      error_seq = seq;
      first_failed.store(seq, std::memory_order_release);
    }
  }
};

// A staged file: written by jobs on either thread, closed by whoever finishes with it last (its
// last write, or end() when every write has already run).
struct HashWorker::Output {
  explicit Output(StagedFile f) : file(std::move(f)) {}
  StagedFile file;
  std::atomic<int> users{1};               // writes in flight, plus one until the file's end()
  std::atomic<std::uint64_t> end_seq{kNone};  // a failed close counts as the file's end failing

  void done_with(State& st, const std::string& label) {
    if (users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const std::uint64_t seq = end_seq.load(std::memory_order_relaxed);
    if (auto closed = file.close(); !closed && !st.skip(seq)) st.record(std::move(closed).error().with_context(label), seq);
  }
};

HashWorker::HashWorker(OrderedPool& pool) : pool_(pool), st_(std::make_shared<State>()) {}

HashWorker::~HashWorker() { pool_.wait_ordered(); }

bool HashWorker::failed() const { return st_->first_failed.load(std::memory_order_relaxed) != kNone; }

template <typename Job>
void HashWorker::post_hash(int thread, Job job) {
  pool_.post(
      thread,
      [st = st_, seq = seq_++, lane = hash_lane_, job = std::move(job)]() mutable {
        if (st->skip(seq)) return;  // after an earlier failure, only release the bytes
        if (Status s = job(st->sha[lane]); !s) st->record(std::move(s).error(), seq);
      },
      hash_lane_);
}

void HashWorker::begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out) {
  label_ = std::move(label);
  expected_ = std::move(expected_sha256);
  out_ = out ? std::make_shared<Output>(std::move(*out)) : nullptr;
  offset_ = 0;
  hash_lane_ = static_cast<int>(files_++ % kHashLanes);
}

void HashWorker::submit(ZstdReader::View bytes) {
  last_thread_ = bytes.thread;
  const std::uint64_t write_seq = seq_ + 1;  // after this block's hash
  if (out_) {
    out_->users.fetch_add(1, std::memory_order_relaxed);
    pool_.post(
        bytes.thread,
        [st = st_, out = out_, label = label_, at = offset_, seq = write_seq, v = bytes] {
          if (!st->skip(seq))
            if (auto s = out->file.write_at(v.data, v.len, at); !s) st->record(std::move(s).error().with_context(label), seq);
          out->done_with(*st, label);
        },
        kWriteLane);
    offset_ += static_cast<off_t>(bytes.len);
  }
  post_hash(bytes.thread, [v = std::move(bytes)](Sha256& sha) -> Status {
    sha.update(v.data, v.len);
    return {};
  });
  ++seq_;  // write_seq's place, used or not
}

// The same checks, in the same words, as the single-threaded streamer made.
void HashWorker::end() {
  if (out_) out_->end_seq.store(seq_, std::memory_order_relaxed);
  post_hash(last_thread_, [label = label_, expected = expected_](Sha256& sha) -> Status {
    const auto got = to_hex(sha.finish());  // (and resets it for the next file)
    if (got != expected) return fail(ErrorClass::integrity, label + ": SHA-256 " + got + ", manifest says " + expected);
    return {};
  });
  if (out_) out_->done_with(*st_, label_);
  out_.reset();
}

Status HashWorker::drain() {
  pool_.wait_ordered();
  std::lock_guard lock(st_->mu);
  if (st_->error) return fail(*st_->error);
  return {};
}

}  // namespace airlock::verifier

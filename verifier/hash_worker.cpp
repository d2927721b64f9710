#include "verifier/hash_worker.hpp"

#include <condition_variable>
#include <mutex>

#include "core/hash.hpp"

namespace airlock::verifier {

namespace {
// Staged blocks are written in an ordered lane of their own: one file's blocks one after another
// (two threads writing one file at once contend in the kernel: more system time, no gain), and
// beside the hashing lane instead of in it.
constexpr int kWriteLane = 1;
}  // namespace

struct HashWorker::State {
  // The current file's digest: touched by the ordered jobs only, which run one at a time.
  std::string label;
  std::string expected;
  Sha256 sha;

  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;  // writes_pending fell
  std::optional<Error> error;  // the first one
  int writes_pending = 0;      // write jobs handed over and not yet run

  void record(Error e) {
    std::lock_guard lock(mu);
    if (!error) error = std::move(e);
    failed.store(true, std::memory_order_relaxed);
  }
};

// A staged file: written by jobs on any thread, closed by whoever finishes with it last (its last
// write, or end() when every write has already run).
struct HashWorker::Output {
  explicit Output(StagedFile f) : file(std::move(f)) {}
  StagedFile file;
  std::atomic<int> users{1};  // writes in flight, plus one until the file's end()

  void done_with(State& st, const std::string& label) {
    if (users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (auto closed = file.close(); !closed && !st.failed.load(std::memory_order_relaxed))
      st.record(std::move(closed).error().with_context(label));
  }
};

HashWorker::HashWorker(OrderedPool& pool) : pool_(pool), st_(std::make_shared<State>()) {}

HashWorker::~HashWorker() { wait_all(); }

bool HashWorker::failed() const { return st_->failed.load(std::memory_order_relaxed); }

void HashWorker::wait_all() {
  pool_.wait_ordered();
  std::unique_lock lock(st_->mu);
  st_->cv.wait(lock, [&] { return st_->writes_pending == 0; });
}

void HashWorker::post(int thread, Status (*job)(State&, ZstdReader::View&), ZstdReader::View bytes) {
  pool_.post(thread, [st = st_, job, bytes = std::move(bytes)]() mutable {
    if (st->failed.load(std::memory_order_relaxed)) return;  // after a failure, only release the bytes
    if (auto s = job(*st, bytes); !s) st->record(std::move(s).error());
  });
}

void HashWorker::begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out) {
  label_ = label;
  out_ = out ? std::make_shared<Output>(std::move(*out)) : nullptr;
  offset_ = 0;
  pool_.post(OrderedPool::kAnyThread,
             [st = st_, label = std::move(label), expected = std::move(expected_sha256)]() mutable {
               if (st->failed.load(std::memory_order_relaxed)) return;
               st->label = std::move(label);
               st->expected = std::move(expected);
             });
}

void HashWorker::submit(ZstdReader::View bytes) {
  last_thread_ = bytes.thread;
  if (out_) {
    {
      std::lock_guard lock(st_->mu);
      ++st_->writes_pending;
    }
    out_->users.fetch_add(1, std::memory_order_relaxed);
    pool_.post(bytes.thread, [st = st_, out = out_, label = label_, at = offset_, v = bytes] {
      if (!st->failed.load(std::memory_order_relaxed))
        if (auto s = out->file.write_at(v.data, v.len, at); !s) st->record(std::move(s).error().with_context(label));
      out->done_with(*st, label);
      std::lock_guard lock(st->mu);
      --st->writes_pending;
      st->cv.notify_all();
    }, kWriteLane);
    offset_ += static_cast<off_t>(bytes.len);
  }
  post(bytes.thread, [](State& c, ZstdReader::View& v) -> Status {
    c.sha.update(v.data, v.len);
    return {};
  }, std::move(bytes));
}

// The same checks, in the same words, as the single-threaded streamer made.
void HashWorker::end() {
  post(last_thread_, [](State& c, ZstdReader::View&) -> Status {
    const auto got = to_hex(c.sha.finish());
    if (got != c.expected)
      return fail(ErrorClass::integrity, c.label + ": SHA-256 " + got + ", manifest says " + c.expected);
    return {};
  });
  if (out_) out_->done_with(*st_, label_);
  out_.reset();
}

Status HashWorker::drain() {
  wait_all();
  std::lock_guard lock(st_->mu);
  if (st_->error) return fail(*st_->error);
  return {};
}

}  // namespace airlock::verifier

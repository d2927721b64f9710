#include "verifier/hash_worker.hpp"

#include <algorithm>

#include "core/hash.hpp"

namespace airlock::verifier {

namespace {
constexpr std::size_t kSliceBytes = std::size_t{256} << 10;
}  // namespace

struct HashWorker::Current {
  std::string label;
  std::string expected;
  std::optional<StagedFile> out;
  Sha256 sha;
};

HashWorker::HashWorker() : storage_(kChunks), cur_(std::make_unique<Current>()) {
  for (auto& s : storage_) {
    s.resize(kChunkBytes);
    free_.push_back(s.data());
  }
  thread_ = std::thread([this] { loop(); });
}

HashWorker::~HashWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

char* HashWorker::acquire() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return !free_.empty() || error_; });
  if (error_) return nullptr;
  char* c = free_.back();
  free_.pop_back();
  return c;
}

void HashWorker::push(Job job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  work_cv_.notify_one();
}

void HashWorker::begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out) {
  push(Job{Job::begin_file, nullptr, 0, std::move(label), std::move(expected_sha256), std::move(out)});
}

void HashWorker::submit(char* chunk, std::size_t len) { push(Job{Job::data, chunk, len, {}, {}, std::nullopt}); }

void HashWorker::end() { push(Job{Job::end_file, nullptr, 0, {}, {}, std::nullopt}); }

Status HashWorker::drain() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return jobs_.empty() && !busy_; });
  if (error_) return fail(*error_);
  return {};
}

// The same checks, in the same words, as the single-threaded streamer made.
Status HashWorker::run(Job& job) {
  Current& c = *cur_;
  switch (job.kind) {
    case Job::begin_file:
      c.label = std::move(job.label);
      c.expected = std::move(job.expected);
      c.out = std::move(job.out);
      return {};
    case Job::data:
      if (job.len == 0) return {};
      // Hash and write a slice at a time, so that write(2) copies from the cache the hash just
      // warmed (one 1 MiB write after hashing 1 MiB measured slower).
      for (std::size_t at = 0; at < job.len; at += kSliceBytes) {
        const std::size_t n = std::min(kSliceBytes, job.len - at);
        c.sha.update(job.chunk + at, n);
        if (c.out) AIRLOCK_CHECK(c.out->write(job.chunk + at, n), c.label);
      }
      return {};
    case Job::end_file: {
      const auto got = to_hex(c.sha.finish());
      if (got != c.expected)
        return fail(ErrorClass::integrity, c.label + ": SHA-256 " + got + ", manifest says " + c.expected);
      if (c.out) {
        auto closed = c.out->close();
        c.out.reset();
        AIRLOCK_CHECK(std::move(closed), c.label);
      }
      return {};
    }
  }
  return {};
}

void HashWorker::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stop_ and nothing left
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    const bool skip = error_.has_value() || stop_;  // after a failure, only hand chunks back
    lock.unlock();
    Status s;
    if (!skip) s = run(job);
    job.out.reset();  // a staged file not begun is closed here, outside the lock
    lock.lock();
    if (!s && !error_) error_ = std::move(s).error();
    if (job.chunk) free_.push_back(job.chunk);
    busy_ = false;
    done_cv_.notify_all();
  }
}

}  // namespace airlock::verifier

// HashWorker: the payload files' SHA-256 and staging writes on a thread of their own, so that the
// decompressing thread never waits for them (issue 4: verification should cost what zstd -dc
// costs). The streamer decompresses into one of a few fixed 1 MiB chunks, hands it over, and
// takes the next free one: memory stays bounded (kChunks × kChunkBytes) whatever the bundle.
//
// Errors keep the sequential order: the worker only ever works on bytes that came earlier in the
// stream than where the decompressing thread is, so on any failure the streamer first drains the
// worker and reports the worker's error if it has one, else its own.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "verifier/staging.hpp"

namespace airlock::verifier {

class HashWorker {
 public:
  static constexpr std::size_t kChunks = 4;
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

  HashWorker();
  ~HashWorker();  // stops and joins; queued staged files are closed (Staging removes them)
  HashWorker(const HashWorker&) = delete;
  HashWorker& operator=(const HashWorker&) = delete;

  // A free chunk (waits for one). Returns nullptr once the worker has failed: stop and drain().
  char* acquire();
  // Starts a file: the digest it must have, and where its bytes go (if staging).
  void begin(std::string label, std::string expected_sha256, std::optional<StagedFile> out);
  // The first `len` bytes of `chunk` (from acquire()) belong to the current file.
  void submit(char* chunk, std::size_t len);
  // Ends the current file: its digest is compared and its staged file closed, on the worker.
  void end();
  // Waits until every job handed over is done; the first error the worker met, if any.
  [[nodiscard]] Status drain();

 private:
  struct Job {
    enum Kind { begin_file, data, end_file } kind;
    char* chunk = nullptr;
    std::size_t len = 0;
    std::string label;
    std::string expected;
    std::optional<StagedFile> out;
  };
  void loop();
  void push(Job job);
  Status run(Job& job);

  std::vector<std::vector<char>> storage_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // worker waits for jobs
  std::condition_variable done_cv_;  // streamer waits for free chunks / idleness
  std::deque<Job> jobs_;
  std::vector<char*> free_;
  bool busy_ = false;
  bool stop_ = false;
  std::optional<Error> error_;
  // Worker-only state: the current file.
  struct Current;
  std::unique_ptr<Current> cur_;
  std::thread thread_;
};

}  // namespace airlock::verifier

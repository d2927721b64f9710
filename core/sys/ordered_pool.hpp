// OrderedPool: a few threads that run two kinds of work.
//
//  - spawn(fn): unordered jobs, run by whichever thread is free, first come first served
//    (decompressing a zstd frame);
//  - post(on, fn, lane): ordered jobs, run one at a time in exactly the order they were posted to
//    their lane, each on the thread `on` names (or on any thread when `on` is kAnyThread). A lane
//    is a single-threaded executor whose jobs may choose their core: the verifier hashes a
//    decompressed block on the thread that decompressed it, while the block is still in that
//    core's cache, yet every file's SHA-256 still sees its bytes in order. Lanes are independent
//    of one another (the verifier hashes two files side by side in lanes 0 and 1, and writes
//    staged blocks in lane 2).
//
// A thread runs the ordered job at the head of a lane when it is its own (lane 0 first), and
// otherwise takes an unordered job, unless it is held (see hold()). Jobs must not wait for one
// another: an unordered job never waits for ordered work, so every ordered job can always run.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace airlock {

class OrderedPool {
 public:
  static constexpr int kAnyThread = -1;

  explicit OrderedPool(int threads);
  ~OrderedPool();  // runs every job already queued, then joins
  OrderedPool(const OrderedPool&) = delete;
  OrderedPool& operator=(const OrderedPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }
  // `fn` gets the index (0 .. size()-1) of the thread that runs it.
  void spawn(std::function<void(int thread)> fn);
  static constexpr int kLanes = 3;
  void post(int on, std::function<void()> fn, int lane = 0);
  // Waits until every ordered job posted so far, in every lane, has run.
  void wait_ordered();
  // A thread with kHoldLimit holds takes no unordered job (it still runs its ordered ones). The
  // reader holds the thread that decompressed a block until the block's bytes are hashed, so that
  // the thread hashes them before decompressing much else through its cache. (A limit of 2 lets it
  // decompress one frame while its last block waits for its turn: 1 GiB verify 0.71 s, against
  // 0.78 s with 1 and 0.92 s with no limit.)
  static constexpr int kHoldLimit = 2;
  void hold(int thread);
  void release(int thread);

 private:
  struct Ordered {
    int on;
    std::function<void()> fn;
  };
  void loop(int me);

  std::mutex mu_;
  std::condition_variable cv_;       // threads wait for work
  std::condition_variable idle_cv_;  // wait_ordered() waits for every lane to be empty and idle
  struct Lane {
    std::deque<Ordered> queue;
    bool running = false;
  };
  bool lanes_idle() const;  // with mu_ held
  Lane lanes_[kLanes];
  std::deque<std::function<void(int)>> unordered_;
  std::vector<int> holds_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace airlock

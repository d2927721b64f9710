#include "core/sys/ordered_pool.hpp"

#include <algorithm>

namespace airlock {

OrderedPool::OrderedPool(int threads) {
  const int n = std::max(1, threads);
  holds_.assign(static_cast<std::size_t>(n), 0);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i); });
}

OrderedPool::~OrderedPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void OrderedPool::spawn(std::function<void(int thread)> fn) {
  {
    std::lock_guard lock(mu_);
    unordered_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void OrderedPool::post(int on, std::function<void()> fn, int lane) {
  if (on >= size()) on = kAnyThread;
  lane = std::clamp(lane, 0, kLanes - 1);
  {
    std::lock_guard lock(mu_);
    lanes_[lane].queue.push_back(Ordered{on, std::move(fn)});
  }
  cv_.notify_all();
}

bool OrderedPool::lanes_idle() const {
  return std::all_of(std::begin(lanes_), std::end(lanes_), [](const Lane& l) { return l.queue.empty() && !l.running; });
}

void OrderedPool::wait_ordered() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return lanes_idle(); });
}

void OrderedPool::hold(int thread) {
  if (thread < 0 || thread >= size()) return;
  std::lock_guard lock(mu_);
  ++holds_[static_cast<std::size_t>(thread)];
}

void OrderedPool::release(int thread) {
  if (thread < 0 || thread >= size()) return;
  {
    std::lock_guard lock(mu_);
    --holds_[static_cast<std::size_t>(thread)];
  }
  cv_.notify_all();
}

void OrderedPool::loop(int me) {
  std::unique_lock lock(mu_);
  for (;;) {
    Lane* lane = nullptr;
    for (auto& l : lanes_)
      if (!l.running && !l.queue.empty() && (l.queue.front().on == kAnyThread || l.queue.front().on == me)) {
        lane = &l;
        break;
      }
    if (lane) {
      auto fn = std::move(lane->queue.front().fn);
      lane->queue.pop_front();
      lane->running = true;
      lock.unlock();
      fn();
      fn = nullptr;  // whatever it holds is released outside the lock
      lock.lock();
      lane->running = false;
      if (lanes_idle()) idle_cv_.notify_all();
      cv_.notify_all();  // the lane's next job may be another thread's
      continue;
    }
    if (!unordered_.empty() && holds_[static_cast<std::size_t>(me)] < kHoldLimit) {
      auto fn = std::move(unordered_.front());
      unordered_.pop_front();
      lock.unlock();
      fn(me);
      fn = nullptr;
      lock.lock();
      continue;
    }
    if (stop_ && lanes_idle()) return;
    cv_.wait(lock);
  }
}

}  // namespace airlock

#include "core/ordered_pool.hpp"

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

void OrderedPool::post(int on, std::function<void()> fn) {
  if (on >= size()) on = kAnyThread;
  {
    std::lock_guard lock(mu_);
    ordered_.push_back(Ordered{on, std::move(fn)});
  }
  cv_.notify_all();
}

void OrderedPool::wait_ordered() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return ordered_.empty() && !ordered_running_; });
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
    const bool mine = !ordered_running_ && !ordered_.empty() &&
                      (ordered_.front().on == kAnyThread || ordered_.front().on == me);
    if (mine) {
      auto fn = std::move(ordered_.front().fn);
      ordered_.pop_front();
      ordered_running_ = true;
      lock.unlock();
      fn();
      fn = nullptr;  // whatever it holds is released outside the lock
      lock.lock();
      ordered_running_ = false;
      if (ordered_.empty()) idle_cv_.notify_all();
      cv_.notify_all();  // the next ordered job may be another thread's
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
    if (stop_ && ordered_.empty() && !ordered_running_) return;
    cv_.wait(lock);
  }
}

}  // namespace airlock

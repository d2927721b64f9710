// OrderedPool: ordered jobs run one at a time, in the order posted, each on the thread
// it names; a thread held kHoldLimit times takes no unordered job until released.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/sys/ordered_pool.hpp"

namespace airlock::test {
namespace {

TEST(OrderedPool, OrderedJobsRunInOrderOnTheirThread) {
  std::vector<int> order;
  std::vector<std::thread::id> ran_on(400);
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  {
    OrderedPool pool(2);
    std::vector<std::thread::id> ids(2);
    // Learn each thread's id through jobs pinned to it.
    pool.post(0, [&] { ids[0] = std::this_thread::get_id(); });
    pool.post(1, [&] { ids[1] = std::this_thread::get_id(); });
    pool.wait_ordered();
    ASSERT_NE(ids[0], ids[1]);
    for (int i = 0; i < 400; ++i) {
      // Unordered work in between, as decompression is.
      if (i % 7 == 0) pool.spawn([](int) { std::this_thread::sleep_for(std::chrono::microseconds(50)); });
      const int on = i % 3 == 2 ? OrderedPool::kAnyThread : (i / 2) % 2;
      pool.post(on, [&, i, on] {
        if (running.fetch_add(1) != 0) overlapped = true;
        order.push_back(i);
        ran_on[static_cast<std::size_t>(i)] = std::this_thread::get_id();
        if (on != OrderedPool::kAnyThread && std::this_thread::get_id() != ids[static_cast<std::size_t>(on)])
          overlapped = true;  // (reported below as a wrong thread)
        running.fetch_sub(1);
      });
    }
    pool.wait_ordered();
    ASSERT_EQ(order.size(), 400u);
  }
  for (int i = 0; i < 400; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_FALSE(overlapped) << "two ordered jobs ran at once, or a job ran on another thread than it named";
}

TEST(OrderedPool, AHeldThreadTakesNoUnorderedJob) {
  OrderedPool pool(2);
  std::mutex mu;
  std::vector<int> ran_by;
  for (int i = 0; i < OrderedPool::kHoldLimit; ++i) pool.hold(0);
  for (int i = 0; i < 20; ++i)
    pool.spawn([&](int me) {
      std::lock_guard lock(mu);
      ran_by.push_back(me);
    });
  // Ordered work still runs on the held thread.
  std::atomic<bool> ordered_ran{false};
  pool.post(0, [&] { ordered_ran = true; });
  pool.wait_ordered();
  EXPECT_TRUE(ordered_ran);
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (ran_by.size() == 20) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(ran_by.size(), 20u);
  for (int me : ran_by) EXPECT_EQ(me, 1);
  // Once released below the limit, it takes unordered jobs again.
  pool.release(0);
  std::atomic<int> by_zero{0};
  for (int i = 0; i < 200 && by_zero == 0; ++i) {
    pool.spawn([&](int me) {
      if (me == 0) ++by_zero;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(by_zero.load(), 0);
  for (int i = 1; i < OrderedPool::kHoldLimit; ++i) pool.release(0);
}

// Lanes are independent: a lane-1 job posted after a running lane-0 job runs meanwhile (here the
// lane-0 job even waits for it, which only works if it does), and each lane keeps its own order.
TEST(OrderedPool, LanesRunBesideOneAnotherEachInItsOwnOrder) {
  OrderedPool pool(2);
  std::promise<void> lane1_ran;
  auto seen = lane1_ran.get_future();
  std::atomic<bool> waited_out{false};
  pool.post(0, [&] { waited_out = seen.wait_for(std::chrono::seconds(20)) != std::future_status::ready; }, 0);
  pool.post(1, [&] { lane1_ran.set_value(); }, 1);
  pool.wait_ordered();
  EXPECT_FALSE(waited_out) << "the lane-1 job waited for the lane-0 job before it";

  std::vector<int> order[OrderedPool::kLanes];
  for (int i = 0; i < 150 * OrderedPool::kLanes; ++i) {
    const int lane = (i / 3) % OrderedPool::kLanes;
    pool.post(i % 2, [&order, lane, i] { order[lane].push_back(i); }, lane);
  }
  pool.wait_ordered();
  for (const auto& o : order) {
    EXPECT_EQ(o.size(), 150u);
    EXPECT_TRUE(std::is_sorted(o.begin(), o.end()));
  }
}

TEST(OrderedPool, DestructionRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    OrderedPool pool(2);
    for (int i = 0; i < 50; ++i) {
      pool.spawn([&](int) { ++ran; });
      pool.post(i % 2, [&] { ++ran; });
    }
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace airlock::test

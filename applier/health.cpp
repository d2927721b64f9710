#include "applier/health.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace airlock::applier {

CheckRun run_checks(const Site& site, const Baseline* baseline, ChildObserver* children) {
  CheckRun run;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> cancel{false};
  std::size_t finished = 0;
  std::vector<std::thread> threads;
  threads.reserve(site.checks.size());
  for (const auto& spec : site.checks) {
    threads.emplace_back([&, spec_ptr = &spec] {
      double ms = -1;
      CheckResult r = run_one_check(site, *spec_ptr, baseline, cancel, &ms, children);
      std::lock_guard<std::mutex> lk(mu);
      ++finished;
      // After the first hard failure the run is decided; late results are not part of it.
      if (!cancel.load()) {
        if (ms >= 0) run.measured[r.name] = ms;
        if (!r.ok) run.signals.push_back("check '" + r.name + "' (" + r.kind + "): " + r.detail);
        if (!r.ok && r.hard) {
          run.hard_failed = true;
          run.hard_fail_at = std::chrono::steady_clock::now();
          cancel.store(true);
        }
        run.results.push_back(std::move(r));
      }
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return run.hard_failed || finished == threads.size(); });
  }
  // Cancelled probes poll the flag every few milliseconds, so joining is quick.
  for (auto& t : threads) t.join();
  return run;
}

}  // namespace airlock::applier

// Internal to the health checks: one attempt of a check (probes.cpp) and the window watch of the
// crash-loop kinds (counter.cpp). health.cpp retries attempts and decides.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "applier/health.hpp"

namespace airlock::applier {

struct Probe {
  bool ok = false;
  std::string detail;
  bool skipped = false;
};

// One attempt, cut at `deadline` whatever the check's own timeout.
Probe probe_once(const Site& site, const CheckSpec& c, const Baseline* baseline,
                 std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& cancel, double* measured_ms,
                 ChildObserver* children);

// systemd / restarts: reads the counter now and then until `deadline`; fails as soon as it grew by
// more than c.max_restarts (or a systemd unit is not active). A deadline already passed reads once.
Probe watch_counter(const Site& site, const CheckSpec& c, std::chrono::steady_clock::time_point deadline,
                    const std::atomic<bool>& cancel, ChildObserver* children);

}  // namespace airlock::applier

// Health checks (site.toml [[checks]]): run in parallel, one thread each with its own deadline.
// The moment a hard check fails the others are cancelled and run_checks returns, with the time of
// that failing signal, so the rollback starts without waiting for the slow ones.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/process.hpp"
#include "applier/site.hpp"

namespace airlock::applier {

// Median latency (ms) per latency check, measured in preflight.
using Baseline = std::map<std::string, double>;

struct CheckRun {
  std::vector<CheckResult> results;  // in completion order; cancelled checks are absent
  bool hard_failed = false;
  std::vector<std::string> signals;  // "check 'x' (sqlite): ..." for every failed check
  std::optional<std::chrono::steady_clock::time_point> hard_fail_at;
  Baseline measured;  // latency medians seen in this run
};

// With baseline == nullptr (preflight) latency checks only measure. `children` (optional) is told of
// every exec check's process group.
CheckRun run_checks(const Site& site, const Baseline* baseline, ChildObserver* children = nullptr);

// One probe, synchronously (used by run_checks; exposed for tests).
CheckResult run_one_check(const Site& site, const CheckSpec& c, const Baseline* baseline,
                          const std::atomic<bool>& cancel, double* measured_ms, ChildObserver* children = nullptr);

}  // namespace airlock::applier

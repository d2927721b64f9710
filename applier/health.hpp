// Health checks (site.toml [[checks]] and [[check_groups]], docs/site.md): every check runs in its
// own thread against its own deadline (`within`, counted from the start of the run); a check that
// retries keeps trying with backoff until it passes or the deadline cuts it. The moment a hard
// check or a hard group fails, the others are cancelled (exec checks' process groups killed) and
// run_checks returns with the true time of that failing signal, so rollback starts at once.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "core/sys/process.hpp"
#include "applier/site.hpp"

namespace airlock::applier {

// Median latency (ms) per latency check, measured in preflight.
using Baseline = std::map<std::string, double>;

struct CheckRun {
  std::vector<CheckResult> results;  // in completion order, groups included; cancelled checks are absent
  bool hard_failed = false;
  std::vector<std::string> signals;  // "check 'x' (sqlite): ..." for every failed check and group
  std::string decided_by;            // the signal of the first hard failure
  std::optional<std::chrono::steady_clock::time_point> hard_fail_at;
  Baseline measured;  // latency medians seen in this run
  std::chrono::steady_clock::time_point started_at{}, ended_at{};

  std::int64_t elapsed_ms() const;
  std::optional<std::int64_t> hard_fail_after_ms() const;  // from started_at
};

enum class CheckMode {
  decide,   // after an apply or a rollback: retries as configured, the first hard failure decides
  measure,  // preflight: one attempt each, every check runs to its end (the latency baseline is
            // taken even when another check fails)
};

// With baseline == nullptr latency checks only measure. `children` (optional) is told of every
// exec check's process group.
CheckRun run_checks(const Site& site, const Baseline* baseline, ChildObserver* children = nullptr,
                    CheckMode mode = CheckMode::decide);

// The health phase's times kept in a run's data ("health", written by the check phase) into the
// report: its length, the first hard failure and the rollback start (that failure plus
// signal_to_rollback_ms), all from the start of the phase.
void health_times(const nlohmann::json& data, RunReport& r);

// One check to its end (every attempt until it passes or its deadline), synchronously.
CheckResult run_one_check(const Site& site, const CheckSpec& c, const Baseline* baseline,
                          const std::atomic<bool>& cancel, double* measured_ms, ChildObserver* children = nullptr);

}  // namespace airlock::applier

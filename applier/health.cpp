#include "applier/health.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "applier/condition.hpp"
#include "applier/probes.hpp"

namespace airlock::applier {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{250};
constexpr milliseconds kMaxBackoff{5000};

std::int64_t ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

bool pause(milliseconds d, SteadyClock::time_point deadline, const std::atomic<bool>& cancel) {
  const auto until = std::min(SteadyClock::now() + d, deadline);
  while (SteadyClock::now() < until && !cancel.load()) std::this_thread::sleep_for(milliseconds(20));
  return !cancel.load();
}

std::string within_text(std::int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Attempts until one passes, the check does not retry, or the deadline passes.
Probe attempts(const Site& site, const CheckSpec& c, const Baseline* baseline, SteadyClock::time_point deadline,
               bool retry, const std::atomic<bool>& cancel, double* measured, ChildObserver* children) {
  if (c.kind == CheckKind::systemd || c.kind == CheckKind::restarts)
    return watch_counter(site, c, deadline, cancel, children);
  auto backoff = kFirstBackoff;
  for (int n = 1;; ++n) {
    const auto dl = std::min(SteadyClock::now() + milliseconds(c.timeout_ms), deadline);
    Probe p = probe_once(site, c, baseline, dl, cancel, measured, children);
    if (p.ok || cancel.load()) return p;
    const bool cut = SteadyClock::now() >= deadline;
    if (!retry || cut) {
      if (cut && dl == deadline) p.detail += " (cut at the check's deadline, within " + within_text(c.within_ms) + ")";
      if (retry)
        p.detail = "not passing within " + within_text(c.within_ms) + " (" + std::to_string(n) +
                   " attempts); last: " + p.detail;
      return p;
    }
    if (!pause(backoff, deadline, cancel)) return p;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

CheckResult check_to_end(const Site& site, const CheckSpec& c, const Baseline* baseline,
                         SteadyClock::time_point started, CheckMode mode, const std::atomic<bool>& cancel,
                         double* measured, ChildObserver* children) {
  const auto t0 = SteadyClock::now();
  CheckResult r{c.name, check_kind_name(c.kind), c.hard && c.group.empty(), false, "", 0};
  if (c.when) {
    if (auto why = condition_unmet(site, *c.when)) {
      r.ok = r.skipped = true;
      r.detail = "skipped: " + *why;
      return r;
    }
  }
  // Preflight asks once: a first install has no service yet, and an installed one is up already.
  const bool measure = mode == CheckMode::measure;
  const bool window = c.kind == CheckKind::systemd || c.kind == CheckKind::restarts;
  auto deadline = started + milliseconds(c.within_ms);
  if (measure) deadline = window ? t0 : std::min(deadline, t0 + milliseconds(c.timeout_ms));  // one reading
  Probe p = attempts(site, c, baseline, deadline, c.retry && !measure, cancel, measured, children);
  r.ok = p.ok;
  r.skipped = p.skipped;
  r.detail = p.detail;
  r.elapsed_ms = ms_between(t0, SteadyClock::now());
  return r;
}

// Where each group stands; a group resolves once it has passed with every member in, or as soon as
// it can no longer reach min_pass.
struct GroupState {
  const CheckGroup* group;
  std::int64_t passed = 0, failed = 0, skipped = 0;
  std::vector<std::string> failing;
  bool resolved = false;
};

class Decider {
 public:
  Decider(const Site& site, CheckMode mode) : mode_(mode) {
    for (const auto& g : site.check_groups) groups_.push_back(GroupState{&g, 0, 0, 0, {}, false});
    run.started_at = SteadyClock::now();
  }

  // Called with the lock held; true when this result decides the run.
  bool take(CheckResult r, const std::string& group, double ms) {
    if (cancel.load()) return false;  // decided already: late results are not part of the run
    if (ms >= 0) run.measured[r.name] = ms;
    if (!r.ok)
      run.signals.push_back("check '" + r.name + "' (" + r.kind + (group.empty() ? "" : ", in group '" + group + "'") +
                            "): " + r.detail);
    bool decides = !r.ok && r.hard;
    if (!group.empty()) decides = count(r, group);
    run.results.push_back(std::move(r));
    if (decides && run.decided_by.empty()) run.decided_by = run.signals.back();
    if (decides && mode_ == CheckMode::decide) {
      run.hard_failed = true;
      run.hard_fail_at = SteadyClock::now();
      cancel.store(true);
    } else if (decides) {
      run.hard_failed = true;
      if (!run.hard_fail_at) run.hard_fail_at = SteadyClock::now();
    }
    return decides;
  }

  CheckRun run;
  std::atomic<bool> cancel{false};

 private:
  bool count(const CheckResult& r, const std::string& name) {
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](const GroupState& g) { return g.group->name == name; });
    if (it == groups_.end() || it->resolved) return false;
    GroupState& g = *it;
    (r.skipped ? g.skipped : r.ok ? g.passed : g.failed)++;
    if (!r.ok) g.failing.push_back(r.name);
    const auto total = static_cast<std::int64_t>(g.group->checks.size());
    const auto pending = total - g.passed - g.failed - g.skipped;
    const bool lost = g.passed + pending < g.group->min_pass;
    if (!lost && pending > 0) return false;
    g.resolved = true;
    std::string detail = std::to_string(g.passed) + " of " + std::to_string(total) + " checks pass" +
                         (lost ? " or can still pass" : "") + ", at least " + std::to_string(g.group->min_pass) +
                         " needed";
    if (g.skipped) detail += " (" + std::to_string(g.skipped) + " skipped)";
    CheckResult gr{g.group->name, "group", g.group->hard,
                   !lost,         detail,  ms_between(run.started_at, SteadyClock::now())};
    if (lost) run.signals.push_back("group '" + g.group->name + "': " + detail);
    run.results.push_back(std::move(gr));
    return lost && g.group->hard;
  }

  CheckMode mode_;
  std::vector<GroupState> groups_;
};

}  // namespace

std::int64_t CheckRun::elapsed_ms() const { return ms_between(started_at, ended_at); }

std::optional<std::int64_t> CheckRun::hard_fail_after_ms() const {
  if (!hard_fail_at) return std::nullopt;
  return ms_between(started_at, *hard_fail_at);
}

void health_times(const nlohmann::json& data, RunReport& r) {
  const auto h = data.find("health");
  if (h == data.end() || !h->is_object()) return;
  const auto get = [&](const char* key) -> std::optional<std::int64_t> {
    const auto v = h->find(key);
    if (v == h->end() || !v->is_number_integer()) return std::nullopt;
    return v->get<std::int64_t>();
  };
  r.health_ms = get("phase_ms");
  r.first_hard_failure_ms = get("first_hard_failure_ms");
  if (r.first_hard_failure_ms && r.signal_to_rollback_ms)
    r.rollback_start_ms = *r.first_hard_failure_ms + *r.signal_to_rollback_ms;
}

CheckRun run_checks(const Site& site, const Baseline* baseline, ChildObserver* children, CheckMode mode) {
  Decider d(site, mode);
  std::mutex mu;
  std::condition_variable cv;
  std::size_t finished = 0;
  std::vector<std::thread> threads;
  threads.reserve(site.checks.size());
  for (const auto& spec : site.checks) {
    threads.emplace_back([&, c = &spec] {
      double ms = -1;
      CheckResult r = check_to_end(site, *c, baseline, d.run.started_at, mode, d.cancel, &ms, children);
      std::lock_guard<std::mutex> lk(mu);
      ++finished;
      d.take(std::move(r), c->group, ms);
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return d.cancel.load() || finished == threads.size(); });
  }
  // Cancelled probes poll the flag every few milliseconds and exec checks are killed, so joining
  // is quick.
  for (auto& t : threads) t.join();
  d.run.ended_at = SteadyClock::now();
  return std::move(d.run);
}

CheckResult run_one_check(const Site& site, const CheckSpec& c, const Baseline* baseline,
                          const std::atomic<bool>& cancel, double* measured_ms, ChildObserver* children) {
  return check_to_end(site, c, baseline, SteadyClock::now(), CheckMode::decide, cancel, measured_ms, children);
}

}  // namespace airlock::applier

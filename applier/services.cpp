#include "applier/services.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "applier/health.hpp"
#include "core/sys/process.hpp"
#include "applier/run.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Between two readiness attempts: short at first (a service is often up within a second), never
// so long that readiness is noticed much later than it happened.
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{2000};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Called with services none of which can go next: following the first unplaced `after` from any of
// them must come back to a service already seen.
std::string describe_cycle(const std::vector<ServiceSpec>& left) {
  auto find = [&](const std::string& n) {
    return std::find_if(left.begin(), left.end(), [&](const ServiceSpec& s) { return s.name == n; });
  };
  std::vector<std::string> path;
  auto it = left.begin();
  while (!contains(path, it->name)) {
    path.push_back(it->name);
    auto next = left.end();
    for (const auto& a : it->after)
      if ((next = find(a)) != left.end()) break;
    it = next;
  }
  std::string out;
  for (auto p = std::find(path.begin(), path.end(), it->name); p != path.end(); ++p) out += "'" + *p + "' after ";
  return out + "'" + it->name + "'";
}

Status check_names(const std::vector<ServiceSpec>& services) {
  std::set<std::string> names;
  for (const auto& s : services)
    if (!names.insert(s.name).second) return fail(ErrorClass::usage, "duplicate service name '" + s.name + "'");
  for (const auto& s : services)
    for (const auto& a : s.after)
      if (!names.count(a))
        return fail(ErrorClass::usage, "service '" + s.name + "': after = ['" + a + "'] names no [[services]] entry");
  return {};
}

std::vector<std::string> hook_env(const Ctx& c, const ServiceSpec& s, const std::string& action) {
  return {"AIRLOCK_SITE=" + c.site.name, "AIRLOCK_FROM=" + c.run.from_version, "AIRLOCK_TO=" + c.run.to_version,
          "AIRLOCK_PHASE=" + action, "AIRLOCK_SERVICE=" + s.name};
}

void persist(Ctx& c) { (void)c.st.set_run_data(c.data.dump(-1, ' ', false, json::error_handler_t::replace)); }

// Runs one of the service's commands as a child of the run; its result and output go to the steps.
Status run_command(Ctx& c, const ServiceSpec& s, const std::vector<std::string>& argv, const std::string& action) {
  const std::string what = "service '" + s.name + "' " + action;
  const auto t0 = SteadyClock::now();
  auto r = run_process({argv, c.site.base_dir, s.timeout_ms, nullptr, hook_env(c, s, action), &c.children, what});
  const auto ms = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0).count();
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) c.emit("services", "| " + line);
  c.emit("services", what + ": " + r.describe());
  const std::string tail = r.output_tail();
  const std::string result = r.describe() + (r.ok() || tail.empty() ? "" : ": " + tail);
  c.data["steps"].push_back(
      {{"service", s.name}, {"action", action}, {"ms", ms}, {"result", result}, {"output", r.output}});
  persist(c);
  if (!r.ok()) return fail(ErrorClass::rolled_back, what + " failed (" + result + ")");
  return {};
}

// While replacing, a termination signal ends the wait (the run then rolls back, as after any phase
// interrupted from drain on); a restore always finishes, as the rollback it is part of.
enum class OnSignal { stop, finish };

// Tries the readiness check until it passes or `ready_within` has passed; an attempt is cut at
// that deadline whatever its own timeout.
Status wait_ready(Ctx& c, const ServiceSpec& s, OnSignal on_signal) {
  if (!s.ready) return {};
  const auto t0 = SteadyClock::now();
  const auto deadline = t0 + milliseconds(s.ready_within_ms);
  const std::atomic<bool> cancel{false};
  auto backoff = kFirstBackoff;
  std::string last;
  for (int attempt = 1;; ++attempt) {
    CheckSpec one = *s.ready;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    one.timeout_ms = std::max<std::int64_t>(1, std::min(one.timeout_ms, left));
    double measured = -1;
    CheckResult r = run_one_check(c.site, one, nullptr, cancel, &measured, &c.children);
    const auto ms = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0).count();
    if (r.ok) {
      c.emit("services", "service '" + s.name + "' ready after " + std::to_string(ms) + " ms (attempt " +
                             std::to_string(attempt) + ")");
      c.data["steps"].push_back({{"service", s.name}, {"action", "ready"}, {"ms", ms}, {"attempts", attempt}});
      return {};
    }
    last = r.detail;
    const std::string waited = "service '" + s.name + "' not ready after " + std::to_string(ms) + " ms and " +
                               std::to_string(attempt) + " attempts of check '" + r.name + "' (" + r.kind + ")";
    if (const int sig = c.env.interrupted(); sig != 0 && on_signal == OnSignal::stop)
      return fail(ErrorClass::rolled_back, waited + ": interrupted by " + signal_name(sig));
    const auto now = SteadyClock::now();
    if (now >= deadline)
      return fail(ErrorClass::rolled_back,
                  waited + " (ready_within " + std::to_string(s.ready_within_ms) + " ms): " + last);
    // The last attempt is made at the deadline, not a backoff before it.
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

std::vector<std::string> replaced_names(const Ctx& c) {
  std::vector<std::string> out;
  auto it = c.data.find("services_replaced");
  if (it != c.data.end() && it->is_array())
    for (const auto& n : *it)
      if (n.is_string()) out.push_back(n.get<std::string>());
  return out;
}

}  // namespace

const char* service_mode_name(ServiceMode m) { return m == ServiceMode::rolling ? "rolling" : "restart"; }

Result<std::vector<ServiceSpec>> order_services(std::vector<ServiceSpec> services) {
  AIRLOCK_CHECK(check_names(services), "[[services]]");
  std::vector<ServiceSpec> out;
  std::vector<std::string> placed;
  while (!services.empty()) {
    auto ready = std::find_if(services.begin(), services.end(), [&](const ServiceSpec& s) {
      return std::all_of(s.after.begin(), s.after.end(), [&](const std::string& a) { return contains(placed, a); });
    });
    if (ready == services.end())
      return fail(ErrorClass::usage,
                  "[[services]]: the services wait on each other in a cycle: " + describe_cycle(services));
    placed.push_back(ready->name);
    out.push_back(std::move(*ready));
    services.erase(ready);
  }
  return out;
}

Status replace_services(Ctx& c) {
  c.data["services_replaced"] = json::array();
  for (const auto& s : c.site.services) {
    if (const int sig = c.env.interrupted(); sig != 0)
      return fail(ErrorClass::rolled_back,
                  "interrupted by " + signal_name(sig) + " before service '" + s.name + "' was replaced");
    // Recorded before the command runs: a command that fails half way has still changed the service.
    c.data["services_replaced"].push_back(s.name);
    persist(c);
    c.emit("services", std::string(service_mode_name(s.mode)) + " service '" + s.name + "'");
    AIRLOCK_CHECK(run_command(c, s, s.command, service_mode_name(s.mode)), "replacing the services");
    AIRLOCK_CHECK(wait_ready(c, s, OnSignal::stop), "replacing the services");
  }
  return {};
}

Status restore_services(Ctx& c, Restore which) {
  const auto replaced = replaced_names(c);
  Status first;
  for (auto it = c.site.services.rbegin(); it != c.site.services.rend(); ++it) {
    if (which == Restore::replaced && !contains(replaced, it->name)) continue;
    c.emit("services", "restoring service '" + it->name + "'");
    Status s = it->rollback ? run_command(c, *it, *it->rollback, "rollback")
                            : run_command(c, *it, it->command, service_mode_name(it->mode));
    // Back to nothing installed there is no old release whose readiness could be proved.
    if (s && !(c.run.kind == RunKind::apply && c.run.from_version.empty())) s = wait_ready(c, *it, OnSignal::finish);
    if (!s && first)
      first = fail(s.error().reclassed(ErrorClass::rollback_failed).with_context("restoring the services"));
  }
  return first;
}

std::optional<std::string> unrunnable_service(const Site& site) {
  for (const auto& s : site.services) {
    const std::string what = "service '" + s.name + "' ";
    if (auto why = not_runnable(s.command, site.base_dir))
      return what + service_mode_name(s.mode) + " cannot run: " + *why;
    if (s.rollback)
      if (auto why = not_runnable(*s.rollback, site.base_dir)) return what + "rollback cannot run: " + *why;
    if (s.ready && s.ready->kind == CheckKind::exec)
      if (auto why = not_runnable(s.ready->argv, site.base_dir)) return what + "readiness check cannot run: " + *why;
  }
  return std::nullopt;
}

}  // namespace airlock::applier

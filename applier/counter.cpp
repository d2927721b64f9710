// The crash-loop kinds: a restart counter watched over a window that starts when the check does
// (right after resume). `systemd` reads `systemctl show -p ActiveState,NRestarts UNIT`; `restarts`
// runs any command that prints one counter (`kubectl get pod P -o jsonpath=...`).
#include <algorithm>
#include <charconv>
#include <sstream>
#include <thread>

#include "applier/probes.hpp"
#include "core/sys/process.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Reading {
  bool ok = false;
  std::uint64_t count = 0;
  std::string state;  // systemd's ActiveState ("" for `restarts`)
  std::string why;    // when !ok
};

std::optional<std::uint64_t> number(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Reading parse_systemctl(const std::string& out) {
  Reading r;
  std::istringstream in(out);
  std::optional<std::uint64_t> restarts;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("ActiveState=", 0) == 0) r.state = line.substr(12);
    if (line.rfind("NRestarts=", 0) == 0) restarts = number(line.substr(10));
  }
  if (!restarts || r.state.empty()) return {false, 0, "", "no ActiveState and NRestarts in: " + printable(out)};
  r.ok = true;
  r.count = *restarts;
  return r;
}

Reading read_counter(const Site& site, const CheckSpec& c, SteadyClock::time_point dl, const std::atomic<bool>& cancel,
                     ChildObserver* children) {
  const bool systemd = c.kind == CheckKind::systemd;
  std::vector<std::string> argv =
      systemd ? std::vector<std::string>{"systemctl", "show", "-p", "ActiveState,NRestarts", c.unit} : c.argv;
  const auto left = std::chrono::duration_cast<milliseconds>(dl - SteadyClock::now()).count();
  const std::int64_t timeout = std::clamp<std::int64_t>(left, 1, c.timeout_ms);
  auto p = run_process({argv, site.base_dir, timeout, &cancel, {}, children, "check '" + c.name + "'"});
  if (!p.ok()) {
    std::string tail = p.output_tail();
    return {false, 0, "", printable(p.describe()) + (tail.empty() ? "" : ": " + tail)};
  }
  if (systemd) return parse_systemctl(p.output);
  auto n = number(p.output);
  if (!n) return {false, 0, "", "the command printed no counter: '" + printable(p.output_tail(80)) + "'"};
  return {true, *n, "", ""};
}

bool sleep_until(SteadyClock::time_point t, const std::atomic<bool>& cancel) {
  while (SteadyClock::now() < t) {
    if (cancel.load()) return false;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(milliseconds(20), t - SteadyClock::now()));
  }
  return !cancel.load();
}

std::string what(const CheckSpec& c) { return c.kind == CheckKind::systemd ? "unit " + c.unit : "the counter"; }

}  // namespace

Probe watch_counter(const Site& site, const CheckSpec& c, SteadyClock::time_point deadline,
                    const std::atomic<bool>& cancel, ChildObserver* children) {
  // A few readings per window, at most one a second.
  const auto window = std::max<SteadyClock::duration>(deadline - SteadyClock::now(), milliseconds(0));
  const auto every = std::clamp<SteadyClock::duration>(window / 10, milliseconds(100), milliseconds(1000));
  const auto first = read_counter(site, c, std::max(deadline, SteadyClock::now() + every), cancel, children);
  if (!first.ok) return {false, first.why};
  Reading last = first;
  for (;;) {
    if (c.kind == CheckKind::systemd && last.state != "active")
      return {false,
              "unit " + c.unit + " is " + printable(last.state) + " (NRestarts " + std::to_string(last.count) + ")"};
    const std::uint64_t grew = last.count >= first.count ? last.count - first.count : 0;
    if (grew > static_cast<std::uint64_t>(c.max_restarts))
      return {false, what(c) + " restarted " + std::to_string(grew) + " times since the check started (" +
                         std::to_string(first.count) + " -> " + std::to_string(last.count) + ", at most " +
                         std::to_string(c.max_restarts) + " allowed)"};
    const auto next = SteadyClock::now() + every;
    if (next + every / 2 > deadline) break;  // the last reading must not be cut by the deadline
    if (!sleep_until(next, cancel)) return {false, "cancelled"};
    last = read_counter(site, c, deadline, cancel, children);
    if (!last.ok) return {false, last.why};
  }
  return {true, what(c) + (c.kind == CheckKind::systemd ? " active, " : " ") + "restarted " +
                    std::to_string(last.count - std::min(last.count, first.count)) + " times in the window (at most " +
                    std::to_string(c.max_restarts) + ")"};
}

}  // namespace airlock::applier

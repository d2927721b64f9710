#include "applier/state_machine.hpp"

#include <array>
#include <string>

namespace airlock::applier {
namespace {

struct Transition {
  Phase from;
  Event event;
  Phase to;
};

// clang-format off
constexpr Transition kTable[] = {
  {Phase::preflight, Event::ok,        Phase::verify},
  {Phase::preflight, Event::fail,      Phase::aborted},
  {Phase::verify,    Event::ok,        Phase::snapshot},
  {Phase::verify,    Event::fail,      Phase::aborted},
  {Phase::snapshot,  Event::ok,        Phase::drain},
  {Phase::snapshot,  Event::fail,      Phase::aborted},
  {Phase::drain,     Event::ok,        Phase::apply},
  {Phase::drain,     Event::fail,      Phase::aborted},    // nothing applied yet
  {Phase::apply,     Event::ok,        Phase::resume},
  {Phase::apply,     Event::fail,      Phase::rollback},
  {Phase::resume,    Event::ok,        Phase::check},
  {Phase::resume,    Event::fail,      Phase::rollback},   // a failing resume is a hard failure
  {Phase::check,     Event::ok,        Phase::record},     // soft failures are recorded, kept
  {Phase::check,     Event::hard_fail, Phase::rollback},
  {Phase::rollback,  Event::ok,        Phase::rolled_back},
  {Phase::rollback,  Event::fail,      Phase::degraded},
  {Phase::record,    Event::ok,        Phase::done},
  // A termination signal: before the first write the run simply stops; from drain on (services
  // may be stopped, the release may be half in) it is undone like a hard failure. Rollback and
  // record have no entry: they run to the end, so a signal never leaves a half state.
  {Phase::preflight, Event::interrupted, Phase::aborted},
  {Phase::verify,    Event::interrupted, Phase::aborted},
  {Phase::snapshot,  Event::interrupted, Phase::aborted},
  {Phase::drain,     Event::interrupted, Phase::rollback},
  {Phase::apply,     Event::interrupted, Phase::rollback},
  {Phase::resume,    Event::interrupted, Phase::rollback},
  {Phase::check,     Event::interrupted, Phase::rollback},
};

struct Crash {
  Phase phase;
  Recovery recovery;
};
constexpr Crash kRecovery[] = {
  {Phase::preflight,   Recovery::discard},
  {Phase::verify,      Recovery::discard},
  {Phase::snapshot,    Recovery::discard},
  {Phase::drain,       Recovery::discard},
  {Phase::apply,       Recovery::restore_old},
  {Phase::resume,      Recovery::restore_old},
  {Phase::check,       Recovery::restore_old},
  {Phase::rollback,    Recovery::restore_old},
  {Phase::record,      Recovery::finish_new},
  {Phase::done,        Recovery::finish_new},
  {Phase::rolled_back, Recovery::restore_old},
  {Phase::degraded,    Recovery::restore_old},
  {Phase::aborted,     Recovery::discard},
};

constexpr std::array<const char*, 13> kNames = {
  "preflight", "verify", "snapshot", "drain", "apply", "resume", "check", "rollback", "record",
  "done", "rolled_back", "degraded", "aborted",
};
// clang-format on

}  // namespace

const char* phase_name(Phase p) { return kNames[static_cast<std::size_t>(p)]; }

std::optional<Phase> parse_phase(std::string_view s) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (s == kNames[i]) return static_cast<Phase>(i);
  return std::nullopt;
}

bool is_terminal(Phase p) {
  return p == Phase::done || p == Phase::rolled_back || p == Phase::degraded || p == Phase::aborted;
}

std::optional<Phase> next_phase(Phase from, Event ev) {
  for (const auto& t : kTable)
    if (t.from == from && t.event == ev) return t.to;
  return std::nullopt;
}

Recovery recovery_of(Phase crashed_in) {
  for (const auto& c : kRecovery)
    if (c.phase == crashed_in) return c.recovery;
  return Recovery::restore_old;
}

}  // namespace airlock::applier

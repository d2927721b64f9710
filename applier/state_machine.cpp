#include "applier/state_machine.hpp"

#include <array>
#include <string>

#include "applier/run.hpp"

namespace airlock::applier {
namespace {

using K = RunKind;
using P = Phase;
using E = Event;
using R = Recovery;

struct Step {
  RunKind kind;
  Phase phase;
  Handler handler;
};

struct Transition {
  RunKind kind;
  Phase from;
  Event event;
  Phase to;
};

struct Crash {
  RunKind kind;
  Phase phase;
  Recovery recovery;
};

// clang-format off
constexpr Step kSteps[] = {
  // apply: a bundle forward, rolled back by itself on a hard failure
  {K::apply,    P::preflight,    do_preflight},
  {K::apply,    P::verify,       do_verify},
  {K::apply,    P::snapshot,     do_snapshot},
  {K::apply,    P::drain,        do_drain},
  {K::apply,    P::apply,        do_apply},
  {K::apply,    P::resume,       do_resume},
  {K::apply,    P::check,        do_check},
  {K::apply,    P::rollback,     do_rollback},
  {K::apply,    P::record,       do_record},
  // rollback: the operator's return to the previous release
  {K::rollback, P::preflight,    do_rollback_preflight},
  {K::rollback, P::snapshot,     do_snapshot},          // the safety snapshot
  {K::rollback, P::drain,        do_drain},
  {K::rollback, P::revert,       do_revert},
  {K::rollback, P::resume,       do_revert_resume},
  {K::rollback, P::check,        do_revert_check},
  {K::rollback, P::record,       do_record},
  // restore: a snapshot of the operator's choice put back
  {K::restore,  P::preflight,    do_restore_preflight},
  {K::restore,  P::snapshot,     do_snapshot},          // the safety snapshot
  {K::restore,  P::drain,        do_drain},
  {K::restore,  P::restore,      do_restore},
  {K::restore,  P::rollback,     do_undo_restore},
  {K::restore,  P::resume,       do_resume},
  {K::restore,  P::record,       do_record},
  // recover: a crashed run of any kind, finished or undone
  {K::recover,  P::stop_orphans, do_stop_orphans},
  {K::recover,  P::discard,      do_recover_discard},
  {K::recover,  P::restore_old,  do_restore_old},
  {K::recover,  P::finish_new,   do_finish_new},
  {K::recover,  P::close,        do_close},
};

constexpr Transition kTable[] = {
  {K::apply, P::preflight, E::ok,        P::verify},
  {K::apply, P::preflight, E::fail,      P::aborted},
  {K::apply, P::verify,    E::ok,        P::snapshot},
  {K::apply, P::verify,    E::fail,      P::aborted},
  {K::apply, P::snapshot,  E::ok,        P::drain},
  {K::apply, P::snapshot,  E::fail,      P::aborted},
  {K::apply, P::drain,     E::ok,        P::apply},
  {K::apply, P::drain,     E::fail,      P::aborted},    // nothing applied yet; resume was run
  {K::apply, P::apply,     E::ok,        P::resume},
  {K::apply, P::apply,     E::fail,      P::rollback},
  {K::apply, P::resume,    E::ok,        P::check},
  {K::apply, P::resume,    E::fail,      P::rollback},   // a failing resume is a hard failure
  {K::apply, P::check,     E::ok,        P::record},     // soft failures are recorded, kept
  {K::apply, P::check,     E::hard_fail, P::rollback},
  {K::apply, P::rollback,  E::ok,        P::rolled_back},
  {K::apply, P::rollback,  E::fail,      P::degraded},
  {K::apply, P::record,    E::ok,        P::done},
  // A termination signal: before the first write the run simply stops; from drain on (services
  // may be stopped, the release may be half in) it is undone like a hard failure. Rollback and
  // record have no entry: they run to the end, so a signal never leaves a half state.
  {K::apply, P::preflight, E::interrupted, P::aborted},
  {K::apply, P::verify,    E::interrupted, P::aborted},
  {K::apply, P::snapshot,  E::interrupted, P::aborted},
  {K::apply, P::drain,     E::interrupted, P::rollback},
  {K::apply, P::apply,     E::interrupted, P::rollback},
  {K::apply, P::resume,    E::interrupted, P::rollback},
  {K::apply, P::check,     E::interrupted, P::rollback},

  // A refused rollback (nothing to go back to, below the rollback_to marker) is recorded as such.
  // A signal stops it up to the safety snapshot; from drain on it runs to the end.
  {K::rollback, P::preflight, E::ok,          P::snapshot},
  {K::rollback, P::preflight, E::fail,        P::aborted},
  {K::rollback, P::preflight, E::interrupted, P::aborted},
  {K::rollback, P::snapshot,  E::ok,          P::drain},
  {K::rollback, P::snapshot,  E::fail,        P::aborted},
  {K::rollback, P::snapshot,  E::interrupted, P::aborted},
  {K::rollback, P::drain,     E::ok,          P::revert},
  {K::rollback, P::drain,     E::fail,        P::aborted},  // nothing reverted yet; resume was run
  {K::rollback, P::revert,    E::ok,          P::resume},
  {K::rollback, P::revert,    E::fail,        P::degraded},
  {K::rollback, P::resume,    E::ok,          P::check},
  {K::rollback, P::resume,    E::fail,        P::degraded},
  {K::rollback, P::check,     E::ok,          P::record},
  {K::rollback, P::check,     E::hard_fail,   P::degraded},
  {K::rollback, P::record,    E::ok,          P::done},

  // A restore that fails half-way puts the safety snapshot back. No health is proved after a
  // restore (the operator chose the state), so a failing resume is recorded, not undone.
  {K::restore, P::preflight, E::ok,          P::snapshot},
  {K::restore, P::preflight, E::fail,        P::aborted},
  {K::restore, P::preflight, E::interrupted, P::aborted},
  {K::restore, P::snapshot,  E::ok,          P::drain},
  {K::restore, P::snapshot,  E::fail,        P::aborted},
  {K::restore, P::snapshot,  E::interrupted, P::aborted},
  {K::restore, P::drain,     E::ok,          P::restore},
  {K::restore, P::drain,     E::fail,        P::aborted},  // nothing restored yet; resume was run
  {K::restore, P::restore,   E::ok,          P::resume},
  {K::restore, P::restore,   E::fail,        P::rollback},
  {K::restore, P::rollback,  E::ok,          P::aborted},
  {K::restore, P::rollback,  E::fail,        P::degraded},
  {K::restore, P::resume,    E::ok,          P::record},
  {K::restore, P::resume,    E::fail,        P::record},
  {K::restore, P::record,    E::ok,          P::done},

  // stop_orphans takes the crashed run's recovery edge (recovery_of below).
  {K::recover, P::stop_orphans, E::discard,     P::discard},
  {K::recover, P::stop_orphans, E::restore_old, P::restore_old},
  {K::recover, P::stop_orphans, E::finish_new,  P::finish_new},
  {K::recover, P::stop_orphans, E::close,       P::close},
  {K::recover, P::discard,      E::ok,          P::aborted},
  {K::recover, P::restore_old,  E::ok,          P::rolled_back},
  {K::recover, P::restore_old,  E::fail,        P::degraded},
  {K::recover, P::restore_old,  E::postpone,    P::pending},
  {K::recover, P::finish_new,   E::ok,          P::done},
  {K::recover, P::finish_new,   E::postpone,    P::pending},
  {K::recover, P::close,        E::ok,          P::rolled_back},
  {K::recover, P::close,        E::fail,        P::degraded},
};

// What `recover` does with a run that crashed in a phase. A phase not listed is restore_old.
constexpr Crash kRecovery[] = {
  {K::apply,    P::preflight,   R::discard},
  {K::apply,    P::verify,      R::discard},
  {K::apply,    P::snapshot,    R::discard},
  {K::apply,    P::drain,       R::discard},
  {K::apply,    P::apply,       R::restore_old},
  {K::apply,    P::resume,      R::restore_old},
  {K::apply,    P::check,       R::restore_old},
  {K::apply,    P::rollback,    R::restore_old},
  {K::apply,    P::record,      R::finish_new},
  {K::apply,    P::done,        R::finish_new},
  {K::apply,    P::rolled_back, R::close},
  {K::apply,    P::degraded,    R::close},
  {K::apply,    P::aborted,     R::discard},

  {K::rollback, P::preflight,   R::discard},
  {K::rollback, P::snapshot,    R::discard},
  {K::rollback, P::drain,       R::discard},
  {K::rollback, P::revert,      R::restore_old},   // the safety snapshot: back on the release left
  {K::rollback, P::resume,      R::restore_old},
  {K::rollback, P::check,       R::restore_old},
  {K::rollback, P::record,      R::finish_new},
  {K::rollback, P::done,        R::finish_new},
  {K::rollback, P::degraded,    R::close},
  {K::rollback, P::aborted,     R::discard},

  {K::restore,  P::preflight,   R::discard},
  {K::restore,  P::snapshot,    R::discard},
  {K::restore,  P::drain,       R::discard},
  {K::restore,  P::restore,     R::restore_old},   // the safety snapshot: as before the restore
  {K::restore,  P::rollback,    R::restore_old},
  {K::restore,  P::resume,      R::restore_old},
  {K::restore,  P::record,      R::finish_new},
  {K::restore,  P::done,        R::finish_new},
  {K::restore,  P::degraded,    R::close},
  {K::restore,  P::aborted,     R::discard},
};

constexpr std::array<const char*, 21> kNames = {
  "preflight", "verify", "snapshot", "drain", "apply", "resume", "check", "rollback", "record",
  "revert", "restore", "stop_orphans", "discard", "restore_old", "finish_new", "close",
  "done", "rolled_back", "degraded", "aborted", "pending",
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
  return p == Phase::done || p == Phase::rolled_back || p == Phase::degraded || p == Phase::aborted ||
         p == Phase::pending;
}

Phase first_phase(RunKind kind) { return kind == RunKind::recover ? Phase::stop_orphans : Phase::preflight; }

std::optional<Phase> next_phase(RunKind kind, Phase from, Event ev) {
  for (const auto& t : kTable)
    if (t.kind == kind && t.from == from && t.event == ev) return t.to;
  return std::nullopt;
}

Handler handler_of(RunKind kind, Phase p) {
  for (const auto& s : kSteps)
    if (s.kind == kind && s.phase == p) return s.handler;
  return nullptr;
}

Recovery recovery_of(RunKind kind, Phase crashed_in) {
  for (const auto& c : kRecovery)
    if (c.kind == kind && c.phase == crashed_in) return c.recovery;
  return Recovery::restore_old;
}

}  // namespace airlock::applier

// Every run of the site is one table-driven machine (Mender daemon/state_machine.cpp style): per
// run kind, the phases with their handler, the transitions on each event, and the recovery edge
// of each phase. `drive()` (apply.cpp) persists the next phase in the journal before running it;
// recovery reads the persisted phase and decides, from `recovery_of`, whether the site goes back
// to the old release or forward to the new.
#pragma once

#include <optional>
#include <string_view>

#include "applier/state_db.hpp"

namespace airlock::applier {

enum class Phase {
  preflight,
  verify,
  snapshot,
  drain,
  apply,
  resume,
  check,
  rollback,
  record,
  revert,        // manual rollback: reverse the release being left
  restore,       // snapshot restore: put the chosen snapshot back
  stop_orphans,  // recover: stop what the crashed run left running, choose its recovery edge
  discard,       // recover: nothing had changed
  restore_old,   // recover: put the crashed run's snapshot back
  finish_new,    // recover: the new state was complete; record it
  close,         // recover: the crashed run had ended; only its record was missing
  // terminal
  done,
  rolled_back,
  degraded,
  aborted,
  pending,  // stopped without a record: the run stays in the journal for the next recover
};
// interrupted: the phase finished, but a termination signal (SIGTERM, SIGINT, SIGHUP) arrived
// while it ran; the run stops at this step boundary (docs/site.md, "Signals").
// discard, restore_old, finish_new, close: the recovery edge the recover machine takes.
// postpone: a transient failure (an I/O error) that the next recover retries.
enum class Event { ok, fail, hard_fail, interrupted, discard, restore_old, finish_new, close, postpone };

const char* phase_name(Phase p);
std::optional<Phase> parse_phase(std::string_view s);
bool is_terminal(Phase p);

// The first phase of a run of `kind`.
Phase first_phase(RunKind kind);
// nullopt: no such transition (a bug, or a signal the phase ignores).
std::optional<Phase> next_phase(RunKind kind, Phase from, Event ev);

struct Ctx;
using Handler = Event (*)(Ctx&);
// nullptr: the kind has no such phase.
Handler handler_of(RunKind kind, Phase p);

enum class Recovery {
  discard,      // nothing was changed yet: drop staging, old state stays
  restore_old,  // the targets may be half-changed: restore the snapshot (exactly the old state)
  finish_new,   // the new state was complete (and healthy): finish the record
  close,        // the run had ended (rolled back or degraded): write its record as journaled
};
// A recovery that is itself interrupted starts again from the phase the run had crashed in (kept
// in the run's data), so the recover kind has no rows here.
Recovery recovery_of(RunKind kind, Phase crashed_in);

// A run never takes more transitions than this (guards against a cycle in the table).
inline constexpr int kMaxTransitions = 32;

}  // namespace airlock::applier

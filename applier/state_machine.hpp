// The apply state machine as one table (Mender daemon/state_machine.cpp style). The orchestrator
// persists the next phase in the journal before running it; recovery reads the persisted phase and
// decides, from `recovery_of`, whether the site goes back to the old release or forward to the new.
#pragma once

#include <optional>
#include <string_view>

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
  // terminal
  done,
  rolled_back,
  degraded,
  aborted,
};
// interrupted: the phase finished, but a termination signal (SIGTERM, SIGINT, SIGHUP) arrived
// while it ran; the run stops at this step boundary (docs/site.md, "Signals").
enum class Event { ok, fail, hard_fail, interrupted };

const char* phase_name(Phase p);
std::optional<Phase> parse_phase(std::string_view s);
bool is_terminal(Phase p);

// nullopt: no such transition (a bug).
std::optional<Phase> next_phase(Phase from, Event ev);

enum class Recovery {
  discard,      // nothing was changed yet: drop staging, old release stays
  restore_old,  // the targets may be half-changed: restore the snapshot (exactly the old release)
  finish_new,   // the new release was complete and healthy: finish the record
};
Recovery recovery_of(Phase crashed_in);

// A run never takes more transitions than this (guards against a cycle in the table).
inline constexpr int kMaxTransitions = 32;

}  // namespace airlock::applier

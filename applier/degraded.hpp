// The DEGRADED stop: a site whose rollback did not restore health (exit 31) is not moved forward
// again until an operator has repaired it and said so with `airlock ack`. Every command that would
// move the site forward on its own (apply; a schedule or run-due runner) asks refuse_if_degraded
// first. Manual rollback, snapshot restore and recover stay allowed: they are how one repairs.
#pragma once

#include "applier/site.hpp"
#include "applier/state_db.hpp"
#include "core/error.hpp"

namespace airlock::applier {

// ErrorClass::preflight (exit 33) "site degraded since <time>: run `airlock ack --site S` after
// repair" when the site is degraded; nothing otherwise. Reads state.db only.
[[nodiscard]] airlock::Status refuse_if_degraded(StateDb& st, const Site& site);

}  // namespace airlock::applier

// Internal: keeping a run's telemetry row (applier/telemetry.hpp) when the run is recorded.
#pragma once

#include "applier/run.hpp"

namespace airlock::applier {

// Within the record's transaction: when the site has telemetry enabled, records the consent the
// first time (a random site id and the time, with an audit entry) and keeps the row of an apply
// run. Does nothing when telemetry is off.
[[nodiscard]] airlock::Status keep_telemetry(Ctx& c, Outcome outcome);
// The site id, recording the consent (within the caller's transaction) when there is none yet.
[[nodiscard]] Result<std::string> telemetry_consent(StateDb& st, const std::string& at);

}  // namespace airlock::applier

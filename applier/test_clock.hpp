// The clock of a test build: in an executable linked with the test hooks (CMake option
// AIRLOCK_TEST_HOOKS, like the crash points of crash.hpp), AIRLOCK_TEST_NOW=<RFC 3339> is the time
// `schedule` and `run-due` see, so that tests and the demo drive scheduled jobs through time
// without sleeping. A release build has no such hook: it always reads the system clock.
#pragma once

#include <optional>

#include "core/sys/time.hpp"

namespace airlock::applier {

std::optional<Timestamp> test_now();

}  // namespace airlock::applier

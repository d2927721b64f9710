// The crash points of a test build: when AIRLOCK_CRASH_POINT names the point, the process
// _exit(99)s right there (no destructors, no flushing: like a power cut as far as our own files are
// concerned). Linked only into test builds (CMake option AIRLOCK_TEST_HOOKS, which scripts/test
// turns on) and the test binaries; a release `airlock` links no_crash_points.cpp instead, so no
// variable of its environment can stop it half way.
#include <unistd.h>

#include <cstdlib>

#include "applier/crash.hpp"
#include "applier/test_clock.hpp"

namespace airlock::applier {

void crash_point(std::string_view name) {
  const char* want = std::getenv("AIRLOCK_CRASH_POINT");
  if (want && name == want) ::_exit(99);
}

bool crash_points_built_in() { return true; }

std::optional<Timestamp> test_now() {
  const char* t = std::getenv("AIRLOCK_TEST_NOW");
  if (!t || !*t) return std::nullopt;
  return parse_rfc3339(t);
}

}  // namespace airlock::applier

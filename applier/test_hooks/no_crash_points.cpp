// The crash points of a release build: none. See crash_points.cpp.
#include "applier/crash.hpp"
#include "applier/test_clock.hpp"

namespace airlock::applier {

void crash_point(std::string_view) {}

bool crash_points_built_in() { return false; }

std::optional<Timestamp> test_now() { return std::nullopt; }

}  // namespace airlock::applier

// Named crash points for the crash-safety tests: in a test build, when the environment variable
// AIRLOCK_CRASH_POINT equals the name, the process _exit(99)s right there (no destructors, no
// flushing: like a power cut as far as our own files are concerned). A release build has none:
// the definition comes from applier/test_hooks/, one of two files each executable links (CMake
// option AIRLOCK_TEST_HOOKS). Names are listed in docs/site.md; kCrashPoints holds them all for the
// crash-point matrix test.
#pragma once

#include <string_view>

namespace airlock::applier {

void crash_point(std::string_view name);
// Whether this executable was linked with the test build's crash points.
bool crash_points_built_in();

inline constexpr std::string_view kCrashPoints[] = {
    "after_preflight", "after_verify",     "mid_snapshot",  "after_snapshot", "after_drain",   "after_payload",
    "mid_migrations",  "after_migrations", "mid_config",    "after_config",   "after_pointer", "after_checks",
    "mid_rollback",    "after_rollback",   "after_restore", "before_record",  "after_record",
    "trust_archived",  "trust_audited",    "after_image_import", "before_image_index",
};
inline constexpr std::string_view kRecoverCrashPoints[] = {"recover_mid_restore", "recover_before_record"};

}  // namespace airlock::applier

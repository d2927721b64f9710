// The caller's policy of spec §5 step 5 (class 13), and the consumer's size limit (class 10).
#pragma once

#include "core/error.hpp"
#include "core/model/manifest.hpp"
#include "core/sys/time.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

// Consumer limit on the payload's total size: malformed (10), like every other limit (§8).
[[nodiscard]] Status check_size_limit(const Manifest& m, const Policy& p);

// expires, created vs. `at` + skew, product, installed version, min_installed, channel.
[[nodiscard]] Status check_policy(const Manifest& m, const Policy& p, const Timestamp& at);

}  // namespace airlock::verifier

// Config deltas (spec §4 [[config]]): the patch parsed and applied in memory by core/config_delta,
// so that every precondition of every delta is checked before the first file is written.
#pragma once

#include <string>

#include "core/error.hpp"

namespace airlock::applier {

// The target's new text, or ErrorClass::policy when a [require] precondition does not hold.
[[nodiscard]] Result<std::string> apply_config_delta(const std::string& target_text, const std::string& patch_text);

}  // namespace airlock::applier

#include "applier/config_apply.hpp"

#include "core/model/config_delta.hpp"

namespace airlock::applier {

Result<std::string> apply_config_delta(const std::string& target_text, const std::string& patch_text) {
  AIRLOCK_TRY(auto patch, parse_config_patch(patch_text), "config patch");
  return apply_config_patch(target_text, patch);
}

}  // namespace airlock::applier

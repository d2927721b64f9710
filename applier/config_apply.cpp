#include "applier/config_apply.hpp"

#if __has_include("core/model/config_delta.hpp")
#include "core/model/config_delta.hpp"
#define AIRLOCK_HAVE_CONFIG_DELTA 1
#endif

namespace airlock::applier {

Result<std::string> apply_config_delta(const std::string& target_text, const std::string& patch_text) {
#ifdef AIRLOCK_HAVE_CONFIG_DELTA
  AIRLOCK_TRY(auto patch, parse_config_patch(patch_text), "config patch");
  return apply_config_patch(target_text, patch);
#else
  (void)target_text;
  (void)patch_text;
  return fail(ErrorClass::internal, "config deltas are not available in this build (core/config_delta missing)");
#endif
}

}  // namespace airlock::applier

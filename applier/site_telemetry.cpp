// [telemetry] (docs/telemetry.md): opt-in; absent means off.
#include "applier/site_parse.hpp"

namespace airlock::applier::site_parse {

using tomlu::Fields;

Status parse_telemetry(const toml::table& root, Site& s) {
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table("telemetry"));
  if (!t) return {};
  const Fields f(*t, "telemetry", kCls);
  TOMLU_CHECK(f.only({"enabled", "check_names"}));
  TOMLU_TRY(auto enabled, f.opt_bool("enabled"));
  TOMLU_TRY(auto names, f.opt_bool("check_names"));
  s.telemetry = {enabled.value_or(false), names.value_or(false)};
  return {};
}

}  // namespace airlock::applier::site_parse

// Internal to site.cpp: the parts of site.toml's health model beyond a single check — a check's
// `when` condition and the `[[check_groups]]` quorums (docs/site.md, "Health checks").
#pragma once

#include <string>

#include "applier/site.hpp"
#include "core/toml_util.hpp"

namespace airlock::applier {

// `when = { config = "NAME", key = "a.b", equals = VALUE }`; `where` names it in messages.
[[nodiscard]] Result<Condition> parse_condition(const toml::table& t, const std::string& where, const Site& site);
// Every `[[check_groups]]` of the file, checked against site.checks (which it marks with their group).
[[nodiscard]] Status parse_check_groups(const toml::table& root, Site& site);

}  // namespace airlock::applier

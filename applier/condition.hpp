// A check's `when` condition, read from the site's config file as it is when the check starts
// (after the config delta was applied).
#pragma once

#include <optional>
#include <string>

#include "applier/site.hpp"

namespace airlock::applier {

// nullopt when the condition holds; otherwise why not ("topology: bgp_stress.enabled is false, the
// check runs when it is true"). A missing file or key does not hold.
std::optional<std::string> condition_unmet(const Site& site, const Condition& when);

}  // namespace airlock::applier

// The payload path rule of spec §3, and the set rules (unique and no leading folder of another,
// both case-insensitively).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"

namespace airlock {

// nullopt when valid, else the reason ("segment '..' is not allowed", ...).
std::optional<std::string> payload_path_problem(std::string_view path);

// Checks a whole list (in any order): nullopt, or a message naming the two clashing paths.
std::optional<std::string> path_set_problem(const std::vector<std::string>& paths);

}  // namespace airlock

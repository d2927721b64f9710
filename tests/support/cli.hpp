// Helpers for tests that run the real binary through a shell: quoting a path, and finding the one
// JSON document a `--json` command printed.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace airlock::test {

// Single-quoted for sh (test paths never hold a quote).
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// The JSON object in `out`, or discarded. Parsed with exceptions off: invalid UTF-8 makes it
// discarded too.
inline nlohmann::json json_of(const std::string& out) {
  auto start = out.find('{');
  auto end = out.rfind('}');
  if (start == std::string::npos || end == std::string::npos) return nlohmann::json::value_t::discarded;
  return nlohmann::json::parse(out.substr(start, end - start + 1), nullptr, false);
}

}  // namespace airlock::test

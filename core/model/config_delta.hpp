// Config deltas (spec §4, `[[config]].patch`): a TOML file with up to three optional tables,
// applied in this order to a target TOML file:
//   [require]  every leaf must equal the target's value at the same dotted path, else the delta
//              is refused (ErrorClass::policy) and nothing changes — guards against drift;
//   [remove]   every leaf is `true` and deletes that key or table from the target, if present;
//   [set]      merged into the target: tables merge recursively, any other value (arrays
//              included) replaces.
// No other top-level key is allowed. Arrays are leaves (compared and replaced whole); a path that
// runs through a non-table in the target counts as absent.
//
// Layout: the target is the operator's file, so apply_config_patch edits its text in place when it
// can — deletes the lines of removed keys, rewrites replaced values, adds new keys as `a.b = v`
// lines at the end of the root section or of a [header] table — and keeps comments, blank lines
// and key order. The edited text is used only if it parses to exactly the tree the rules above
// give. LIMITATION: otherwise (a whole table removed, a key added inside an inline table, a value
// turned into a table, a key both removed and set, ...) the target is re-serialized through
// toml++: values and types are kept, comments and layout are NOT (keys come out sorted, sub-tables
// as [a.b] sections). The applier keeps the previous file for rollback either way.
//
// The header holds no toml++ type: a ConfigPatch keeps its validated source text (re-read when
// applied) and the dotted paths it touches, for display (`airlock inspect`, notes).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace airlock {

inline constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;

struct ConfigPatch {
  std::string text;                  // the patch file, validated
  std::vector<std::string> require;  // dotted paths of [require] leaves ("topology.mode")
  std::vector<std::string> remove;   // dotted paths of [remove] leaves
  std::vector<std::string> set;      // dotted paths of [set] leaves
};

// ErrorClass::malformed naming the key path and the rule.
[[nodiscard]] Result<ConfigPatch> parse_config_patch(std::string_view text);

// Returns the new target text. A [require] mismatch is ErrorClass::policy
// ("require mode: expected \"safe\", found \"fast\""); a target that is not valid TOML is
// ErrorClass::usage (it is the site's own file); a result the same parser would refuse to read
// (a re-serialized key past the part limit, over kMaxConfigBytes) is ErrorClass::preflight.
[[nodiscard]] Result<std::string> apply_config_patch(std::string_view target_toml, const ConfigPatch& patch);

}  // namespace airlock

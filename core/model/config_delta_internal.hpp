// Internal to core/config_delta*.cpp: walking TOML trees by dotted key paths, and the in-place
// text editor that keeps a target's comments and layout.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/toml_util.hpp"

namespace airlock::config_delta {

using Keys = std::vector<std::string_view>;

// "a.\"odd key\".b": keys joined, quoted where not bare.
std::string join(const std::string& prefix, std::string_view key);

// Calls fn for every leaf (non-table value) of t, depth first, with its dotted path and keys.
using LeafFn = std::function<Status(const std::string& path, const Keys& keys, const toml::node& value)>;
Status each_leaf(const toml::table& t, const std::string& prefix, Keys& keys, const LeafFn& fn);

// The node at keys in t, or nullptr when a step is missing or not a table.
const toml::node* lookup(const toml::table& t, const Keys& keys);

// A value as TOML text on one logical line (strings through tomlu::quote).
std::string render_value(const toml::node& n);

// A whole tree as TOML: key/values first, then each non-inline table under a [header] and each
// array of such tables as [[header]] blocks. Keys are quoted unless bare.
std::string render_document(const toml::table& t);

// Best effort: the target text with [remove] and [set] done as line edits, keeping comments and
// layout, or nullopt when an edit is beyond the simple forms handled (a table removed, a value
// replaced by a table, a key added under a table without a [header], ...). `doc` is `text`
// parsed. The caller must check that the result parses to the same tree as the semantic apply.
std::optional<std::string> edit_in_place(std::string_view text, const toml::table& doc, const toml::table* remove,
                                         const toml::table* set);

}  // namespace airlock::config_delta

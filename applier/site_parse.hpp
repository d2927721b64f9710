// What the parts of site.toml's parser share (applier/site.cpp and the files of its sections,
// applier/site_*.cpp): the typed reads every section uses, and the sections parsed apart. Not an
// API: parse_site() (applier/site.hpp) is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "applier/site.hpp"
#include "core/error.hpp"
#include "core/toml_util.hpp"

namespace airlock::applier::site_parse {

// Every mistake in site.toml is the operator's: a usage error.
inline constexpr ErrorClass kCls = ErrorClass::usage;

// `p` relative to the site folder `base` (as written when absolute), normalized.
std::string resolve(const std::string& base, const std::string& p);
bool has_control(std::string_view s);
// A non-empty one-line string without control characters.
Result<std::string> one_line(const tomlu::Fields& f, std::string_view key);
Result<std::string> opt_text(const tomlu::Fields& f, std::string_view key, const std::string& dflt);
// A duration ("5s", "2m", or milliseconds as an integer) of at most a week; `dflt` when absent.
Result<std::int64_t> duration_ms(const toml::table& t, const tomlu::Fields& f, std::string_view key, std::int64_t dflt);

// [databases] (site_databases.cpp): each entry an SQLite path or a table naming its kind.
Result<std::map<std::string, db::TargetSpec>> database_map(const toml::table& root, const std::string& base);
// [ui] (site_ui.cpp) and [telemetry] (site_telemetry.cpp), into `s`.
Status parse_ui(const toml::table& root, Site& s);
Status parse_telemetry(const toml::table& root, Site& s);

}  // namespace airlock::applier::site_parse

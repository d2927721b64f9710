// An SQLite database's schema as comparable text: one line per object of sqlite_schema (type,
// name, table, SQL), ordered by type and name, with the SQL normalised. SQLite rewrites a table's
// CREATE text on ALTER TABLE (RENAME quotes the new name, ADD/DROP COLUMN leave odd line breaks),
// so the same schema must compare equal whichever way it was reached: the build's round-trip
// check compares the schema before an up and after its down this way.
#pragma once

#include <string>
#include <string_view>

#include "core/db/db.hpp"
#include "core/error.hpp"

namespace airlock::db {

// "x" turned into x where x is a plain identifier, every run of white space one space, and none
// next to parentheses and commas.
std::string normalize_sql(std::string_view sql);

[[nodiscard]] Result<std::string> normalized_schema(Database& d);

}  // namespace airlock::db

// What a PostgreSQL migration script may not contain, found lexically (comments, string literals,
// dollar-quoted bodies and quoted identifiers are skipped): transaction control (BEGIN, START
// TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION) at the start
// of a statement, which would end the transaction a migration runs in and commit half of it, and
// CONCURRENTLY anywhere, which cannot run inside a transaction at all.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace airlock::db {

// Why the script is refused ("transaction control 'COMMIT' in statement 2"), or nullopt.
std::optional<std::string> pg_script_problem(std::string_view sql);

}  // namespace airlock::db

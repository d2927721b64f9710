// Runs PostgreSQL's client programs (pg_dump, pg_restore, psql) for the Postgres target, through
// core/sys's one child runner (core/sys/process.hpp): stdin on /dev/null, stdout and stderr
// captured (never airlock's own stdout), its own process group, killed whole at the deadline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace airlock::db {

// The folder of pg_dump and pg_restore: `pg_config --bindir`'s answer is not asked at run time (a
// site may lack pg_config); the Debian folder of the newest installed major version, else PATH.
std::string pg_tool(const std::string& name);

struct ToolRun {
  std::vector<std::string> argv;
  std::int64_t timeout_ms = 3600 * 1000;
};

// io when it cannot start, internal when it fails (the message ends with the line of its output
// that says why: the last error line, else the last line).
[[nodiscard]] Status run_tool(const ToolRun& run);

}  // namespace airlock::db

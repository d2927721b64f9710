// Runs PostgreSQL's client programs (pg_dump, pg_restore) for the Postgres target. Each child has
// stdin on /dev/null, stdout into a given file (or /dev/null: it never shares airlock's own), its
// stderr captured for the error message, and its own process group, killed whole at the deadline.
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
  std::string stdout_path;  // "" for /dev/null; created 0600 (a dump holds the site's data)
  std::int64_t timeout_ms = 3600 * 1000;
};

// io when it cannot start, internal when it fails (the message ends with its stderr's last line).
[[nodiscard]] Status run_tool(const ToolRun& run);

}  // namespace airlock::db

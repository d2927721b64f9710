#include "core/db/pg_tools.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/sys/process.hpp"

namespace airlock::db {
namespace {

namespace fs = std::filesystem;

// The line that says why a client program failed: its last "ERROR:"/"FATAL:"/"error:" line (psql
// and pg_restore follow it with CONTEXT and LINE lines), else its last line.
std::string why_line(const std::string& output) {
  std::istringstream in(output);
  std::string line, last, last_error;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("ERROR:") != std::string::npos || line.find("FATAL:") != std::string::npos ||
        line.find("error:") != std::string::npos)
      last_error = line;
  }
  return last_error.empty() ? last : last_error;
}

}  // namespace

std::string pg_tool(const std::string& name) {
  std::error_code ec;
  int best = -1;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string major = e.path().filename().string();
    if (major.empty() || major.find_first_not_of("0123456789") != std::string::npos || major.size() > 4) continue;
    // The newest major: pg_dump must be at least the server's version.
    if (fs::exists(e.path() / "bin" / name, ec)) best = std::max(best, std::stoi(major));
  }
  return best < 0 ? name : "/usr/lib/postgresql/" + std::to_string(best) + "/bin/" + name;
}

Status run_tool(const ToolRun& run) {
  const std::string name = fs::path(run.argv.at(0)).filename().string();
  ProcessSpec spec;
  spec.argv = run.argv;
  spec.timeout_ms = run.timeout_ms;
  spec.what = name;
  const ProcessResult r = run_process(spec);
  if (!r.started) return fail(ErrorClass::io, "cannot run '" + run.argv.at(0) + "': " + r.error);
  if (r.ok()) return {};
  if (r.timed_out)
    return fail(ErrorClass::internal, name + " did not finish within " + std::to_string(run.timeout_ms) + " ms");
  // The output is printable already (newlines kept): the Error escapes nothing a second time.
  return fail(ErrorClass::internal, name + " failed (" + r.describe() + "): " + why_line(r.output));
}

}  // namespace airlock::db

// Runs a hook or an `exec` check: argv, working folder, a deadline, and a cancel flag checked
// while waiting. The child gets its own process group so a timeout kills everything it started.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace airlock::applier {

struct ProcessResult {
  bool started = false;
  bool timed_out = false;
  bool cancelled = false;
  int exit_code = -1;  // -1 when killed by a signal
  std::string error;   // why it could not start
  bool ok() const { return started && !timed_out && !cancelled && exit_code == 0; }
  std::string describe() const;
};

// `env` entries ("NAME=value") are added to the child's environment.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& cwd, std::int64_t timeout_ms,
                          const std::atomic<bool>* cancel = nullptr, const std::vector<std::string>& env = {});

}  // namespace airlock::applier

// The one runner of child processes (hooks, `exec` checks, service commands, PostgreSQL's client
// programs): argv, working folder, a deadline, and a cancel flag checked
// while waiting. Each child is the leader of its own process group, so a timeout or a cancel kills
// everything it started; it starts with default signal dispositions, an empty signal mask, stdin
// on /dev/null (or the given input), and stdout+stderr captured through a pipe (never airlock's own stdout). The
// observer is told of the group before the child runs a single instruction of its own, so the run's
// journal can name it and `recover` can stop it after airlock was killed (kill_recorded_group).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airlock {

// The last bytes of a child's output that are kept.
inline constexpr std::size_t kMaxChildOutput = 64 * 1024;

// A child's process group, identified beyond its number: the leader's start time (clock ticks
// after boot, /proc/<pid>/stat field 22) and the boot it belongs to, so a reused id is never taken
// for it.
struct ChildId {
  pid_t pgid = 0;
  std::uint64_t start_ticks = 0;
  std::string boot_id;
};

struct ProcessResult {
  bool started = false;
  bool timed_out = false;
  bool cancelled = false;
  int exit_code = -1;  // -1 when killed by a signal
  std::string error;   // why it could not start ("cannot execute '/x': Permission denied")
  std::string output;  // stdout+stderr, the last kMaxChildOutput bytes, made printable
  bool ok() const { return started && !timed_out && !cancelled && exit_code == 0; }
  std::string describe() const;
  // The last `max_bytes` of the output, on one line ("" when there was none).
  std::string output_tail(std::size_t max_bytes = 400) const;
};

// Told of every child, from the thread that runs it: `started` after the fork and before the child
// may exec (it waits for this), `ended` once it is reaped. Implementations are thread-safe.
class ChildObserver {
 public:
  virtual ~ChildObserver() = default;
  virtual void started(const ChildId& id, const std::string& what) = 0;
  virtual void ended(const ChildId& id) = 0;
};

struct ProcessSpec {
  std::vector<std::string> argv;
  std::string cwd;
  std::int64_t timeout_ms = 30000;
  const std::atomic<bool>* cancel = nullptr;
  std::vector<std::string> env;  // "NAME=value", added after every inherited AIRLOCK_* is dropped
  ChildObserver* observer = nullptr;
  std::string what;  // "drain hook", "check 'x'": for the observer
};

// `input` is the child's stdin, from an in-memory file complete before the child starts (a child
// that never reads cannot block airlock); /dev/null when empty.
ProcessResult run_process(const ProcessSpec& spec, const std::string& input = "");

// A child's output is text from outside airlock: made valid, printable UTF-8 (newlines and tabs
// kept; other control characters as \u00HH, invalid bytes as \xHH, a backslash doubled) before it
// reaches the terminal, the journal's JSON, history or a hook's environment.
std::string printable_output(const std::string& raw);

// Why argv cannot be run from `cwd` (missing, not a regular file, not executable, not found in
// PATH), or nullopt when it can. Done before anything changes, so a typo is not found mid-apply.
std::optional<std::string> not_runnable(const std::vector<std::string>& argv, const std::string& cwd);

// The start time of a live process (nullopt when it does not exist).
std::optional<std::uint64_t> process_start_ticks(pid_t pid);
std::string current_boot_id();

// Kills the recorded group and waits (bounded) until no live member is left, but only when it is
// still the group that was recorded: same boot, and its leader alive with the recorded start time,
// or, the leader gone, every live member started after it. Returns the number of members killed.
int kill_recorded_group(const ChildId& id);

}  // namespace airlock

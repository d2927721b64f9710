#include "applier/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace airlock::applier {

std::string ProcessResult::describe() const {
  if (!started) return "could not start: " + error;
  if (timed_out) return "timed out";
  if (cancelled) return "cancelled";
  if (exit_code < 0) return "killed by a signal";
  return "exit code " + std::to_string(exit_code);
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& cwd, std::int64_t timeout_ms,
                          const std::atomic<bool>* cancel, const std::vector<std::string>& env) {
  ProcessResult r;
  if (argv.empty()) {
    r.error = "empty command";
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Built before fork: between fork and exec only async-signal-safe calls (checks run in threads).
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e) envp.push_back(*e);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    r.error = std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  r.started = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      if (r.exit_code == 127) {
        r.error = "command not found: " + argv[0];
      }
      return r;
    }
    bool late = std::chrono::steady_clock::now() > deadline;
    bool stop = cancel && cancel->load();
    if (late || stop) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      r.timed_out = late;
      r.cancelled = !late;
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace airlock::applier

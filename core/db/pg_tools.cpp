#include "core/db/pg_tools.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/sys/fd.hpp"
#include "core/text.hpp"

extern char** environ;

namespace airlock::db {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxStderr = 16 * 1024;

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  auto nl = s.rfind('\n');
  return printable(nl == std::string::npos ? s : s.substr(nl + 1));
}

// Reads the child's stderr until it closes or the deadline; false at the deadline.
bool drain(int fd, std::string& err, std::chrono::steady_clock::time_point deadline) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    err.append(buf, static_cast<std::size_t>(n));
    if (err.size() > kMaxStderr) err.erase(0, err.size() - kMaxStderr);
  }
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
  const std::string& prog = run.argv.at(0);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail(errno_error("pipe", prog, errno));
  Fd rd(pipefd[0]), wr(pipefd[1]);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (run.stdout_path.empty())
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 1, run.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const auto& a : run.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, prog.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(ErrorClass::io, "cannot run '" + prog + "': " + std::strerror(rc));
  wr = Fd();
  std::string err;
  bool in_time = drain(rd.get(), err, std::chrono::steady_clock::now() + std::chrono::milliseconds(run.timeout_ms));
  if (!in_time) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string name = fs::path(prog).filename().string();
  if (!in_time)
    return fail(ErrorClass::internal, name + " did not finish within " + std::to_string(run.timeout_ms) + " ms");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return fail(ErrorClass::internal, name + " failed (" +
                                        (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                           : "signal " + std::to_string(WTERMSIG(status))) +
                                        "): " + last_line(err));
}

}  // namespace airlock::db

#include "core/sys/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/sys/fd.hpp"

#include "core/text.hpp"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// What the child reports through its close-on-exec pipe when it cannot exec: the step and errno.
enum class Stage : int { exec = 1, chdir = 2 };
struct ChildFailure {
  int stage = 0;
  int err = 0;
};

}  // namespace

std::string printable_output(const std::string& raw) { return printable(raw, Newlines::keep); }

namespace {

bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::faccessat(AT_FDCWD, p.c_str(), X_OK, AT_EACCESS) == 0;
}

std::string search_path() {
  const char* p = std::getenv("PATH");
  return p && *p ? p : "/usr/local/bin:/usr/bin:/bin";
}

// The file execve gets: a name with a slash is taken from `cwd`; otherwise the first executable
// match in PATH, else the first existing one (so that execve reports why it cannot run it).
std::optional<std::string> resolve(const std::string& name, const std::string& cwd) {
  if (name.find('/') != std::string::npos)
    return name.front() == '/' || cwd.empty() ? name : (fs::path(cwd) / name).lexically_normal().string();
  std::optional<std::string> existing;
  std::stringstream dirs(search_path());
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(cand)) return cand;
    if (!existing && fs::exists(cand)) existing = cand;
  }
  return existing;
}

// The inherited environment without any AIRLOCK_* (a stale one would pass for ours), then ours.
std::vector<std::string> child_environment(const std::vector<std::string>& ours) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "AIRLOCK_", 8) != 0) env.emplace_back(*e);
  env.insert(env.end(), ours.begin(), ours.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& v) {
  std::vector<char*> p;
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

struct Pipe {
  Fd r, w;
  static std::optional<Pipe> open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
    return Pipe{Fd(fds[0]), Fd(fds[1])};
  }
};

struct ChildFds {
  int devnull, out_w, go_r, fail_w;
};

[[noreturn]] void child_fail(int fd, Stage stage) {
  ChildFailure f{static_cast<int>(stage), errno};
  (void)!::write(fd, &f, sizeof f);
  ::_exit(127);
}

// Between fork and exec: async-signal-safe calls only (exec checks fork from threads).
[[noreturn]] void in_child(const ChildFds& fds, pid_t parent, const char* path, const char* cwd, char* const* argv,
                           char* const* envp) {
  ::setpgid(0, 0);
  // SIGKILL when the thread that forked exits: run_process waits on that thread until the child is
  // reaped, so this fires only when airlock itself dies (a killed process ends every thread).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // airlock died before the line above
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) (void)::sigaction(s, &dfl, nullptr);
  // Every other descriptor airlock holds (the site lock, state.db) stays out of the child.
  (void)::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  char go = 0;
  if (::read(fds.go_r, &go, 1) != 1) ::_exit(127);  // airlock did not record the group
  ::dup2(fds.devnull, STDIN_FILENO);
  ::dup2(fds.out_w, STDOUT_FILENO);
  ::dup2(fds.out_w, STDERR_FILENO);
  if (*cwd && ::chdir(cwd) != 0) child_fail(fds.fail_w, Stage::chdir);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(path, argv, envp);
  child_fail(fds.fail_w, Stage::exec);
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

struct ProcStat {
  char state = '?';
  pid_t pgid = 0;
  std::uint64_t start_ticks = 0;
};

std::optional<ProcStat> read_stat(pid_t pid) {
  std::string line = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(line.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string t; in >> t;) f.push_back(t);
  if (f.size() < 20) return std::nullopt;
  try {
    return ProcStat{f[0].front(), static_cast<pid_t>(std::stol(f[2])), std::stoull(f[19])};
  } catch (...) {
    return std::nullopt;
  }
}

struct Member {
  pid_t pid;
  std::uint64_t start_ticks;
};

// Live (not zombie) members of a process group.
std::vector<Member> group_members(pid_t pgid) {
  std::vector<Member> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto st = read_stat(static_cast<pid_t>(std::stol(name)));
    if (st && st->pgid == pgid && st->state != 'Z' && st->state != 'X')
      out.push_back({static_cast<pid_t>(std::stol(name)), st->start_ticks});
  }
  return out;
}

// Keeps the last kMaxChildOutput bytes read from fd.
void read_available(int fd, std::string& out) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > 2 * kMaxChildOutput) out.erase(0, out.size() - kMaxChildOutput);
  }
}

int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

// Waits for the child, collecting its output, until it exits, the deadline passes or cancel is set;
// then the whole group is killed.
void supervise(pid_t pid, int out_r, const ProcessSpec& spec, ProcessResult& r) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(spec.timeout_ms);
  std::string raw;
  bool open = true;
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) {  // the latter: reaped elsewhere, status unknown
      r.exit_code = w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    bool late = SteadyClock::now() > deadline;
    bool stop = spec.cancel && spec.cancel->load();
    if (late || stop) {
      ::kill(-pid, SIGKILL);
      wait_child(pid);
      r.timed_out = late;
      r.cancelled = !late;
      break;
    }
    pollfd p{out_r, POLLIN, 0};
    if (open && ::poll(&p, 1, 5) > 0) {
      if (p.revents & POLLIN) read_available(out_r, raw);
      if ((p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN)) open = false;
    } else if (!open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // What is left in the pipe; a background process still holding its end is not waited for.
  read_available(out_r, raw);
  if (raw.size() > kMaxChildOutput) raw.erase(0, raw.size() - kMaxChildOutput);
  r.output = printable_output(raw);
}

std::string failure_text(const ChildFailure& f, const std::string& path, const std::string& cwd) {
  if (f.stage == static_cast<int>(Stage::chdir)) return "cannot enter folder '" + cwd + "': " + std::strerror(f.err);
  return "cannot execute '" + path + "': " + std::strerror(f.err);
}

// Blocks every signal in this thread for the fork, so that no handler of airlock's runs in the
// child before the child has reset the dispositions; restored on destruction.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_{};
};

// /dev/null, or an in-memory file holding `input` and rewound; invalid when neither can be made.
Fd child_stdin(const std::string& input) {
  if (input.empty()) return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd f(::memfd_create("airlock-stdin", MFD_CLOEXEC));
  if (!f.valid()) return f;
  for (std::size_t done = 0; done < input.size();) {
    ssize_t n = ::write(f.get(), input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fd();
    done += static_cast<std::size_t>(n);
  }
  if (::lseek(f.get(), 0, SEEK_SET) != 0) return Fd();
  return f;
}

}  // namespace

std::string ProcessResult::describe() const {
  if (!started) return "could not start: " + error;
  if (timed_out) return "timed out";
  if (cancelled) return "cancelled";
  if (exit_code < 0) return "killed by a signal";
  return "exit code " + std::to_string(exit_code);
}

std::string ProcessResult::output_tail(std::size_t max_bytes) const {
  std::string t = output;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max_bytes) {
    std::size_t from = t.size() - max_bytes;
    while (from < t.size() && (static_cast<unsigned char>(t[from]) & 0xc0) == 0x80) ++from;
    t = "..." + t.substr(from);
  }
  for (auto& ch : t)
    if (ch == '\n' || ch == '\t') ch = ' ';
  return t;
}

std::optional<std::string> not_runnable(const std::vector<std::string>& argv, const std::string& cwd) {
  if (argv.empty() || argv[0].empty()) return "empty command";
  auto path = resolve(argv[0], cwd);
  if (!path) return "'" + argv[0] + "' is not found in PATH (" + search_path() + ")";
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) return "'" + *path + "': " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "'" + *path + "' is not a regular file";
  if (::faccessat(AT_FDCWD, path->c_str(), X_OK, AT_EACCESS) != 0)
    return "'" + *path + "' is not executable: " + std::strerror(errno);
  return std::nullopt;
}

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  auto st = read_stat(pid);
  if (!st) return std::nullopt;
  return st->start_ticks;
}

std::string current_boot_id() { return read_first_line("/proc/sys/kernel/random/boot_id"); }

int kill_recorded_group(const ChildId& id) {
  if (id.pgid <= 1 || id.boot_id.empty() || id.boot_id != current_boot_id()) return 0;
  auto members = group_members(id.pgid);
  if (members.empty()) return 0;
  // A live leader proves the group by its start time. Without it the id cannot have been handed
  // out again while members hold it, and members older than the recorded leader are not ours.
  for (const auto& m : members) {
    if (m.pid == id.pgid && m.start_ticks != id.start_ticks) return 0;
    if (m.start_ticks < id.start_ticks) return 0;
  }
  ::kill(-id.pgid, SIGKILL);
  for (int i = 0; i < 500 && !group_members(id.pgid).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return static_cast<int>(members.size());
}

ProcessResult run_process(const ProcessSpec& spec, const std::string& input) {
  ProcessResult r;
  if (spec.argv.empty()) {
    r.error = "empty command";
    return r;
  }
  auto path = resolve(spec.argv[0], spec.cwd);
  if (!path) {
    r.error = "'" + spec.argv[0] + "' is not found in PATH (" + search_path() + ")";
    return r;
  }
  // Built before fork: between fork and exec only async-signal-safe calls.
  std::vector<std::string> argv = spec.argv, env = child_environment(spec.env);
  auto args = pointers(argv), envp = pointers(env);
  Fd devnull = child_stdin(input);
  auto out = Pipe::open(), go = Pipe::open(), failed = Pipe::open();
  if (!devnull.valid() || !out || !go || !failed) {
    r.error = std::string("cannot set up the child: ") + std::strerror(errno);
    return r;
  }
  const pid_t parent = ::getpid();
  pid_t pid = 0;
  {
    SignalsBlocked blocked;
    pid = ::fork();
    if (pid == 0)
      in_child({devnull.get(), out->w.get(), go->r.get(), failed->w.get()}, parent, path->c_str(), spec.cwd.c_str(),
               args.data(), envp.data());
  }
  if (pid < 0) {
    r.error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  ::setpgid(pid, pid);  // also here, so the group exists before it is recorded
  ::fcntl(out->r.get(), F_SETFL, O_NONBLOCK);
  out->w.reset();
  failed->w.reset();
  go->r.reset();
  ChildId id{pid, process_start_ticks(pid).value_or(0), current_boot_id()};
  if (spec.observer) spec.observer->started(id, spec.what);
  (void)!::write(go->w.get(), "g", 1);
  go->w.reset();
  ChildFailure f;
  ssize_t n = 0;
  while ((n = ::read(failed->r.get(), &f, sizeof f)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof f)) {
    wait_child(pid);
    r.error = failure_text(f, *path, spec.cwd);
  } else {
    r.started = true;
    supervise(pid, out->r.get(), spec, r);
  }
  if (spec.observer) spec.observer->ended(id);
  return r;
}

}  // namespace airlock

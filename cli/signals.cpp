#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace airlock::cli {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_termination_signal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);  // the first signal names the interruption
}

}  // namespace

void catch_termination_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_termination_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    // A signal ignored when we started (nohup; SIGINT of a background job) stays ignored.
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &sa, nullptr);
  }
  // `airlock apply 2>&1 | tee log` and Ctrl-C: tee dies first, and the next progress line must not
  // kill airlock mid-step with SIGPIPE. Writes to a closed pipe fail instead (EPIPE) and the
  // streams stop printing; the run goes on to its clean end.
  ::signal(SIGPIPE, SIG_IGN);
}

int termination_signal() { return g_signal.load(); }

void die_of(int sig) {
  ::signal(sig, SIG_DFL);
  ::raise(sig);
  ::_exit(128 + sig);  // not reached unless the signal is blocked
}

}  // namespace airlock::cli

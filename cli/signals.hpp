// Termination signals (SIGTERM from systemd or kill, SIGINT from Ctrl-C, SIGHUP from a closed
// terminal) during work that must not stop half way: the handler only records the first signal;
// the libraries poll it (applier::Env::interrupted, verifier::Request::stop) and end cleanly.
#pragma once

namespace airlock::cli {

// Also ignores SIGPIPE; a signal already ignored at start (nohup) stays ignored.
void catch_termination_signals();
int termination_signal();  // the first signal caught, or 0
// After cleaning up: end the process as the signal would have (the shell sees 128 + sig).
[[noreturn]] void die_of(int sig);

}  // namespace airlock::cli

// The one apply the page may have running: a thread of its own (never an HTTP worker), so that
// the server keeps answering — the progress poll, the page — while the apply holds the site lock.
// Its phases arrive through the applier's EventSink and are kept for the poll.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "applier/applier.hpp"

namespace airlock::ui {

struct Progress {
  bool running = false;
  std::string what;                 // "apply 1.2.0"
  std::vector<std::string> phases;  // "phase: message", in order
  std::string outcome;              // "" while running; the outcome word or the error when done
};

class Runner {
 public:
  using Job = std::function<Result<applier::RunReport>(const applier::Env&)>;
  ~Runner();
  // False when a run is already going. `base` is the environment the job runs with; its event
  // sink is replaced by the runner's own.
  bool start(const std::string& what, applier::Env base, Job job);
  Progress progress();
  void join();

 private:
  std::mutex mu_;
  Progress p_;
  std::thread t_;
};

}  // namespace airlock::ui

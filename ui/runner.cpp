#include "ui/runner.hpp"

namespace airlock::ui {

Runner::~Runner() { join(); }

void Runner::join() {
  if (t_.joinable()) t_.join();
}

bool Runner::start(const std::string& what, applier::Env base, Job job) {
  std::lock_guard lk(mu_);
  if (p_.running) return false;
  if (t_.joinable()) t_.join();  // the previous run has ended (running is false)
  p_ = Progress{true, what, {}, ""};
  base.events = [this](const applier::SiteEvent& e) {
    std::lock_guard l(mu_);
    if (p_.phases.size() < 1000) p_.phases.push_back(e.phase + ": " + e.message);
  };
  t_ = std::thread([this, base = std::move(base), job = std::move(job)] {
    auto r = job(base);
    std::string out;
    if (r)
      out = applier::outcome_name(r->outcome);
    else
      out = "error: " + r.error().what();
    std::lock_guard l(mu_);
    p_.outcome = out;
    p_.running = false;
  });
  return true;
}

Progress Runner::progress() {
  std::lock_guard lk(mu_);
  return p_;
}

}  // namespace airlock::ui

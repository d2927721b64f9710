// Scheduled upgrades (docs/schedule.md): a release staged now (applier/staged.hpp) and applied
// later, at a set time, by `airlock run-due` (run by a systemd timer every minute). A site has at
// most one open job. A job lives in state.db (`jobs`, schema 4):
//   pending   → its preflight runs at max(now, at - preflight_before): the site's preflight checks
//               and every staged file hashed again; a failure cancels it
//   running   → at its time, applied exactly as `apply --staged` (the run's data names the job, so
//               the record of the run, or of its recovery after a crash, closes the job)
//   finished  → the run's outcome kept with the job
//   cancelled → by the operator, by a failed preflight, or because another release than the one it
//               expected is installed
//   missed    → found after its window (the machine was off): never run late
// Every step is a history row and an audit entry (the apply's own record for the run).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "core/error.hpp"

namespace airlock::applier {

inline constexpr std::int64_t kDefaultPreflightBeforeS = 30 * 60;
inline constexpr std::int64_t kDefaultWindowS = 2 * 60 * 60;

// One job as state.db keeps it. Times are RFC 3339 in UTC ("" = not yet).
struct ScheduledJob {
  std::int64_t id = 0;
  std::string staged;            // the staged release's bundle SHA-256
  std::string version;           // the release it installs
  std::string expect_installed;  // the release installed when it was scheduled ("" = nothing)
  std::string at, preflight_at, window_end;
  std::string state;  // pending | running | finished | cancelled | missed
  std::string created_at, created_by;
  std::string preflight_done;  // when its preflight passed
  std::string run_id;          // the run that applies it (from `running` on)
  std::string outcome;         // finished: the run's outcome word
  std::string detail;          // why it was cancelled or missed; what the run said
  std::string finished_at;
};

// A job with its times also in the site's time zone (site.toml `timezone`).
struct JobView {
  ScheduledJob job;
  std::string timezone;
  std::string at_local, preflight_local, window_local;  // RFC 3339 with the zone's offset then
  std::string audit_head;
};

struct ScheduleRequest {
  std::string bundle;
  std::string at;  // RFC 3339, or HH:MM: its next occurrence in the site's time zone
  std::int64_t preflight_before_s = kDefaultPreflightBeforeS;
  std::int64_t window_s = kDefaultWindowS;
};

// Verifies and stages the bundle (as `stage`), then records the job. Refused: a time that is not
// in the future (usage, 2), a time after the release's `expires` or a second open job (policy, 13).
[[nodiscard]] Result<JobView> schedule_add(const std::string& site_toml, const ScheduleRequest& req,
                                           const Env& env = {});
// Every job, oldest first. Does not take the site lock.
[[nodiscard]] Result<std::vector<JobView>> schedule_list(const std::string& site_toml);
// Cancels the pending job `id` (usage error for any other).
[[nodiscard]] Result<JobView> schedule_cancel(const std::string& site_toml, std::int64_t id, const Env& env = {});

// What one `run-due` did.
enum class DueAction {
  none,       // no open job
  busy,       // another airlock holds the site: the next tick tries again
  waiting,    // the job's preflight time has not come
  preflight,  // the preflight passed (or had passed); the job waits for its time
  cancelled,  // a failed preflight, or another release installed than the job expected
  missed,     // found after its window
  ran,        // applied (or the run's outcome: rolled back, degraded, aborted)
  settled,    // a job whose run was interrupted, closed from that run's record
  critical,   // no job: an overdue critical release applied from its staged bundle ([policy])
  needs_operator,  // no job: an overdue critical release whose staged bundle has a breaking config
                   // delta, left for an operator
};
const char* due_action_name(DueAction a);

struct DueReport {
  DueAction action = DueAction::none;
  std::optional<JobView> job;
  std::optional<RunReport> run;
  std::string detail;
  std::optional<ErrorClass> cls;  // the exit class (nullopt = 0)
};
[[nodiscard]] Result<DueReport> run_due(const std::string& site_toml, const Env& env = {});

// Internal: the open job for status (nullopt: none).
class StateDb;
struct Site;
[[nodiscard]] Result<std::optional<ScheduledStatus>> scheduled_status(const Site& site, StateDb& st);

// Internal: called by the record of every run, inside its transaction. Closes the job the run
// applies (its data's "job"), if any, with the run's outcome.
struct Ctx;
[[nodiscard]] airlock::Status close_job_of_run(Ctx& c, Outcome outcome, const std::string& detail);

}  // namespace airlock::applier

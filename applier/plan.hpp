// `apply --dry-run` (and the Updates page's preflight view): what an apply of a bundle would do at
// a site, computed without changing anything — no state.db write (it is read, never opened for
// writing), no lock, no snapshot, no audit entry, no history row. The bundle is verified in full
// (signatures, policy, every file) into a private temporary folder outside the site, removed after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"

namespace airlock::applier {

struct PlannedMigration {
  std::string id, database;
  bool irreversible = false;     // no down script: a rollback restores the database from the snapshot
  bool already_applied = false;  // recorded in the database: skipped
};
struct PlannedDelta {
  std::string target, path;
  bool breaking = false;
  bool changes = false;  // the file's text would change
  std::string problem;   // a [require] precondition that does not hold ("" = none)
};
struct PlannedService {
  std::string name, mode;
};
struct PlannedCheck {
  std::string name, kind;
  bool hard = true;
  std::int64_t within_ms = 0;
};

struct Plan {
  std::string site_name, product, bundle;
  std::string from_version;  // "" = nothing installed
  std::string to_version, channel;
  bool critical = false;
  std::vector<CheckResult> preflight;  // the site's checks run once now, as the preflight does
  // Nothing is installed yet: the preflight checks only measure, and a failing one stops nothing.
  bool preflight_measures_only = false;
  std::vector<PlannedMigration> migrations;
  std::vector<PlannedDelta> config;
  std::vector<PlannedService> services;  // in the order they are replaced
  std::vector<PlannedCheck> checks;      // the health checks after the apply
  bool needs_accept_breaking = false;    // a breaking delta not accepted (env.accept_breaking)
  // Why the apply would stop before changing anything, with the exit class it would end with
  // (nullopt: it would go ahead).
  std::vector<std::string> blockers;
  std::optional<ErrorClass> blocked;
};

// A bundle that does not verify is an error (10-13) as for apply; what the site would refuse after
// verifying (a failing preflight check, a missing target file, a breaking delta not accepted, a
// skipped release) is listed in `blockers`.
[[nodiscard]] Result<Plan> plan_apply(const std::string& site_toml, const std::string& bundle, const Env& env = {});

}  // namespace airlock::applier

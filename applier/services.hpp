// The site's services ([[services]] in site.toml, docs/site.md, "Services"): after the resume
// hook each is replaced in turn — its restart (or rolling) command, then its readiness check tried
// until it passes or its `ready_within` has passed — in dependency order; a rollback restores the
// ones a run replaced in reverse order (their rollback command, else the restart command again).
// Every command is a child of the run (process.hpp): its own process group, recorded in the run
// record while it runs, its output captured and kept in the run's steps.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "applier/site.hpp"
#include "core/error.hpp"

namespace airlock::applier {

struct Ctx;

// The services in an order where each one follows every service its `after` names; among those
// free to go, the order of the file. ErrorClass::usage naming a duplicate, an unknown name in
// `after`, or a cycle.
[[nodiscard]] Result<std::vector<ServiceSpec>> order_services(std::vector<ServiceSpec> services);

// Replaces every service in order; the first failure (command or readiness) stops it and is the
// error. The names replaced so far are kept in the run's data ("services_replaced", persisted
// before each command runs), so a rollback or a recovery knows what to restore.
[[nodiscard]] airlock::Status replace_services(Ctx& c);

enum class Restore {
  replaced,  // the services this run replaced (an automatic rollback, a recovery)
  all,       // every service (a manual rollback: the release being left replaced them all)
};
// Restores in reverse order and waits for each one's readiness. A failure does not stop the
// others: every service gets its attempt, and the first failure is the error.
[[nodiscard]] airlock::Status restore_services(Ctx& c, Restore which);

// Why a service's command, rollback command or exec readiness check cannot start (nullopt: all can).
std::optional<std::string> unrunnable_service(const Site& site);

}  // namespace airlock::applier

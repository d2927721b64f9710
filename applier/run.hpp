// Internal: the context of one run (apply, manual rollback, snapshot restore, recovery) and the
// handlers of its phases (state_machine.cpp says which handler runs for which phase of which kind).
// "What has been proved" is kept as explicit fields; everything recovery needs is persisted in
// the run row of state.db (phase, snapshot id, versions, data JSON).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/health.hpp"
#include "applier/lock.hpp"
#include "core/sys/process.hpp"
#include "applier/site.hpp"
#include "applier/snapshot.hpp"
#include "applier/state_db.hpp"
#include "applier/state_machine.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

using SteadyClock = std::chrono::steady_clock;

struct PlannedConfig {
  std::string name, path, new_text;
};

struct Ctx;

// Keeps the process group of every running hook and exec check in the run's data ("children") and
// persists it before the child runs, so that `recover` can stop what a killed airlock left running.
class ChildJournal : public ChildObserver {
 public:
  explicit ChildJournal(Ctx& c) : c_(c) {}
  void started(const ChildId& id, const std::string& what) override;
  void ended(const ChildId& id) override;

 private:
  Ctx& c_;
  std::mutex mu_;
};

struct Ctx {
  Ctx(Site s, Env e, StateDb d) : site(std::move(s)), env(std::move(e)), st(std::move(d)) {}
  Site site;
  Env env;
  StateDb st;
  Run run;
  nlohmann::json data = nlohmann::json::object();  // persisted: baseline, steps, signals, release facts

  // Proved along the way.
  std::optional<Manifest> manifest;
  std::vector<PlannedConfig> configs;  // every precondition already checked
  std::optional<std::string> trust_update_text;
  Baseline baseline;
  std::vector<CheckResult> last_checks;
  std::optional<Error> error;          // why the run aborted / failed
  std::string detail;                  // the record's detail when no error says it (what was done, how recovered)
  std::optional<ReleaseRow> leaving;   // manual rollback: the release being left
  std::optional<SnapMeta> restoring;   // snapshot restore: the snapshot being put back
  std::optional<Phase> crashed_phase;  // recovery: where the run being recovered stopped
  std::optional<SteadyClock::time_point> signal_at;
  std::optional<std::int64_t> signal_to_rollback_ms;
  bool recovering = false;  // finishing a crashed run (driven by the recover machine)
  bool refused = false;     // a command refused before it changed anything (recorded as refused)
  ChildJournal children{*this};

  std::string now() const { return format_rfc3339(env.now()); }
  // The machine that drives this run: its own kind's, or recover's for a crashed run.
  RunKind machine() const { return recovering ? RunKind::recover : run.kind; }
  void emit(const std::string& phase, const std::string& msg) const { env.events({phase, msg}); }
  void add_signal(const std::string& s);
  // Persists the run row (phase, versions, snapshot id, data) with a journal entry.
  [[nodiscard]] airlock::Status journal(Phase p);
};

std::string staging_dir(const Site& s, const std::string& run_id);
std::string signal_name(int sig);  // "SIGTERM"
std::string release_dir(const Site& s, const std::string& version);
// airlock's own copy of a release's manifest: releases/<version>.manifest.toml, beside the payload
// folder (a payload file may carry any name, so nothing of airlock's lives inside it).
std::string kept_manifest_path(const Site& s, const std::string& version);
// Reads the kept manifest; a release kept by an older airlock has it inside its payload folder.
[[nodiscard]] Result<Manifest> read_kept_manifest(const Site& s, const std::string& version);

// Phase handlers. Each returns the event for the transition table (state_machine.cpp).
// phases.cpp: apply's forward phases (snapshot and drain serve every kind).
Event do_preflight(Ctx& c);
Event do_verify(Ctx& c);
Event do_snapshot(Ctx& c);
Event do_drain(Ctx& c);
Event do_apply(Ctx& c);
Event do_resume(Ctx& c);
Event do_check(Ctx& c);
// rollback.cpp: apply's rollback, the record, and the recover machine.
Event do_rollback(Ctx& c);
Event do_record(Ctx& c);
Event do_stop_orphans(Ctx& c);
Event do_recover_discard(Ctx& c);
Event do_restore_old(Ctx& c);
Event do_finish_new(Ctx& c);
Event do_close(Ctx& c);
// manual.cpp: the operator's rollback and snapshot restore.
Event do_rollback_preflight(Ctx& c);
Event do_revert(Ctx& c);
Event do_revert_resume(Ctx& c);
Event do_revert_check(Ctx& c);
Event do_restore_preflight(Ctx& c);
Event do_restore(Ctx& c);
Event do_undo_restore(Ctx& c);

// Reverse migrations of `manifest` (payload kept under releases/<version>) in reverse order; a
// database whose reverse is missing or fails is restored from `snap`. Returns those databases.
// Only the ids in `applied` (what the run being undone applied itself) are reversed.
[[nodiscard]] Result<std::vector<std::string>> reverse_migrations(Ctx& c, const Manifest& manifest,
                                                                  const std::string& version, const SnapMeta& snap,
                                                                  const std::vector<std::string>& applied);
[[nodiscard]] Result<RunReport> finalize(Ctx& c, Phase terminal, const std::string& detail);
// Drives the recover machine over a crashed run.
[[nodiscard]] Result<RunReport> recover_locked(Ctx& c, const Run& crashed);

struct Opened {
  std::unique_ptr<Ctx> ctx;
  std::optional<SiteLock> lock;
};
// What opening the site does with a run record that fails its checks: refuse (ErrorClass::io
// naming it), recover (restore the snapshot it names, when that id is readable), or discard it
// (the caller is about to put the whole site back from a snapshot of the operator's choice).
enum class DamagedRun { refuse, recover, discard };
// Loads the site, takes the lock, opens state.db and recovers a crashed run if there is one
// (its report in *recovered when given).
[[nodiscard]] Result<Opened> open_site(const std::string& site_toml, const Env& env,
                                       std::optional<RunReport>* recovered, DamagedRun damaged = DamagedRun::refuse);
std::string new_run_id(const Env& env);
// Starts a run of c.run (already filled in) and drives it to a terminal phase, recorded.
[[nodiscard]] Result<RunReport> start_run(Ctx& c);
// Drives c.machine() from `start` to a terminal phase, persisting the run record and a journal
// row before each phase, and records the run (pending: left in the journal, an error returned).
[[nodiscard]] Result<RunReport> drive(Ctx& c, Phase start);

// Runs a hook if the site has one; true when absent or it succeeded. Its result and output are
// kept in the run's data ("hooks") and its output lines are emitted as events.
// The hook sees AIRLOCK_SITE, AIRLOCK_FROM, AIRLOCK_TO, AIRLOCK_PHASE (and AIRLOCK_OUTCOME and
// AIRLOCK_DETAIL for notify); every other AIRLOCK_* of airlock's environment is dropped.
bool run_hook(Ctx& c, const std::optional<Hook>& hook, const std::string& name, const std::string& outcome = "",
              const std::string& detail = "");
// "exit code 3: <the end of its output>" for the hook's last run ("" when it did not run).
std::string hook_result(const Ctx& c, const std::string& name);
// Why a hook or an exec check of the site cannot be started, naming it (nullopt: all can).
std::optional<std::string> unrunnable_child(const Site& site);
// Kills the process groups a crashed run recorded as running (only those still provably the same).
void stop_orphans(Ctx& c, const Run& crashed);

}  // namespace airlock::applier

// The site commands: apply, status, history, rollback, recover, snapshot, audit, ack, stage, staged.
// Each handler gets argv with argv[0] = the subcommand name and returns the exit code of spec §8.
#pragma once

#include <string>

#include "applier/applier.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"

namespace airlock::cli {

// Shared by the site commands: --site and --json; the run environment (signals, events on stderr
// unless quiet); a run's report printed (headline or JSON) and its exit code.
void add_common(po::options_description& o, std::string& site);
applier::Env cli_env(bool quiet);
int finish_run(const std::string& cmd, const Result<applier::RunReport>& r, bool as_json);
// --feed of apply and stage: the feed verified against the site's installed trust root and its
// sticky revocations (spec §10), put into env.feed. Errors: the feed's (10, 11), the site's (2, 3).
[[nodiscard]] Status use_site_feed(const std::string& site_toml, const std::string& feed_path, applier::Env& env);

int cmd_apply(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_history(int argc, char** argv);
int cmd_rollback(int argc, char** argv);
int cmd_recover(int argc, char** argv);
int cmd_snapshot(int argc, char** argv);
int cmd_audit(int argc, char** argv);
int cmd_ack(int argc, char** argv);
// cmd_stage.cpp: staged releases.
int cmd_stage(int argc, char** argv);
int cmd_staged(int argc, char** argv);
// cmd_lifecycle.cpp: skip and delay.
int cmd_skip(int argc, char** argv);
int cmd_delay(int argc, char** argv);
// cmd_schedule.cpp: scheduled upgrades.
int cmd_schedule(int argc, char** argv);
int cmd_run_due(int argc, char** argv);

}  // namespace airlock::cli

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
// --feed of apply, schedule add and stage. `accept`: the site accepts the feed first, as `feed
// accept` does (recorded even when the bundle is then refused), and the run matches the bundle
// against the site's feed. Otherwise (stage) the feed is only verified against the site's trust
// root and sticky revocations and put into env.feed with the site's sticky deprecations.
// Errors: the feed's (10, 11, 13), the site's (2, 3).
enum class FeedUse { accept, verify_only };
[[nodiscard]] Status use_site_feed(const std::string& site_toml, const std::string& feed_path, applier::Env& env,
                                   FeedUse use);

int cmd_apply(int argc, char** argv);
// cmd_plan.cpp: apply --dry-run (a feed is verified only, never accepted).
int dry_run(const std::string& site, const std::string& bundle, const std::string& staged, const std::string& feed,
            applier::Env env, bool js);
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
// cmd_images.cpp: the image store.
int cmd_images(int argc, char** argv);
// cmd_images_push.cpp: `images push`, argv[0] = "images push".
int cmd_images_push(int argc, char** argv);
// cmd_lifecycle.cpp: skip and delay.
int cmd_skip(int argc, char** argv);
int cmd_delay(int argc, char** argv);
// cmd_schedule.cpp: scheduled upgrades.
int cmd_schedule(int argc, char** argv);
int cmd_run_due(int argc, char** argv);
// cmd_telemetry.cpp: opt-in telemetry, export and summary.
int cmd_telemetry(int argc, char** argv);

}  // namespace airlock::cli

// The site commands: apply, status, history, rollback, recover, snapshot, audit, ack.
// Each handler gets argv with argv[0] = the subcommand name and returns the exit code of spec §8.
#pragma once

namespace airlock::cli {

int cmd_apply(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_history(int argc, char** argv);
int cmd_rollback(int argc, char** argv);
int cmd_recover(int argc, char** argv);
int cmd_snapshot(int argc, char** argv);
int cmd_audit(int argc, char** argv);
int cmd_ack(int argc, char** argv);

}  // namespace airlock::cli

// The subcommands of the one `airlock` executable. Each handler gets argv with argv[0] = the
// subcommand name and returns the process exit code (spec §8).
#pragma once

namespace airlock::cli {

int cmd_keygen(int argc, char** argv);
int cmd_build(int argc, char** argv);
int cmd_sign(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_trust(int argc, char** argv);
int cmd_feed(int argc, char** argv);
int cmd_push(int argc, char** argv);
int cmd_pull(int argc, char** argv);

}  // namespace airlock::cli

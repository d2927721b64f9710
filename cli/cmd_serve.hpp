// `airlock serve`, `airlock ui passwd` and `airlock channel`: the Updates page and its settings.
#pragma once

namespace airlock::cli {

int cmd_serve(int argc, char** argv);
int cmd_ui(int argc, char** argv);
int cmd_channel(int argc, char** argv);

}  // namespace airlock::cli

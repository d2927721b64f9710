// `airlock scan DIR --site site.toml`: which bundles on a stick this site may apply (applier/scan.hpp).
#pragma once

namespace airlock::cli {

int cmd_scan(int argc, char** argv);

}  // namespace airlock::cli

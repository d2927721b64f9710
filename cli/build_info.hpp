// What `airlock --version` reports beyond the version: the commit, from a generated source.
#pragma once

namespace airlock::cli {
const char* build_commit();
}  // namespace airlock::cli

// The SQLite target (core/db/target.hpp): a database file on the site's disk. Migrations run on a
// connection hardened by the migration sandbox (core/db/db_sandbox.hpp), snapshots are made by the
// online backup API (a live writer is fine) and restored by a synced copy over the file after its
// side files (-journal, -wal, -shm) are removed, so a hot journal left by a crashed migration is
// never replayed into a restored file.
#pragma once

#include <memory>

#include "core/db/target.hpp"

namespace airlock::db {

std::unique_ptr<Target> make_sqlite_target(const TargetSpec& spec);

}  // namespace airlock::db

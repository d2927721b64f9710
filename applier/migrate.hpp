// Migrations run through the database target of their database (core/db/target.hpp): for SQLite,
// in the migration sandbox (core/db/db_sandbox.hpp: the hardened connection, its allow-lists,
// limits and deadline; the build's round-trip check uses the same one). Each migration runs in its
// own transaction and records its id in `_airlock_migrations` of the target database in that same
// transaction, so it is never applied twice.
#pragma once

#include <cstdint>
#include <string>

#include "core/db/target.hpp"
#include "core/error.hpp"

namespace airlock::applier {

using Direction = db::Direction;

struct MigrationRun {
  db::TargetSpec target;
  std::string id;
  std::string release;  // recorded next to the id
  std::string sql;
  Direction direction = Direction::up;
  std::int64_t timeout_ms = 60000;
};

// Up: skipped when the id is already recorded. Down: skipped when it is not recorded. True when
// the script ran (and the bookkeeping changed), false when skipped: a run records exactly the
// migrations it applied, so that its rollback reverses those and no others.
// Failures are ErrorClass::internal naming the migration, the database and the target's reason.
[[nodiscard]] Result<bool> run_migration(const MigrationRun& m);
[[nodiscard]] Result<bool> migration_recorded(const db::TargetSpec& target, const std::string& id);

}  // namespace airlock::applier

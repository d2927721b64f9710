#include "applier/migrate.hpp"

namespace airlock::applier {

Result<bool> migration_recorded(const db::TargetSpec& target, const std::string& id) {
  AIRLOCK_TRY(auto t, db::open_target(target), "migration " + id);
  AIRLOCK_TRY(bool recorded, t->migration_recorded(id), "migration " + id);
  return recorded;
}

Result<bool> run_migration(const MigrationRun& m) {
  std::string what = std::string(m.direction == Direction::up ? "migration " : "reverse migration ") + m.id + " on '" +
                     m.target.location + "'";
  AIRLOCK_TRY(auto t, db::open_target(m.target), what);
  AIRLOCK_TRY(bool ran, t->migrate({m.id, m.release, m.sql, m.direction, m.timeout_ms}), what);
  return ran;
}

}  // namespace airlock::applier

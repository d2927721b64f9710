// The state store's telemetry rows (applier/telemetry.hpp): the `telemetry` table of schema 5. Part
// of StateDb (state_db.hpp); kept apart from state_db.cpp only because it is one job of its own.
#include "applier/state_db.hpp"

namespace airlock::applier {

airlock::Status StateDb::add_telemetry(const std::string& run_id, const std::string& at, const std::string& row) {
  // A run is recorded once; a recovery that records the same run again keeps the first row.
  auto q = db_.query("INSERT INTO telemetry(run_id, at, row) VALUES(?, ?, ?) ON CONFLICT(run_id) DO NOTHING",
                     {run_id, at, row});
  if (!q) return fail(q.error().with_context("state: keeping the telemetry row of run " + run_id));
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> StateDb::telemetry_rows(bool all) {
  AIRLOCK_TRY(auto rows,
              db_.query(std::string("SELECT run_id, row FROM telemetry") + (all ? "" : " WHERE exported_at = ''") +
                        " ORDER BY rowid"),
              "state: telemetry rows");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rows) out.emplace_back(value_text(r[0]), value_text(r[1]));
  return out;
}

airlock::Status StateDb::mark_telemetry_exported(const std::vector<std::string>& run_ids, const std::string& at) {
  for (const auto& id : run_ids) {
    auto q = db_.query("UPDATE telemetry SET exported_at = ? WHERE run_id = ?", {at, id});
    if (!q) return fail(q.error().with_context("state: marking telemetry rows exported"));
  }
  return {};
}

}  // namespace airlock::applier

// The state store's scheduled jobs (applier/schedule.hpp): the `jobs` table of schema 4. Part of
// StateDb (state_db.hpp); kept apart from state_db.cpp only because it is one job of its own.
#include "applier/state_db.hpp"

namespace airlock::applier {
namespace {

constexpr const char* kJobColumns =
    "id, staged, version, expect_installed, at, preflight_at, window_end, state, created_at, created_by, "
    "preflight_done, run_id, outcome, detail, finished_at";

ScheduledJob job_of(const db::Row& r) {
  ScheduledJob j;
  if (const auto* i = std::get_if<std::int64_t>(&r[0])) j.id = *i;
  std::string* fields[] = {&j.staged,     &j.version, &j.expect_installed, &j.at,         &j.preflight_at,
                           &j.window_end, &j.state,   &j.created_at,       &j.created_by, &j.preflight_done,
                           &j.run_id,     &j.outcome, &j.detail,           &j.finished_at};
  for (std::size_t i = 0; i < std::size(fields); ++i) *fields[i] = value_text(r[i + 1]);
  return j;
}

Result<std::vector<ScheduledJob>> select_jobs(db::Database& d, const std::string& where,
                                              const std::vector<db::Value>& args) {
  AIRLOCK_TRY(auto rows, d.query(std::string("SELECT ") + kJobColumns + " FROM jobs " + where + " ORDER BY id", args),
              "state: scheduled jobs");
  std::vector<ScheduledJob> out;
  for (const auto& r : rows) out.push_back(job_of(r));
  return out;
}

}  // namespace

Result<std::int64_t> StateDb::add_job(const ScheduledJob& j) {
  AIRLOCK_TRY(auto rows,
              db_.query("INSERT INTO jobs(staged, version, expect_installed, at, preflight_at, window_end, state, "
                        "created_at, created_by) VALUES(?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
                        {j.staged, j.version, j.expect_installed, j.at, j.preflight_at, j.window_end, j.created_at,
                         j.created_by}),
              "state: recording the scheduled job");
  return std::get<std::int64_t>(rows.at(0).at(0));
}

Result<std::vector<ScheduledJob>> StateDb::jobs() { return select_jobs(db_, "", {}); }

Result<std::optional<ScheduledJob>> StateDb::open_job() {
  AIRLOCK_TRY(auto js, select_jobs(db_, "WHERE state IN ('pending', 'running')", {}), "state");
  if (js.empty()) return std::optional<ScheduledJob>{};
  return std::optional<ScheduledJob>(js.front());
}

Result<std::optional<ScheduledJob>> StateDb::job(std::int64_t id) {
  AIRLOCK_TRY(auto js, select_jobs(db_, "WHERE id = ?", {id}), "state");
  if (js.empty()) return std::optional<ScheduledJob>{};
  return std::optional<ScheduledJob>(js.front());
}

airlock::Status StateDb::update_job(const ScheduledJob& j) {
  auto q = db_.query(
      "UPDATE jobs SET state = ?, preflight_done = ?, run_id = ?, outcome = ?, detail = ?, finished_at = ? "
      "WHERE id = ?",
      {j.state, j.preflight_done, j.run_id, j.outcome, j.detail, j.finished_at, j.id});
  if (!q) return fail(q.error().with_context("state: scheduled job " + std::to_string(j.id)));
  return {};
}

}  // namespace airlock::applier

// Operator commands that change the site outside an apply: manual rollback to the previous
// release, and snapshot restore (with its guards). Both are journaled runs: a crash in the middle
// is undone by restoring the safety snapshot taken first.
#include <algorithm>
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/crash.hpp"
#include "applier/files.hpp"
#include "applier/run.hpp"
#include "applier/snapshot.hpp"
#include "core/db.hpp"
#include "core/fs.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Content, not bytes (a backup differs from its source byte-wise), compared row by row: a restore
// must not hold copies of a large database in memory.
Result<bool> same_database(const std::string& a, const std::string& b) {
  AIRLOCK_TRY(auto da, db::Database::open(a, db::OpenMode::read_only), "comparing");
  AIRLOCK_TRY(auto db_b, db::Database::open(b, db::OpenMode::read_only), "comparing");
  AIRLOCK_TRY(auto ua, da.query("PRAGMA user_version"), "comparing");
  AIRLOCK_TRY(auto ub, db_b.query("PRAGMA user_version"), "comparing");
  if (ua != ub) return false;
  return da.same_content(db_b);
}

struct Plan {
  ReleaseRow current, previous;
};

Result<Plan> plan_manual_rollback(Ctx& c) {
  AIRLOCK_TRY(auto rows, c.st.releases(), "rollback");
  const ReleaseRow* cur = nullptr;
  for (const auto& r : rows)
    if (r.state == "current") cur = &r;
  if (!cur) return fail(ErrorClass::usage, "nothing is installed on site '" + c.site.name + "'");
  const ReleaseRow* prev = nullptr;
  for (const auto& r : rows)
    if (r.state == "previous" && r.seq < cur->seq) prev = &r;
  if (!prev) return fail(ErrorClass::usage, "no previous release to roll back to from " + cur->version);
  if (!cur->rollback_to.empty()) {
    auto floor = parse_semver(cur->rollback_to);
    auto target = parse_semver(prev->version);
    if (floor && target && compare_semver(*target, *floor) < 0)
      return fail(ErrorClass::policy, "release " + cur->version + " may not be rolled back below " + cur->rollback_to +
                                          " (its rollback_to marker); the previous release is " + prev->version);
  }
  return Plan{*cur, *prev};
}

// What the release being left applied itself. A row written by a state.db of schema 1 did not
// record it: then every migration its manifest lists except those the release rolled back to lists
// too (a full release re-lists its predecessors' migrations, which belong to them).
std::vector<std::string> migrations_to_reverse(Ctx& c, const Plan& p, const Manifest& leaving) {
  if (p.current.migrations) return *p.current.migrations;
  std::vector<std::string> ids;
  auto target = read_kept_manifest(c.site, p.previous.version);
  for (const auto& m : leaving.migrations) {
    bool theirs = target && std::any_of(target->migrations.begin(), target->migrations.end(),
                                        [&](const Migration& t) { return t.id == m.id; });
    if (!theirs) ids.push_back(m.id);
  }
  return ids;
}

// Everything after the safety snapshot: reverse the current release, put back the configs and the
// pointer of the snapshot taken before it was applied, prove health.
Event roll_back_manually(Ctx& c, const Plan& p) {
  auto old = load_sealed_snapshot(c.site, p.current.snapshot_id);
  if (!old) return c.error = old.error(), Event::fail;
  auto manifest = read_kept_manifest(c.site, p.current.version);
  Status s = manifest ? Status{} : Status(fail(manifest.error()));
  if (s) {
    auto r = reverse_migrations(c, *manifest, p.current.version, *old, migrations_to_reverse(c, p, *manifest));
    if (!r) s = fail(r.error());
  }
  if (s) s = restore_snapshot(c.site, *old, RestoreParts::configs_and_pointer);
  if (!s) return c.error = Error(ErrorClass::rollback_failed, s.error().what()), Event::fail;
  crash_point("after_rollback");
  bool resumed = run_hook(c, c.site.resume, "resume");
  CheckRun run = run_checks(c.site, nullptr, &c.children);
  c.last_checks = run.results;
  if (!resumed || run.hard_failed) {
    c.error = Error(ErrorClass::rollback_failed, "after the manual rollback the site is unhealthy: " +
                                                     (resumed ? run.decided_by : std::string("resume hook failed")));
    return Event::fail;
  }
  return Event::ok;
}

Result<Plan> plan_or_refuse(Ctx& c) {
  auto p = plan_manual_rollback(c);
  if (p) return p;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "rollback");
  return fail(record_refusal(c, RunKind::rollback, installed, installed, p.error()));
}

}  // namespace

Result<RunReport> rollback(const std::string& site_toml, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "rollback");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto p, plan_or_refuse(c), "rollback");
  std::string id = new_run_id(env);
  c.run = Run{id, RunKind::rollback, "snapshot",     "",  p.current.version, p.previous.version, id,
              "", c.now(),           env.started_by, "{}"};
  c.data["steps"] = json::array();
  c.data["signals"] = json::array();
  AIRLOCK_CHECK(c.st.begin_run(c.run), "rollback");
  auto safety = take_snapshot(c.site, id, c.now(), p.current.version);
  if (!safety) {
    c.error = safety.error();
    return finalize(c, Phase::aborted, safety.error().what()).and_then([&](RunReport) -> Result<RunReport> {
      return fail(*c.error);
    });
  }
  AIRLOCK_CHECK(c.journal(Phase::rollback), "journal");
  auto t0 = SteadyClock::now();
  Event ev = roll_back_manually(c, p);
  c.data["revert_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  Phase end = ev == Event::ok ? Phase::done : Phase::degraded;
  AIRLOCK_CHECK(c.journal(end), "journal");
  auto rep = finalize(c, end, c.error ? c.error->what() : "manual rollback to " + p.previous.version);
  if (rep && c.error) rep->failing_signals.push_back(c.error->what());
  return rep;
}

namespace {

// The guards of a restore without --force: a target that exists and differs from the snapshot is
// not overwritten.
Status restore_guards(const SnapMeta& m, const std::string& dir, const std::string& id) {
  for (const auto& it : m.items) {
    if (it.absent || !fs::exists(it.source)) continue;
    if (it.kind == "db") {
      // Backup files differ from their source byte-wise: compare content, not hashes.
      AIRLOCK_TRY(auto same, same_database(it.source, dir + "/" + it.file), "snapshot restore");
      if (same) continue;
      AIRLOCK_TRY(auto d, db::Database::open(it.source, db::OpenMode::read_only), "snapshot restore");
      AIRLOCK_TRY(auto uv, d.query("PRAGMA user_version"), "snapshot restore");
      std::int64_t now_uv = uv.empty() ? 0 : std::get<std::int64_t>(uv[0][0]);
      if (now_uv != it.user_version)
        return fail(ErrorClass::usage, "database '" + it.name + "' has schema version (user_version) " +
                                           std::to_string(now_uv) + ", snapshot '" + id + "' has " +
                                           std::to_string(it.user_version) + "; use --force to restore anyway");
    }
    AIRLOCK_TRY(auto h, sha256_file(it.source), "snapshot restore");
    if (h != it.sha256)
      return fail(ErrorClass::usage, it.kind + " '" + it.name + "' exists ('" + it.source +
                                         "') and differs from snapshot '" + id + "'; use --force to overwrite it");
  }
  return {};
}

}  // namespace

Result<SnapshotInfo> snapshot_restore(const std::string& site_toml, const std::string& id, Force force,
                                      const Env& env) {
  AIRLOCK_TRY(auto o,
              open_site(site_toml, env, nullptr, force == Force::yes ? DamagedRun::discard : DamagedRun::refuse),
              "snapshot restore");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "snapshot restore");
  auto loaded = load_sealed_snapshot(c.site, id);
  Status guards = loaded ? Status{} : Status(fail(loaded.error()));
  if (guards && force == Force::no) guards = restore_guards(*loaded, c.site.state_dir + "/snapshots/" + id, id);
  if (!guards)
    return fail(record_refusal(c, RunKind::restore, installed, loaded ? loaded->release : installed, guards.error())
                    .with_context("snapshot restore"));
  const SnapMeta& m = *loaded;
  // Journaled like a rollback: a safety snapshot first, so a crash between two restored files
  // (each one is atomic) is undone by recover instead of leaving a mix.
  std::string rid = new_run_id(env);
  c.run = Run{rid, RunKind::restore, "snapshot", "", installed, m.release, rid, "", c.now(), env.started_by, "{}"};
  c.data["steps"] = json::array();
  c.data["signals"] = json::array();
  AIRLOCK_CHECK(c.st.begin_run(c.run), "snapshot restore");
  auto safety = take_snapshot(c.site, rid, c.now(), installed);
  if (!safety) {
    (void)finalize(c, Phase::aborted, safety.error().what());
    return fail(safety.error().with_context("snapshot restore: safety snapshot"));
  }
  AIRLOCK_CHECK(c.journal(Phase::rollback), "journal");
  auto t0 = SteadyClock::now();
  auto restored = restore_snapshot(c.site, m);
  c.data["revert_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  if (auto& s = restored; !s) {
    auto back = restore_snapshot(c.site, *safety);
    (void)finalize(c, back ? Phase::aborted : Phase::degraded, s.error().what());
    return fail(s.error().with_context("snapshot restore"));
  }
  AIRLOCK_CHECK(c.journal(Phase::done), "journal");
  AIRLOCK_TRY(auto rep, finalize(c, Phase::done, "restored snapshot " + id + (force == Force::yes ? " (--force)" : "")),
              "snapshot restore");
  (void)rep;
  SnapshotInfo info{id, m.created_at, m.release, 0, true};
  for (const auto& it : m.items) info.bytes += it.bytes;
  return info;
}

}  // namespace airlock::applier

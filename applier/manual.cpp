// Operator commands that change the site outside an apply: manual rollback to the previous
// release, and snapshot restore (with its guards): the handlers of their phases, and the commands
// that start them. Both are runs of the state machine (state_machine.cpp): a safety snapshot is
// taken first, so a crash in the middle is undone by restoring it.
#include <algorithm>
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/crash.hpp"
#include "applier/files.hpp"
#include "applier/run.hpp"
#include "applier/services.hpp"
#include "applier/snapshot.hpp"
#include "core/db/target.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

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

// What a refused command recorded: nothing changed, the refusal is the run's error.
Event refuse(Ctx& c, Error why) {
  c.refused = true;
  c.error = std::move(why);
  return Event::fail;
}

}  // namespace

Event do_rollback_preflight(Ctx& c) {
  auto p = plan_manual_rollback(c);
  if (!p) return refuse(c, p.error());
  c.leaving = p->current;
  c.run.to_version = p->previous.version;
  c.detail = "manual rollback to " + p->previous.version;
  crash_point("after_preflight");
  return Event::ok;
}

// Reverse the release being left, then put back the configs and the pointer of the snapshot
// taken before it was applied.
Event do_revert(Ctx& c) {
  const auto t0 = SteadyClock::now();
  Plan p{*c.leaving, {}};
  p.previous.version = c.run.to_version;
  auto old = load_sealed_snapshot(c.site, p.current.snapshot_id);
  Status s = old ? Status{} : Status(fail(old.error()));
  auto manifest = s ? read_kept_manifest(c.site, p.current.version) : Result<Manifest>(fail(s.error()));
  if (s && !manifest) s = fail(manifest.error());
  if (s) {
    auto r = reverse_migrations(c, *manifest, p.current.version, *old, migrations_to_reverse(c, p, *manifest));
    if (!r) s = fail(r.error());
  }
  if (s) s = restore_snapshot(c.site, *old, RestoreParts::configs_and_pointer);
  c.data["revert_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  if (!s) return c.error = s.error().reclassed(ErrorClass::rollback_failed), Event::fail;
  crash_point("after_rollback");
  return Event::ok;
}

Event do_revert_resume(Ctx& c) {
  if (do_resume(c) == Event::ok) return Event::ok;
  const auto& signals = c.data.value("signals", nlohmann::json::array());
  const std::string why = signals.empty() ? "resume hook failed" : signals.back().get<std::string>();
  c.error = Error(ErrorClass::rollback_failed, "after the manual rollback the site is unhealthy: " + why);
  return Event::fail;
}

Event do_revert_check(Ctx& c) {
  CheckRun run = run_checks(c.site, nullptr, &c.children);
  c.last_checks = run.results;
  if (run.hard_failed) {
    c.error = Error(ErrorClass::rollback_failed, "after the manual rollback the site is unhealthy: " + run.decided_by);
    return Event::hard_fail;
  }
  crash_point("after_checks");
  return Event::ok;
}

Result<RunReport> rollback(const std::string& site_toml, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "rollback");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "rollback");
  c.run = Run{new_run_id(env), RunKind::rollback, "preflight", "", installed, installed, "", "",
              c.now(),         env.started_by,    "{}"};
  auto rep = start_run(c);
  if (!rep) return fail(rep.error().with_context("rollback"));
  return rep;
}

namespace {

// The migrations of database `name` the release a snapshot puts back expects recorded, in order:
// those its manifest lists (a full release re-lists the ones of the releases before it), none
// before the first install; nullopt when that cannot be told (a [delta] release lists only its
// own, a pruned release's manifest is gone).
std::optional<std::vector<std::string>> expected_migrations(const Site& site, const std::string& release,
                                                            const std::string& name) {
  std::vector<std::string> ids;
  if (release.empty()) return ids;
  auto m = read_kept_manifest(site, release);
  if (!m || m->delta_base) return std::nullopt;
  for (const auto& mig : m->migrations)
    if (mig.database == name) ids.push_back(mig.id);
  return ids;
}

// A snapshot whose database is not at the schema version its release expects would put back a
// database and a release that do not fit each other (the snapshot was taken after migrations
// outside a release, or half-way): refused without --force, for the kinds whose version follows
// from the recorded migrations.
Status restore_guard_release(const Site& site, const SnapMeta& m, const SnapItem& it, const db::Target& t) {
  const auto ids = expected_migrations(site, m.release, it.name);
  if (!ids) return {};
  const auto after = t.schema_version_after(*ids);
  if (!after) return {};
  const std::int64_t want = after.value();
  const std::string want_last = ids->empty() ? "" : ids->back();
  if (want == it.user_version && want_last == it.last_migration) return {};
  auto last = [](const std::string& id) { return id.empty() ? "no migration" : "last migration '" + id + "'"; };
  const std::string release = m.release.empty() ? "the state before the first install" : "release " + m.release;
  return fail(ErrorClass::usage, "database '" + it.name + "' in snapshot '" + m.id + "' has schema version " +
                                     std::to_string(it.user_version) + " (" + last(it.last_migration) + "), " +
                                     release + " expects " + std::to_string(want) + " (" + last(want_last) +
                                     "); use --force to restore anyway");
}

// The guards of a restore without --force: the snapshot's schema version is its release's, and a
// target that exists and differs from the snapshot is not overwritten.
Status restore_guard_database(const Site& site, const SnapMeta& m, const SnapItem& it, const std::string& dir,
                              const std::string& id) {
  AIRLOCK_TRY(auto t, db::open_target(site.databases.at(it.name)), "snapshot restore");
  AIRLOCK_CHECK(restore_guard_release(site, m, it, *t), "snapshot restore");
  AIRLOCK_TRY(bool exists, t->exists(), "snapshot restore");
  if (!exists) return {};
  // Backup files differ from their source byte-wise: compare content, not hashes.
  AIRLOCK_TRY(auto same, t->same_content_as(dir + "/" + it.file), "snapshot restore");
  if (same) return {};
  AIRLOCK_TRY(auto now_uv, t->schema_version(), "snapshot restore");
  if (now_uv != it.user_version)
    return fail(ErrorClass::usage, "database '" + it.name + "' has schema version (user_version) " +
                                       std::to_string(now_uv) + ", snapshot '" + id + "' has " +
                                       std::to_string(it.user_version) + "; use --force to restore anyway");
  return fail(ErrorClass::usage, "db '" + it.name + "' exists ('" + it.source + "') and differs from snapshot '" + id +
                                     "'; use --force to overwrite it");
}

Status restore_guards(const Site& site, const SnapMeta& m, const std::string& dir, const std::string& id) {
  for (const auto& it : m.items) {
    if (it.absent) continue;
    if (it.kind == "db") {
      if (auto s = restore_guard_database(site, m, it, dir, id); !s) return s;
      continue;
    }
    if (!fs::exists(it.source)) continue;
    AIRLOCK_TRY(auto h, sha256_file(it.source), "snapshot restore");
    if (h != it.sha256)
      return fail(ErrorClass::usage, it.kind + " '" + it.name + "' exists ('" + it.source +
                                         "') and differs from snapshot '" + id + "'; use --force to overwrite it");
  }
  return {};
}

// A database replaced under a live connection would break whoever holds it: refused, --force or not.
Status restore_ready(const Site& site, const SnapMeta& m) {
  for (const auto& it : m.items) {
    if (it.kind != "db" || it.absent) continue;
    AIRLOCK_TRY(auto t, db::open_target(site.databases.at(it.name)), "snapshot restore");
    AIRLOCK_CHECK(t->restore_ready(), "snapshot restore");
  }
  return {};
}

}  // namespace

Event do_restore_preflight(Ctx& c) {
  const std::string id = c.data.value("restoring", std::string());
  auto loaded = load_sealed_snapshot(c.site, id);
  if (!loaded) return refuse(c, loaded.error());
  c.run.to_version = loaded->release;
  if (auto ready = restore_ready(c.site, *loaded); !ready) return refuse(c, ready.error());
  if (c.data.value("force", false) == false)
    if (auto guards = restore_guards(c.site, *loaded, c.site.state_dir + "/snapshots/" + id, id); !guards)
      return refuse(c, guards.error());
  c.restoring = std::move(*loaded);
  c.detail = "restored snapshot " + id + (c.data.value("force", false) ? " (--force)" : "");
  crash_point("after_preflight");
  return Event::ok;
}

Event do_restore(Ctx& c) {
  const auto t0 = SteadyClock::now();
  auto restored = restore_snapshot(c.site, *c.restoring);
  c.data["revert_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  if (!restored) return c.error = restored.error(), Event::fail;
  crash_point("after_restore");
  return Event::ok;
}

// A restore that failed half-way: the safety snapshot puts back the state before it. The run's
// error stays the restore's.
Event do_undo_restore(Ctx& c) {
  auto safety = load_sealed_snapshot(c.site, c.run.snapshot_id);
  Status back = safety ? restore_snapshot(c.site, *safety) : Status(fail(safety.error()));
  (void)run_hook(c, c.site.resume, "resume");
  if (!back) c.add_signal("putting back the safety snapshot failed: " + back.error().what());
  return back ? Event::ok : Event::fail;
}

Result<SnapshotInfo> snapshot_restore(const std::string& site_toml, const std::string& id, Force force,
                                      const Env& env) {
  AIRLOCK_TRY(auto o,
              open_site(site_toml, env, nullptr, force == Force::yes ? DamagedRun::discard : DamagedRun::refuse),
              "snapshot restore");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "snapshot restore");
  c.run = Run{new_run_id(env), RunKind::restore, "preflight", "", installed, installed, "", "",
              c.now(),         env.started_by,   "{}"};
  c.data["restoring"] = id;
  c.data["force"] = force == Force::yes;
  auto rep = start_run(c);
  if (!rep) return fail(rep.error().with_context("snapshot restore"));
  if (rep->outcome == Outcome::degraded) return fail(c.error->with_context("snapshot restore"));
  // Restored, but the services did not come back: the operator must look.
  if (!c.data.value("signals", nlohmann::json::array()).empty())
    return fail(ErrorClass::rollback_failed, "snapshot restore: restored snapshot " + id +
                                                 ", but the resume hook failed (" + hook_result(c, "resume") +
                                                 "); the services need an operator");
  SnapshotInfo info{id, c.restoring->created_at, c.restoring->release, 0, true};
  for (const auto& it : c.restoring->items) info.bytes += it.bytes;
  return info;
}

}  // namespace airlock::applier

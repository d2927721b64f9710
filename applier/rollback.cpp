// Going back: apply's automatic rollback, the handlers of the recover machine, and the record
// that closes every run.
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/crash.hpp"
#include "applier/files.hpp"
#include "applier/image_store.hpp"
#include "applier/migrate.hpp"
#include "applier/run.hpp"
#include "applier/services.hpp"
#include "applier/snapshot.hpp"
#include "applier/telemetry_record.hpp"
#include "applier/trust_state.hpp"
#include "core/json_text.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

}  // namespace

// A database whose reverse is missing or fails is restored from the snapshot instead of reversed.
Result<std::vector<std::string>> reverse_migrations(Ctx& c, const Manifest& manifest, const std::string& version,
                                                    const SnapMeta& snap, const std::vector<std::string>& applied) {
  std::vector<std::string> restore;
  auto marked = [&](const std::string& d) { return std::find(restore.begin(), restore.end(), d) != restore.end(); };
  auto ours = [&](const std::string& id) { return std::find(applied.begin(), applied.end(), id) != applied.end(); };
  std::string payload = release_dir(c.site, version);
  const auto& migs = manifest.migrations;
  int n = 0;
  for (auto it = migs.rbegin(); it != migs.rend(); ++it) {
    // A migration the release re-lists but an earlier release applied belongs to that one.
    if (marked(it->database) || !ours(it->id)) continue;
    const auto& target = c.site.databases.at(it->database);
    auto recorded = migration_recorded(target, it->id);
    if (recorded && !*recorded) continue;
    Status s = recorded ? Status{} : fail(recorded.error());
    if (s && !it->down) s = fail(ErrorClass::rollback_failed, "migration " + it->id + " is irreversible");
    if (s) {
      auto sql = read_file(payload + "/" + *it->down, 64 << 20, ErrorClass::io);
      auto ran = sql ? run_migration({target, it->id, version, *sql, Direction::down, c.site.migration_timeout_ms})
                     : Result<bool>(fail(sql.error()));
      s = ran ? Status{} : Status(fail(ran.error()));
    }
    if (!s) {
      c.emit("rollback", "reverse of " + it->id + " not possible (" + s.error().what() + "); restoring database '" +
                             it->database + "' from the snapshot");
      restore.push_back(it->database);
    } else {
      c.emit("rollback", "reversed migration " + it->id);
    }
    if (++n == 1) crash_point("mid_rollback");
  }
  for (const auto& d : restore) AIRLOCK_CHECK(restore_database(c.site, snap, d), "rollback");
  return restore;
}

namespace {

Outcome outcome_of(const Ctx& c, Phase terminal) {
  if (c.run.kind == RunKind::discard) return Outcome::discarded;
  if (c.refused) return Outcome::refused;
  if (terminal == Phase::degraded) return Outcome::degraded;
  if (c.recovering) return terminal == Phase::done ? Outcome::recovered_new : Outcome::recovered_old;
  if (terminal == Phase::rolled_back) return Outcome::rolled_back;
  if (terminal != Phase::done) return Outcome::aborted;
  if (c.run.kind == RunKind::rollback) return Outcome::reverted;
  return c.run.kind == RunKind::restore ? Outcome::restored : Outcome::applied;
}

std::vector<std::string> applied_migrations(const Ctx& c) {
  std::vector<std::string> ids;
  for (const auto& id : c.data.value("applied_migrations", json::array()))
    if (id.is_string()) ids.push_back(id.get<std::string>());
  return ids;
}

Status record_release(Ctx& c) {
  if (c.run.kind == RunKind::rollback) {
    AIRLOCK_CHECK(c.st.return_to(c.run.to_version), "recording the manual rollback");
  } else if (c.run.kind == RunKind::restore) {  // no health was proved: the degraded mark stays as it is
    AIRLOCK_CHECK(c.st.rewind_to(c.run.to_version), "recording the restore");
    return c.st.set("installed", c.run.to_version);
  } else {
    ReleaseRow row;
    row.version = c.run.to_version;
    row.installed_at = c.now();
    row.rollback_to = c.data.value("rollback_to", std::string());
    row.snapshot_id = c.run.snapshot_id;
    row.images = dump_json(c.data.value("images", json::array()));
    row.migrations = applied_migrations(c);
    AIRLOCK_CHECK(c.st.add_release(row), "recording the release");
  }
  // A degraded site stays marked until an operator acknowledges it (`airlock ack`), even after a
  // healthy manual rollback: the acknowledgement is the record that someone repaired it.
  return c.st.set("installed", c.run.to_version);
}

std::optional<std::int64_t> data_int(const Ctx& c, const char* key) {
  auto it = c.data.find(key);
  if (it == c.data.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

Status write_record(Ctx& c, Phase terminal, const std::string& detail, Outcome outcome) {
  json signals = c.data.value("signals", json::array());
  const auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  HistoryRecord h{c.run.run_id,
                  c.run.started_at,
                  c.now(),
                  c.run.from_version,
                  c.run.to_version,
                  outcome,
                  detail,
                  dump(c.data.value("steps", json::array())),
                  c.run.started_by,
                  c.signal_to_rollback_ms,
                  data_int(c, "revert_ms"),
                  c.run.snapshot_id};
  AIRLOCK_CHECK(c.st.add_history(h), "recording");
  AIRLOCK_CHECK(keep_telemetry(c, outcome), "recording");
  json entry = {{"run", c.run.run_id},    {"kind", run_kind_name(c.run.kind)}, {"from", c.run.from_version},
                {"to", c.run.to_version}, {"outcome", outcome_name(outcome)},  {"detail", detail},
                {"signals", signals}};
  if (h.revert_ms) entry["revert_ms"] = *h.revert_ms;
  if (!h.snapshot_id.empty()) entry["snapshot"] = h.snapshot_id;
  AIRLOCK_TRY(auto head, audit_append(c.st, c.now(), run_kind_name(c.run.kind), dump(entry)), "recording");
  (void)head;
  if (terminal == Phase::done) AIRLOCK_CHECK(record_release(c), "recording");
  if (terminal == Phase::degraded) AIRLOCK_CHECK(c.st.mark_degraded(c.now()), "recording");
  return c.st.end_run();
}

}  // namespace

namespace {

// Reverse migrations (or database restores), then configs and pointer from the snapshot.
Status undo_targets(Ctx& c, const SnapMeta& snap) {
  if (c.manifest) {
    auto r = reverse_migrations(c, *c.manifest, c.run.to_version, snap, applied_migrations(c));
    if (!r) return fail(r.error());
  }
  return restore_snapshot(c.site, snap, RestoreParts::configs_and_pointer);
}

}  // namespace

Event do_rollback(Ctx& c) {
  if (c.signal_at) {
    c.signal_to_rollback_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - *c.signal_at).count();
    c.data["signal_to_rollback_ms"] = *c.signal_to_rollback_ms;
  }
  const auto t0 = SteadyClock::now();
  // The revert's own duration, whatever way it ends.
  struct Stopwatch {
    Ctx& c;
    SteadyClock::time_point t0;
    ~Stopwatch() {
      c.data["revert_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
    }
  } stopwatch{c, t0};
  c.emit("rollback",
         "rolling back to " + (c.run.from_version.empty() ? std::string("nothing installed") : c.run.from_version));
  auto snap = load_sealed_snapshot(c.site, c.run.snapshot_id);
  Status s = snap ? undo_targets(c, *snap) : Status(fail(snap.error()));
  // Every step of the undo is idempotent, so an I/O error (a transient EIO, a burst that filled the
  // disk) gets one more attempt before the site is declared degraded: the io_faults sweep found a
  // single failed write while restoring the config or the pointer left the site half rolled back.
  if (!s && snap && s.error().cls() == ErrorClass::io) {  // a snapshot that did not load is not retried
    c.emit("rollback", "retrying the rollback after an I/O error: " + s.error().what());
    s = undo_targets(c, *snap);
  }
  if (!s) {
    c.error = s.error().reclassed(ErrorClass::rollback_failed).with_context("rolling back");
    return Event::fail;
  }
  crash_point("after_rollback");
  bool resumed = run_hook(c, c.site.images, "images") && run_hook(c, c.site.resume, "resume");
  Status services = restore_services(c, Restore::replaced);
  CheckRun run = run_checks(c.site, &c.baseline, &c.children);
  // Reverse migrations undo the schema, not every data change: when the old release is still not
  // healthy, fall back to the snapshot for every database, then prove health again.
  if (resumed && run.hard_failed && !c.run.from_version.empty()) {
    c.emit("rollback", "still unhealthy after reverse migrations (" + run.decided_by +
                           "); restoring every database from the snapshot");
    for (const auto& [name, _] : c.site.databases)
      if (auto r = restore_database(c.site, *snap, name); !r) {
        c.error = r.error().reclassed(ErrorClass::rollback_failed).with_context("rolling back");
        return Event::fail;
      }
    run = run_checks(c.site, &c.baseline, &c.children);
  }
  c.last_checks = run.results;
  // Back to "nothing installed": there is no old release whose health could be proved.
  if (c.run.from_version.empty()) run.hard_failed = false;
  if (!resumed || !services || run.hard_failed) {
    std::string why = !resumed ? "resume hook failed" : !services ? services.error().what() : run.decided_by;
    c.error = Error(ErrorClass::rollback_failed, "after rolling back, the site is still unhealthy: " + why);
    return Event::fail;
  }
  c.emit("rollback", "rolled back; health checks pass");
  return Event::ok;
}

Event do_record(Ctx& c) {
  // Only a bundle carries a trust update; a rollback or restore leaves the trust root alone.
  if (auto s = c.run.kind == RunKind::apply ? record_trust_update(c) : Status{}; !s) {
    c.error = s.error();
    return Event::fail;
  }
  crash_point("before_record");
  return Event::ok;
}

namespace {

// The image index follows the pointer and the releases still kept (a crash between the pointer
// and the index switch is repaired here); a healthy apply then drops the blobs nothing reaches.
// Recorded already: a failure here is reported, never undoes the run.
void close_image_store(Ctx& c, Outcome outcome) {
  Status s = sync_image_index(c.site);
  if (s && outcome == Outcome::applied) {
    auto gc = gc_image_store(c.site, DryRun::no);
    if (gc && !gc->removed.empty())
      c.emit("images", "gc removed " + std::to_string(gc->removed.size()) + " blobs no kept release needs");
    if (!gc) s = fail(gc.error());
  }
  if (!s) c.emit("images", "image store: " + s.error().what());
}

}  // namespace

Result<RunReport> finalize(Ctx& c, Phase terminal, const std::string& detail) {
  const Outcome outcome = outcome_of(c, terminal);
  AIRLOCK_CHECK(c.st.begin(), "recording");
  // A scheduled job's run closes its job in the same transaction as its record.
  if (auto s =
          write_record(c, terminal, detail, outcome).and_then([&] { return close_job_of_run(c, outcome, detail); });
      !s) {
    c.st.rollback_tx();
    return fail(s.error());
  }
  AIRLOCK_CHECK(c.st.commit(), "recording");
  crash_point("after_record");
  (void)remove_tree(staging_dir(c.site, c.run.run_id));
  if (auto rels = c.st.releases()) prune_retained(c.site, *rels);
  close_image_store(c, outcome);
  if (!run_hook(c, c.site.notify, "notify", outcome_name(outcome), detail)) {
    // Recorded; changes nothing else.
    (void)audit_append(c.st, c.now(), "notify-failed", dump_json(json({{"run", c.run.run_id}})));
  }
  RunReport r;
  r.kind = run_kind_name(c.run.kind);
  r.outcome = outcome;
  r.from_version = c.run.from_version;
  r.to_version = c.run.to_version;
  r.checks = c.last_checks;
  for (const auto& s : c.data.value("signals", json::array())) r.failing_signals.push_back(s.get<std::string>());
  r.signal_to_rollback_ms = c.signal_to_rollback_ms;
  health_times(c.data, r);
  AIRLOCK_TRY(auto log, audit_read(c.st), "audit");
  r.audit_head = log.head;
  return r;
}

constexpr int kMaxRecoverAttempts = 3;

namespace {

// "crashed during apply", or what is known of a damaged record.
std::string crash_what(const Ctx& c) {
  if (c.data.contains("damaged")) return c.data.value("damaged", std::string());
  return std::string("crashed during ") + phase_name(*c.crashed_phase);
}

std::string old_state(const Ctx& c) {
  return c.run.from_version.empty() ? std::string("nothing installed") : c.run.from_version;
}

// A failing disk is not a verdict on the site: the run stays in the journal and the next recover
// (or command) restores again, which is idempotent. Recorded as degraded, the half restored site
// would never be looked at again. A disk that keeps failing, though, would keep the run pending
// forever and block every command on the site, the operator's `snapshot restore --force`
// included: after kMaxRecoverAttempts failed restores the site is recorded degraded.
Event restore_failed(Ctx& c, const Error& e) {
  const std::string what = crash_what(c);
  if (e.cls() != ErrorClass::io) {
    c.detail = what + "; restoring the snapshot failed: " + e.what();
    return Event::fail;
  }
  const int failures = c.data.value("recover_io_failures", 0) + 1;
  if (failures < kMaxRecoverAttempts) {
    c.data["recover_io_failures"] = failures;
    c.error =
        e.with_context("recovering (attempt " + std::to_string(failures) + " of " +
                       std::to_string(kMaxRecoverAttempts) + "; the interrupted run stays pending; run recover again)");
    return Event::postpone;
  }
  c.detail = what + "; restoring the snapshot failed " + std::to_string(failures) +
             " times, the site needs an operator: " + e.what();
  return Event::fail;
}

}  // namespace

Event do_stop_orphans(Ctx& c) {
  stop_orphans(c, c.run);  // a hook still running from the killed run must not race recovery
  switch (recovery_of(c.run.kind, *c.crashed_phase)) {
    case Recovery::discard:
      return Event::discard;
    case Recovery::finish_new:
      return Event::finish_new;
    case Recovery::close:
      return Event::close;
    case Recovery::restore_old:
      break;
  }
  return Event::restore_old;
}

Event do_recover_discard(Ctx& c) {
  (void)remove_tree(staging_dir(c.site, c.run.run_id));
  if (*c.crashed_phase == Phase::drain) (void)run_hook(c, c.site.resume, "resume");
  crash_point("recover_before_record");
  c.detail = crash_what(c) + (is_terminal(*c.crashed_phase) ? "; finished the record" : "; nothing had been changed");
  return Event::ok;
}

Event do_finish_new(Ctx& c) {
  const bool ended = is_terminal(*c.crashed_phase);  // the record phase had run: only the record is missing
  if (!ended && do_record(c) != Event::ok) {
    c.error = c.error->with_context("recovering");
    return Event::postpone;
  }
  c.detail = crash_what(c) + (ended ? "; finished the record" : "; the new state was complete and healthy");
  return Event::ok;
}

Event do_close(Ctx& c) {
  c.detail = crash_what(c) + "; finished the record";
  return *c.crashed_phase == Phase::degraded ? Event::fail : Event::ok;
}

Event do_restore_old(Ctx& c) {
  const std::string what = crash_what(c);
  auto snap = load_sealed_snapshot(c.site, c.run.snapshot_id);
  if (!snap) {
    c.detail = what + "; snapshot unusable: " + snap.error().what();
    return Event::fail;
  }
  if (auto s = restore_snapshot(c.site, *snap); !s) return restore_failed(c, s.error());
  (void)run_hook(c, c.site.resume, "resume");
  Status services = restore_services(c, Restore::replaced);
  CheckRun run = run_checks(c.site, &c.baseline, &c.children);
  c.last_checks = run.results;
  crash_point("recover_before_record");
  if (!services) {
    c.detail = what + "; restored, but " + services.error().what();
    return Event::fail;
  }
  if (run.hard_failed && !c.run.from_version.empty()) {
    c.detail = what + "; restored, but " + run.decided_by;
    return Event::fail;
  }
  c.detail = what + "; restored the snapshot of " + old_state(c);
  return Event::ok;
}

Result<RunReport> recover_locked(Ctx& c, const Run& crashed) {
  c.run = crashed;
  c.recovering = true;
  c.data = json::parse(crashed.data.empty() ? "{}" : crashed.data, nullptr, false);
  if (c.data.is_discarded() || !c.data.is_object()) c.data = json::object();
  if (c.data.contains("baseline")) c.baseline = c.data["baseline"].get<Baseline>();
  if (!c.data["steps"].is_array()) c.data["steps"] = json::array();
  // A recovery that was itself interrupted starts again from where the run had crashed.
  const std::string from = c.data.value("recovering_from", crashed.phase);
  c.crashed_phase = parse_phase(from).value_or(Phase::apply);
  c.data["recovering_from"] = phase_name(*c.crashed_phase);
  c.emit("recover", std::string("found an interrupted ") + run_kind_name(crashed.kind) + " (" + crash_what(c) + ")");
  return drive(c, first_phase(RunKind::recover));
}

}  // namespace airlock::applier

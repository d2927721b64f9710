// The orchestrator: lock, recover leftovers, then drive the state machine, journaling each phase
// before it runs. Also the read-only queries (status, history, audit) and snapshot commands.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "applier/audit.hpp"
#include "applier/audit_spool.hpp"
#include "applier/crash.hpp"
#include "applier/degraded.hpp"
#include "applier/feed_store.hpp"
#include "applier/files.hpp"
#include "applier/lifecycle.hpp"
#include "applier/lock.hpp"
#include "applier/run.hpp"
#include "applier/snapshot.hpp"
#include "applier/staged.hpp"
#include "applier/staged_store.hpp"
#include "applier/trust_state.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A phase that throws has failed: the table decides what follows (a rollback from drain on), so
// no exception ever leaves the state machine with the site half changed.
Event run_phase(Ctx& c, Phase p) {
  try {
    const Handler h = handler_of(c.machine(), p);
    if (!h) throw std::logic_error(std::string("no handler for phase ") + phase_name(p));
    return h(c);
  } catch (const std::exception& e) {
    c.error = Error(ErrorClass::internal, std::string("the ") + phase_name(p) + " phase failed: " + e.what());
  } catch (...) {
    c.error = Error(ErrorClass::internal, std::string("the ") + phase_name(p) + " phase failed");
  }
  // A failure of the undo or the record is the run's error, not a signal that caused an undo.
  if (p != Phase::rollback && p != Phase::record && !c.recovering) c.add_signal(c.error->what());
  return Event::fail;
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

namespace {

// After a phase that went well: a termination signal turns into Event::interrupted where the
// table has a transition for it (see state_machine.cpp), and is ignored where it has none.
Event check_interrupt(Ctx& c, Phase p) {
  const int sig = c.env.interrupted();
  const auto next = next_phase(c.machine(), p, Event::interrupted);
  if (sig == 0 || !next) return Event::ok;
  const std::string what = "interrupted by " + signal_name(sig) + " after the " + phase_name(p) + " phase";
  if (*next == Phase::aborted) {
    c.error = Error(ErrorClass::preflight, what + "; nothing was changed");
  } else {
    c.add_signal(what);
  }
  c.emit(phase_name(p), what);
  return Event::interrupted;
}

}  // namespace

namespace {

// What the record says: the error, else what the run did and the signals it met (a recovery
// says only how it recovered: the crashed run's signals were its own), else soft failures.
std::string record_detail(const Ctx& c) {
  if (c.error) return c.error->what();
  std::string detail = c.detail;
  if (!c.recovering)
    for (const auto& sig : c.data.value("signals", nlohmann::json::array()))
      if (sig.is_string()) detail += (detail.empty() ? "" : "; ") + sig.get<std::string>();
  if (detail.empty() && c.data.contains("soft_failures") && !c.data["soft_failures"].empty())
    detail = "soft failures: " + dump_json(c.data["soft_failures"]);
  return detail;
}

}  // namespace

Result<RunReport> drive(Ctx& c, Phase start) {
  Phase p = start, last = start;
  for (int i = 0; i < kMaxTransitions && !is_terminal(p); ++i) {
    AIRLOCK_CHECK(c.journal(p), "journal");
    c.emit(phase_name(p), std::string("phase ") + phase_name(p));
    auto t0 = SteadyClock::now();
    Event ev = run_phase(c, p);
    if (ev == Event::ok) ev = check_interrupt(c, p);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
    c.data["steps"].push_back({{"phase", phase_name(p)}, {"ms", ms}, {"ok", ev == Event::ok}});
    auto next = next_phase(c.machine(), p, ev);
    if (!next) return fail(ErrorClass::internal, std::string("no transition from ") + phase_name(p));
    last = p;
    p = *next;
  }
  if (!is_terminal(p)) return fail(ErrorClass::internal, "state machine did not terminate");
  if (p == Phase::pending) {
    (void)c.journal(last);  // best effort: what the next attempt needs (a failing disk just retries)
    return fail(c.error ? *c.error : Error(ErrorClass::internal, "the run stopped without a reason"));
  }
  AIRLOCK_CHECK(c.journal(p), "journal");
  AIRLOCK_TRY(auto rep, finalize(c, p, record_detail(c)), "recording");
  // Failures before the first write are errors of their own class (nothing changed).
  if (p == Phase::aborted && c.error) return fail(*c.error);
  if (p == Phase::degraded && c.error) rep.failing_signals.push_back(c.error->what());
  return rep;
}

Result<RunReport> start_run(Ctx& c) {
  c.data["steps"] = json::array();
  c.data["signals"] = json::array();
  AIRLOCK_CHECK(c.st.begin_run(c.run), run_kind_name(c.run.kind));
  return drive(c, first_phase(c.run.kind));
}

std::string new_run_id(const Env& env) {
  Timestamp t = env.now();
  std::string s = format_rfc3339(Timestamp{t.unix_seconds, 0, 0});  // 2026-03-12T10:00:00Z
  std::string id;
  for (char ch : s)
    if (std::isalnum(static_cast<unsigned char>(ch))) id += ch;
  // Two runs within one second of one process (apply then rollback) must not share an id: the id
  // names the snapshot folder.
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%04x%u", rd() & 0xffffu, counter++);
  return id + "-" + std::to_string(::getpid()) + "-" + suffix;
}

namespace {
// Drops what a finished run may leave behind (staging folders, unsealed snapshots).
void sweep_leftovers(const Site& site) {
  std::error_code ec;
  fs::remove_all(site.state_dir + "/staging", ec);
  sweep_staged_partials(site);  // complete staged releases stay
  for (const auto& e : fs::directory_iterator(snapshots_dir(site), ec))
    if (e.path().filename().string().ends_with(".partial")) fs::remove_all(e.path(), ec);
}
}  // namespace

namespace {

// A run record that failed its checks, as far as it can be read: a run whose only reliable fact is
// its snapshot, restored like any crashed run that had started changing the site.
Result<Run> salvaged_run(Ctx& c, const Error& damage, DamagedRun mode) {
  AIRLOCK_TRY(auto s, c.st.salvage_run(), "state");
  Run r{s.run_id.empty() ? new_run_id(c.env) : s.run_id,
        RunKind::apply,
        "apply",
        "",
        "",
        "",
        s.snapshot_id.value_or(""),
        "",
        c.now(),
        c.env.started_by,
        dump_json(nlohmann::json({{"damaged", s.damage}}))};
  if (mode == DamagedRun::discard) {
    r.kind = RunKind::discard;
    return r;
  }
  if (!s.snapshot_id)
    return fail(damage.reclassed(ErrorClass::io)
                    .with_note("; its snapshot_id is unreadable too: put the site back with 'airlock snapshot "
                               "restore ID --force'"));
  AIRLOCK_TRY(auto snap, load_sealed_snapshot(c.site, *s.snapshot_id), "recovering a damaged run record");
  r.from_version = r.to_version = snap.release;
  return r;
}

}  // namespace

// Loads the site, takes the lock, opens state.db and recovers a crashed run if there is one.
Result<Opened> open_site(const std::string& site_toml, const Env& env, std::optional<RunReport>* recovered,
                         DamagedRun damaged) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "site");
  AIRLOCK_TRY(auto lock, SiteLock::acquire(site.state_dir), "site '" + site.name + "'");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "site '" + site.name + "'");
  Opened o{std::make_unique<Ctx>(std::move(site), env, std::move(st)), std::move(lock)};
  // Entries the site could not take when they happened are recorded first, before a recovery's,
  // in the order they happened. A spool of another version is left as it is, and said; an I/O
  // error stops the command, as any other would.
  if (auto n = drain_audit_spool(o.ctx->site, o.ctx->st, o.ctx->now()); !n) {
    if (n.error().cls() != ErrorClass::malformed) return fail(n.error().with_context("site"));
    o.ctx->emit("audit", n.error().what());
  }
  auto crashed = o.ctx->st.active_run();
  if (!crashed && (damaged == DamagedRun::refuse || crashed.error().cls() != ErrorClass::io))
    return fail(crashed.error().with_context("site"));
  if (!crashed) {
    AIRLOCK_TRY(auto run, salvaged_run(*o.ctx, crashed.error(), damaged), "site");
    if (damaged == DamagedRun::discard) {
      o.ctx->run = run;
      AIRLOCK_TRY(auto rep,
                  finalize(*o.ctx, Phase::aborted, "discarded a damaged run record: " + crashed.error().what()),
                  "site");
      (void)rep;
      o.ctx = std::make_unique<Ctx>(o.ctx->site, env, std::move(o.ctx->st));
    } else {
      crashed = std::optional<Run>(std::move(run));
    }
  }
  if (crashed && *crashed) {
    AIRLOCK_TRY(auto rep, recover_locked(*o.ctx, **crashed), "recovering an interrupted run");
    if (recovered) *recovered = rep;
    o.ctx = std::make_unique<Ctx>(o.ctx->site, env, std::move(o.ctx->st));
  }
  sweep_leftovers(o.ctx->site);
  return o;
}

void Ctx::add_signal(const std::string& s) {
  if (!signal_at) signal_at = SteadyClock::now();
  data["signals"].push_back(s);
}

Status Ctx::journal(Phase p) {
  run.phase = phase_name(p);
  run.data = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return st.set_phase(run, now());
}

std::string staging_dir(const Site& s, const std::string& run_id) { return s.state_dir + "/staging/" + run_id; }
std::string release_dir(const Site& s, const std::string& version) { return s.state_dir + "/releases/" + version; }
std::string kept_manifest_path(const Site& s, const std::string& version) {
  return release_dir(s, version) + ".manifest.toml";
}

Result<Manifest> read_kept_manifest(const Site& s, const std::string& version) {
  std::string path = kept_manifest_path(s, version);
  // Releases kept before the manifest moved out of the payload folder have it inside.
  if (!fs::exists(path)) path = release_dir(s, version) + "/.airlock-manifest.toml";
  AIRLOCK_TRY(auto text, read_file(path, kMaxManifestBytes, ErrorClass::io), "the kept manifest of " + version);
  return parse_manifest(text);
}

Result<RunReport> apply(const std::string& site_toml, const std::string& bundle_path, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "apply");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "apply");
  std::string id = new_run_id(env);
  c.run = Run{id,          RunKind::apply,
              "preflight", fs::absolute(bundle_path).string(),
              installed,   "",
              "",          staging_dir(c.site, id),
              c.now(),     env.started_by,
              "{}"};
  return start_run(c);
}

Result<RunReport> recover(const std::string& site_toml, const Env& env) {
  std::optional<RunReport> rep;
  AIRLOCK_TRY(auto o, open_site(site_toml, env, &rep, DamagedRun::recover), "recover");
  if (rep) return *rep;
  RunReport none;
  none.outcome = Outcome::nothing_to_do;
  AIRLOCK_TRY(none.from_version, o.ctx->st.get("installed"), "recover");
  none.to_version = none.from_version;
  AIRLOCK_TRY(auto log, audit_read(o.ctx->st), "recover");
  none.audit_head = log.head;
  return none;
}

Result<SiteStatus> status(const std::string& site_toml, const Env& env) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "status");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "status");
  SiteStatus s;
  s.site_name = site.name;
  s.product = site.product;
  for (const auto& [name, spec] : site.databases) s.databases[name] = spec.location;
  s.configs = site.configs;
  s.state_dir = site.state_dir;
  s.trust_root = site.trust_root;
  AIRLOCK_TRY(s.installed, st.get("installed"), "status");
  AIRLOCK_TRY(auto since, st.degraded_since(), "status");
  s.degraded = since.has_value();
  s.degraded_since = since.value_or("");
  s.pointer = read_pointer(site.state_dir);
  AIRLOCK_TRY(auto imgs, st.current_images(), "status");
  auto j = json::parse(imgs, nullptr, false);
  if (j.is_array())
    for (const auto& i : j)
      if (i.is_object()) s.images.push_back(i.value("ref", "") + "@" + i.value("digest", ""));
  auto run = st.active_run();
  if (!run && run.error().cls() != ErrorClass::io) return fail(run.error().with_context("status"));
  if (!run) s.pending_phase = "(damaged run record)";
  if (run && *run) s.pending_phase = (*run)->phase;
  // A run row with the lock held elsewhere is a live run, not a crashed one.
  s.running = s.pending_phase && SiteLock::held_elsewhere(site.state_dir);
  AIRLOCK_TRY(auto log, audit_read(st), "status");
  s.audit_head = log.head;
  s.audit_entries = static_cast<std::int64_t>(log.entries.size());
  const Timestamp now = env.now();
  AIRLOCK_TRY(s.critical, pending_critical(st, s.installed, now), "status");
  std::vector<StagedRelease> staged;
  if (!s.critical.empty()) {
    AIRLOCK_TRY(staged, list_staged(site), "status");
  }
  for (auto& cr : s.critical) {
    AIRLOCK_TRY(auto fix, staged_fix(site, staged, cr.version, s.installed), "status");
    if (!fix) continue;
    cr.staged_fix = fix->release.sha256;
    cr.needs_operator = fix->breaking;
  }
  AIRLOCK_TRY(s.trust_expiry, trust_expiry(site, now), "status");
  AIRLOCK_TRY(auto feed, accepted_feed(site), "status");
  if (feed.accepted) {
    s.feed_serial = feed.accepted->feed.serial;
    s.feed_published = format_rfc3339(feed.accepted->feed.published);
    s.feed_sha256 = feed.accepted->sha256;
  }
  AIRLOCK_TRY(s.scheduled, scheduled_status(site, st), "status");
  return s;
}

Result<std::vector<HistoryEntry>> history(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "history");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "history");
  return st.history();
}

namespace {

// The audit commands only read (beside a running apply, or on a copy of a state folder): what
// waits in the spool is counted, and recorded by the next command that opens the site.
Result<AuditExport> read_audit(const Site& site, StateDb& st) {
  AIRLOCK_TRY(auto exported, audit_read(st), "audit log");
  exported.spooled = count_spooled(site);
  return exported;
}

}  // namespace

Result<AuditExport> audit_export(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "audit");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "audit");
  return read_audit(site, st);
}

Result<AuditExport> audit_verify(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "audit verify");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "audit verify");
  AIRLOCK_TRY(auto log, read_audit(site, st), "audit verify");
  AIRLOCK_CHECK(audit_check_site(st, log), "audit verify");
  return log;
}

Result<SnapshotInfo> snapshot_create(const std::string& site_toml, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "snapshot create");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "snapshot create");
  std::string id = "manual-" + new_run_id(env);
  AIRLOCK_TRY(auto m, take_snapshot(c.site, id, c.now(), installed), "snapshot create");
  if (auto h = audit_append(c.st, c.now(), "snapshot-create", dump_json(json({{"id", id}}))); !h) {
    // Reported as failed, so not kept: a restorable snapshot the audit log does not know of.
    (void)remove_tree(snapshots_dir(c.site) + "/" + id);
    return fail(h.error().with_context("snapshot create"));
  }
  SnapshotInfo info{id, m.created_at, installed, 0, true};
  for (const auto& it : m.items) info.bytes += it.bytes;
  return info;
}

Result<std::vector<SnapshotInfo>> snapshot_list(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "snapshot list");
  return list_snapshots(site);
}

}  // namespace airlock::applier

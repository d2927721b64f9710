// The forward phases of an apply: preflight, verify, snapshot, drain, apply, resume, check
// (snapshot, drain and resume serve the manual rollback and the restore too). Nothing is written to
// the site's targets before `apply`; everything `apply` needs (config deltas with all
// preconditions checked) is planned in `verify`.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "applier/audit.hpp"
#include "applier/config_apply.hpp"
#include "applier/crash.hpp"
#include "applier/degraded.hpp"
#include "applier/feed_store.hpp"
#include "applier/files.hpp"
#include "applier/image_store.hpp"
#include "applier/lifecycle.hpp"
#include "applier/migrate.hpp"
#include "core/sys/process.hpp"
#include "applier/run.hpp"
#include "applier/services.hpp"
#include "applier/snapshot.hpp"
#include "applier/staged.hpp"
#include "applier/trust_state.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"
#include "verifier/verifier.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;

// Room kept free beyond what a step needs, so the state database can still commit.
constexpr std::uint64_t kRoomMargin = 1 << 20;

Event failed(Ctx& c, Error e) {
  c.error = std::move(e);
  return Event::fail;
}

// A site with nothing installed may start without its databases: the first release creates their
// schema, so an empty database is made. Otherwise a missing one is a preflight failure.
Status check_database(const db::TargetSpec& spec, bool first_install) {
  AIRLOCK_TRY(auto t, db::open_target(spec), "database '" + spec.name + "'");
  auto ready = t->ready(first_install ? db::Missing::create : db::Missing::refuse);
  if (!ready) return fail(ready.error().reclassed(ErrorClass::preflight));
  return {};
}

Status room_for(const std::string& dir, std::uint64_t need, const std::string& what, ErrorClass cls) {
  AIRLOCK_TRY(auto free, free_bytes(dir), what);
  if (free < need + kRoomMargin)
    return fail(cls, "not enough room for " + what + " in '" + dir + "': need " + std::to_string(need + kRoomMargin) +
                         " bytes, " + std::to_string(free) + " free");
  return {};
}

// The bundle may only name databases and config targets the site has.
Status check_targets(const Site& site, const Manifest& m) {
  for (const auto& mig : m.migrations)
    if (!site.databases.count(mig.database))
      return fail(ErrorClass::policy, "migration '" + mig.id + "' targets database '" + mig.database +
                                          "', which site '" + site.name + "' does not have");
  for (const auto& cd : m.config)
    if (!site.configs.count(cd.target))
      return fail(ErrorClass::policy,
                  "config delta targets '" + cd.target + "', which site '" + site.name + "' does not have");
  return {};
}

Status plan_configs(Ctx& c, const std::string& staging) {
  c.configs.clear();
  for (const auto& cd : c.manifest->config) {
    const std::string& path = c.site.configs.at(cd.target);
    AIRLOCK_TRY(auto patch, read_file(staging + "/" + cd.patch, 4 << 20, ErrorClass::io), "config '" + cd.target + "'");
    std::string current;
    if (fs::exists(path)) {
      AIRLOCK_TRY(current, read_file(path, 16 << 20, ErrorClass::io), "config '" + cd.target + "'");
    }
    // Several deltas may target one file: plan on top of the planned text.
    for (const auto& p : c.configs)
      if (p.name == cd.target) current = p.new_text;
    AIRLOCK_TRY(auto next, apply_config_delta(current, patch), "config delta for '" + cd.target + "' ('" + path + "')");
    c.configs.push_back({cd.target, path, std::move(next)});
  }
  return {};
}

// On a site with something installed every config file is there: a missing one is a typo in
// site.toml, and a delta would otherwise create it holding only its own keys.
Status check_configs(const Site& site, bool first_install) {
  if (first_install) return {};
  for (const auto& [name, path] : site.configs)
    if (!fs::exists(path))
      return fail(ErrorClass::preflight, "config '" + name + "': file '" + path + "' does not exist");
  return {};
}

// What must hold before verify and snapshot spend any time: the bundle is there and every hook
// and exec check can start (a resume hook that cannot would fail every apply after its apply).
Status check_startable(const Ctx& c) {
  std::error_code ec;
  if (!fs::exists(c.run.bundle, ec) && !fs::exists(c.run.bundle + ".part0001", ec))
    return fail(ErrorClass::preflight, "bundle '" + c.run.bundle + "' does not exist");
  if (auto why = unrunnable_child(c.site)) return fail(ErrorClass::preflight, *why);
  return {};
}

// After a failed drain some services may be stopped: resume is always attempted.
std::string resume_after_failed_drain(Ctx& c) {
  if (run_hook(c, c.site.resume, "resume")) return "";
  return "; the resume hook failed too (" + hook_result(c, "resume") + ")";
}

// Kept with the run (history's steps) and shown: which channel the release was applied under.
void note_feed_match(Ctx& c, const verifier::FeedMatch& m) {
  const std::string serial = std::to_string(c.env.feed->feed.serial);
  c.data["feed"] = {{"serial", c.env.feed->feed.serial},
                    {"entry", m.entry ? m.entry->file : ""},
                    {"channel", channel_name(m.channel)},
                    {"channel_source", verifier::channel_source_name(m.channel_source)},
                    {"critical", m.critical}};
  c.emit("verify", std::string("channel ") + channel_name(m.channel) + " from the " +
                       verifier::channel_source_name(m.channel_source) + " (feed serial " + serial + ")" +
                       (m.entry ? ", entry " + m.entry->file : ", the feed does not list this release"));
}

// Kept with the run for its telemetry row (applier/telemetry.hpp): which checks failed, by name
// and kind only (their details may hold anything).
void note_failed_checks(Ctx& c, const std::vector<CheckResult>& results) {
  auto& out = c.data["failed_checks"] = nlohmann::json::array();
  for (const auto& r : results)
    if (!r.ok && !r.skipped) out.push_back({{"name", r.name}, {"kind", r.kind}, {"hard", r.hard}});
}

}  // namespace

Event do_preflight(Ctx& c) {
  if (auto s = refuse_if_degraded(c.st, c.site); !s) {
    c.refused = true;
    return failed(c, s.error());
  }
  if (auto s = check_startable(c); !s) return failed(c, s.error());
  if (auto s = check_configs(c.site, c.run.from_version.empty()); !s) return failed(c, s.error());
  // An unreadable or malformed trust root is the site's configuration: a usage error (spec §8).
  auto trust = read_file(c.site.trust_root, kMaxTrustRootBytes, ErrorClass::usage);
  if (!trust) return failed(c, trust.error().reclassed(ErrorClass::usage).with_context("trust root"));
  auto parsed = parse_trust_root(*trust, ErrorClass::usage);
  if (!parsed) return failed(c, parsed.error().with_context("trust root '" + c.site.trust_root + "'"));
  for (const auto& [name, spec] : c.site.databases)
    if (auto s = check_database(spec, c.run.from_version.empty()); !s) return failed(c, s.error());
  if (auto s = room_for(c.site.state_dir, snapshot_size_estimate(c.site), "the snapshot", ErrorClass::io); !s)
    return failed(c, s.error());
  CheckRun run = run_checks(c.site, nullptr, &c.children, CheckMode::measure);
  c.last_checks = run.results;
  // With nothing installed there is no service to be healthy yet: checks only measure.
  if (run.hard_failed && !c.run.from_version.empty())
    return note_failed_checks(c, run.results),
           failed(c, Error(ErrorClass::preflight, "health checks fail before anything is applied: " + run.decided_by));
  c.baseline = run.measured;
  c.data["baseline"] = run.measured;
  crash_point("after_preflight");
  return Event::ok;
}

Event do_verify(Ctx& c) {
  auto trust = read_file(c.site.trust_root, kMaxTrustRootBytes, ErrorClass::usage);
  if (!trust) return failed(c, trust.error().reclassed(ErrorClass::usage));
  auto root = parse_trust_root(*trust, ErrorClass::usage);
  if (!root) return failed(c, root.error());
  verifier::Request req;
  req.bundle_path = c.run.bundle;
  req.trust = *root;
  auto revoked = load_revoked_keys(c.site);  // sticky revocations (spec §6)
  if (!revoked) return failed(c, revoked.error());
  req.revoked_keys = std::move(*revoked);
  req.policy.product = c.site.product;
  req.policy.channel = c.site.channel;
  req.policy.at = c.env.now();
  if (!c.run.from_version.empty()) {
    auto v = parse_semver(c.run.from_version);
    if (!v) return failed(c, v.error().with_context("installed version in state.db"));
    req.policy.installed = *v;
  }
  if (auto s = make_dirs(c.site.state_dir + "/staging"); !s) return failed(c, s.error());
  req.staging_dir = c.run.staging;
  bool first = c.run.from_version.empty();
  // A refusal (by policy or by the site) is recorded with the version it refused.
  if (auto s = use_accepted_feed(c); !s) return failed(c, s.error());
  req.on_authentic = [&](const Manifest& m) { c.run.to_version = m.release.version.text; };
  req.on_manifest = [&](const Manifest& m) -> Status {
    if (!first && m.release.version.text == c.run.from_version)
      return fail(ErrorClass::policy, "release " + c.run.from_version + " is already installed on site '" +
                                          c.site.name + "'; nothing to do");
    if (first && m.delta_base)
      return fail(ErrorClass::policy, "release " + m.release.version.text + " is a [delta] release (base " +
                                          *m.delta_base + "); a site with nothing installed needs a full release");
    const auto feed_critical =
        c.env.feed ? verifier::feed_critical(c.env.feed->feed, m.release.version.text) : std::nullopt;
    AIRLOCK_CHECK(meet_release(c, m, feed_critical), "site policy");
    AIRLOCK_CHECK(check_targets(c.site, m), "bundle");
    return room_for(c.site.state_dir, m.total_size() + snapshot_size_estimate(c.site),
                    "the payload (" + std::to_string(m.total_size()) + " bytes) and the snapshot", ErrorClass::io);
  };
  req.stop = [&] { return c.env.interrupted() != 0; };
  req.feed = c.env.feed;  // matched at the end of the pass, before verify returns
  c.emit("verify", "verifying " + c.run.bundle);
  auto rep = uses_staged(c) ? verify_staged(c, req) : verifier::verify(req);
  if (!rep && c.env.interrupted() != 0 && verifier::is_stopped(rep.error()))  // docs/site.md, "Signals"
    return failed(c, Error(ErrorClass::preflight, std::string("interrupted by ") + signal_name(c.env.interrupted()) +
                                                      " during verify; nothing was changed"));
  if (!rep) return failed(c, rep.error().with_context("verifying '" + c.run.bundle + "'"));
  c.manifest = rep->manifest;
  c.run.to_version = rep->manifest.release.version.text;
  if (rep->feed_match) note_feed_match(c, *rep->feed_match);
  if (auto s = plan_configs(c, c.run.staging); !s) return failed(c, s.error());
  // A delta's left-out image blobs are proved in the store before the snapshot: refused here, the
  // run changes nothing.
  if (auto s = check_image_needs(c.site, c.run.staging, *c.manifest); !s) return failed(c, s.error());
  if (c.manifest->trust_update) {
    auto t = read_file(c.run.staging + "/" + *c.manifest->trust_update, kMaxTrustRootBytes, ErrorClass::io);
    if (!t) return failed(c, t.error());
    c.trust_update_text = *t;
  }
  // What recovery and the record need, persisted with the run.
  c.data["rollback_to"] = c.manifest->release.rollback_to ? c.manifest->release.rollback_to->text : "";
  nlohmann::json images = nlohmann::json::array();
  // Stored and shown by `status`: the bundle's text, printable (a TOML escape can hold ESC).
  for (const auto& i : c.manifest->images)
    images.push_back({{"ref", printable(i.ref)}, {"digest", printable(i.digest)}});
  c.data["images"] = images;
  c.data["trust_update"] = c.manifest->trust_update.value_or("");
  c.emit("verify", "release " + c.run.to_version + " verified (" + std::to_string(rep->files_checked) + " files)");
  crash_point("after_verify");
  return Event::ok;
}

Event do_snapshot(Ctx& c) {
  auto m = take_snapshot(c.site, c.run.run_id, c.now(), c.run.from_version);
  if (!m) return failed(c, m.error());
  c.run.snapshot_id = m->id;
  c.emit("snapshot", "snapshot " + m->id + " sealed");
  crash_point("after_snapshot");
  return Event::ok;
}

Event do_drain(Ctx& c) {
  if (!run_hook(c, c.site.drain, "drain")) {
    std::string why = "drain hook failed (" + hook_result(c, "drain") + "); nothing was applied";
    return failed(c, Error(ErrorClass::preflight, why + resume_after_failed_drain(c)));
  }
  // The drain hook may have changed a config file (a stopping service writes its state): an
  // apply's deltas are planned again on the text as it is now, and [require] checked against it.
  if (auto s = c.manifest ? plan_configs(c, c.run.staging) : Status{}; !s) {
    std::string why = s.error().what() + "; the config changed during drain, nothing was applied";
    return failed(c, Error(ErrorClass::preflight, why + resume_after_failed_drain(c)));
  }
  crash_point("after_drain");
  return Event::ok;
}

namespace {

// The verifier writes staged files without fsync (an auditor's `verify --extract` does not need
// it); before the release is kept and the pointer can switch to it, one syncfs() puts every staged
// file and folder on disk, so a power cut after the switch cannot leave the release's files empty.
Status sync_staging(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", dir, errno));
  if (::syncfs(fd.get()) != 0) return fail(errno_error("syncfs", dir, errno));
  return {};
}

Status keep_payload(Ctx& c) {
  std::string dest = release_dir(c.site, c.run.to_version);
  AIRLOCK_CHECK(sync_staging(c.run.staging), "keeping the payload");
  AIRLOCK_CHECK(remove_tree(dest), "keeping the payload");
  AIRLOCK_CHECK(make_dirs(c.site.state_dir + "/releases"), "keeping the payload");
  // Next to the payload, never inside it: a payload file may have any name.
  AIRLOCK_CHECK(write_file_atomic(kept_manifest_path(c.site, c.run.to_version), render_manifest(*c.manifest)),
                "keeping the manifest");
  // The image blobs go to the store (renames), so the kept payload holds no copy of them.
  AIRLOCK_CHECK(import_images(c.site, c.run.staging, *c.manifest), "importing the images");
  crash_point("after_image_import");
  AIRLOCK_CHECK(rename_path(c.run.staging, dest), "keeping the payload");
  return fsync_dir(c.site.state_dir + "/releases");
}

Status apply_migrations(Ctx& c) {
  std::string payload = release_dir(c.site, c.run.to_version);
  c.data["applied_migrations"] = nlohmann::json::array();
  int n = 0;
  for (const auto& m : c.manifest->migrations) {
    AIRLOCK_TRY(auto sql, read_file(payload + "/" + m.up, 64 << 20, ErrorClass::io), "migration " + m.id);
    c.emit("apply", "migration " + m.id + " on " + m.database);
    const auto& target = c.site.databases.at(m.database);
    // Only what this run applies is its to reverse: an id already recorded belongs to a release
    // before. A new one is this run's from the moment it may start, since a failed commit leaves
    // its outcome open (the reverse runs only for an id the database has recorded).
    AIRLOCK_TRY(auto before, migration_recorded(target, m.id), "applying release " + c.run.to_version);
    if (!before) c.data["applied_migrations"].push_back(m.id);
    AIRLOCK_TRY(auto ran,
                run_migration({target, m.id, c.run.to_version, sql, Direction::up, c.site.migration_timeout_ms}),
                "applying release " + c.run.to_version);
    if (!before && !ran) c.data["applied_migrations"].erase(c.data["applied_migrations"].size() - 1);
    if (++n == 1) crash_point("mid_migrations");
  }
  crash_point("after_migrations");
  return {};
}

}  // namespace

Event do_apply(Ctx& c) {
  Status s = keep_payload(c);
  if (s) {
    crash_point("after_payload");
    s = apply_migrations(c);
  }
  for (std::size_t i = 0; s && i < c.configs.size(); ++i) {
    s = write_file_atomic(c.configs[i].path, c.configs[i].new_text);
    if (i == 0) crash_point("mid_config");
  }
  if (s) {
    crash_point("after_config");
    s = write_pointer(c.site.state_dir, "releases/" + c.run.to_version);
    if (s) crash_point("before_image_index");
    if (s) s = sync_image_index(c.site);
  }
  if (!s) {
    c.add_signal("apply: " + s.error().what());
    return failed(c, s.error());
  }
  crash_point("after_pointer");
  c.emit("apply", "release " + c.run.to_version + " applied; pointer switched");
  return Event::ok;
}

Event do_resume(Ctx& c) {
  if (!run_hook(c, c.site.images, "images")) {
    c.add_signal("images hook failed (" + hook_result(c, "images") + ")");
    return Event::fail;
  }
  if (!run_hook(c, c.site.resume, "resume")) {
    c.add_signal("resume hook failed (" + hook_result(c, "resume") + ")");
    return Event::fail;
  }
  // An apply replaces the services with the new release's; a rollback or restore brings back the
  // ones of the release it goes back to, in reverse order.
  Status services = c.run.kind == RunKind::apply ? replace_services(c) : restore_services(c, Restore::all);
  if (!services) return c.add_signal(services.error().what()), Event::fail;
  return Event::ok;
}

Event do_check(Ctx& c) {
  CheckRun run = run_checks(c.site, &c.baseline, &c.children);
  c.last_checks = run.results;
  note_failed_checks(c, run.results);
  for (const auto& s : run.signals) c.emit("check", s);
  c.data["health"] = {{"phase_ms", run.elapsed_ms()}};
  if (auto at = run.hard_fail_after_ms()) c.data["health"]["first_hard_failure_ms"] = *at;
  if (run.hard_failed) {
    c.signal_at = run.hard_fail_at;
    for (const auto& r : run.results)
      if (!r.ok && r.hard) c.add_signal("check '" + r.name + "' (" + r.kind + ") failed: " + r.detail);
    return Event::hard_fail;
  }
  c.data["soft_failures"] = run.signals;
  crash_point("after_checks");
  return Event::ok;
}

}  // namespace airlock::applier

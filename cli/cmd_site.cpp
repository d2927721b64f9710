// Site commands: build the request, call the applier, format the result. Progress events go to
// stderr; data (tables, JSON) to stdout.
#include "cli/cmd_site.hpp"

#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "applier/applier.hpp"
#include "applier/feed_store.hpp"
#include "applier/site.hpp"
#include "applier/staged.hpp"
#include "applier/trust_state.hpp"
#include "cli/common.hpp"
#include "cli/signals.hpp"
#include "core/crypto/minisign.hpp"
#include "core/json_text.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"
#include "verifier/feed.hpp"

namespace airlock::cli {

using nlohmann::json;
namespace ap = airlock::applier;

namespace {

const char* kSiteHelp = "the site description (docs/site.md)";

// Who started a run, from the system rather than the environment ($USER is whatever the caller
// set): "cli, uid 0 (root)", or "cli, uid 1234" when the uid has no passwd entry.
std::string started_by() {
  const uid_t uid = ::getuid();
  std::string who = "cli, uid " + std::to_string(uid);
  if (const passwd* pw = ::getpwuid(uid); pw && pw->pw_name) who += " (" + printable(pw->pw_name) + ")";
  return who;
}

}  // namespace

void add_common(po::options_description& o, std::string& site) {
  o.add_options()("site,s", po::value<std::string>(&site)->default_value("site.toml"), kSiteHelp)(
      "json", "print the result as JSON on stdout");
}

// A signal does not end a run that may be rewriting the site: the applier stops or rolls back
// cleanly at the next phase boundary (docs/site.md, "Signals"). kill -9 is what recover is for.
ap::Env cli_env(bool quiet) {
  catch_termination_signals();
  ap::Env env;
  env.interrupted = [] { return termination_signal(); };
  env.started_by = started_by();
  // Events quote names and texts from the bundle and the site as they are.
  if (!quiet)
    env.events = [](const ap::SiteEvent& e) { std::cerr << "[" << e.phase << "] " << printable(e.message) << "\n"; };
  return env;
}

namespace {

const char* state(const ap::CheckResult& c) {
  if (c.skipped) return "skipped";
  return c.ok ? "ok" : "FAILED";
}

json checks_json(const std::vector<ap::CheckResult>& cs) {
  json a = json::array();
  for (const auto& c : cs)
    a.push_back({{"name", c.name},
                 {"kind", c.kind},
                 {"hard", c.hard},
                 {"ok", c.ok},
                 {"skipped", c.skipped},
                 {"detail", c.detail},
                 {"elapsed_ms", c.elapsed_ms}});
  return a;
}

json report_json(const ap::RunReport& r) {
  json j = {{"ok", !ap::report_class(r)},      {"outcome", ap::outcome_name(r.outcome)},
            {"from", r.from_version},          {"to", r.to_version},
            {"checks", checks_json(r.checks)}, {"failing_signals", r.failing_signals},
            {"audit_head", r.audit_head},      {"kind", r.kind}};
  if (r.signal_to_rollback_ms) j["signal_to_rollback_ms"] = *r.signal_to_rollback_ms;
  if (r.health_ms) j["health_ms"] = *r.health_ms;
  if (r.first_hard_failure_ms) j["first_hard_failure_ms"] = *r.first_hard_failure_ms;
  if (r.rollback_start_ms) j["rollback_start_ms"] = *r.rollback_start_ms;
  return j;
}

std::string ver(const std::string& v) { return v.empty() ? "(nothing)" : "v" + v; }

std::string headline(const ap::RunReport& r) {
  switch (r.outcome) {
    case ap::Outcome::applied:
      return "applied " + ver(r.to_version) + " (was " + ver(r.from_version) + "), healthy";
    case ap::Outcome::reverted:
      return "rolled back to " + ver(r.to_version) + " (from " + ver(r.from_version) + "), healthy";
    case ap::Outcome::restored:
      return "restored the snapshot of " + ver(r.to_version) + " (was " + ver(r.from_version) + ")";
    case ap::Outcome::refused:
      return "refused; nothing changed";
    case ap::Outcome::discarded:
      return "discarded a damaged run record";
    case ap::Outcome::rolled_back:
      for (const auto& s : r.failing_signals)
        if (s.rfind("interrupted by ", 0) == 0)
          return ver(r.to_version) + " was " + s + "; rolled back to " + ver(r.from_version) + ", healthy";
      return ver(r.to_version) + " failed a hard check; rolled back to " + ver(r.from_version) + ", healthy";
    case ap::Outcome::degraded:
      return "DEGRADED: rolling back from " + ver(r.to_version) + " did not restore health; the site needs an operator";
    case ap::Outcome::recovered_old:
      return "recovered an interrupted run: the site is on " + ver(r.from_version);
    case ap::Outcome::recovered_new:
      return "recovered an interrupted run: the site is on " + ver(r.to_version);
    case ap::Outcome::nothing_to_do:
      return "nothing to recover; the site is on " + ver(r.from_version);
    case ap::Outcome::aborted:
      return "aborted; nothing changed";
    case ap::Outcome::acknowledged:
      return "acknowledged; the site on " + ver(r.to_version) + " may move forward again";
    case ap::Outcome::skipped:
    case ap::Outcome::unskipped:
    case ap::Outcome::delayed:  // records of `skip`, `delay`, `feed accept` and `schedule`, never the outcome of a run
    case ap::Outcome::feed_accepted:
    case ap::Outcome::scheduled:
    case ap::Outcome::cancelled:
    case ap::Outcome::missed:
      return std::string(ap::outcome_name(r.outcome)) + " " + ver(r.to_version);
  }
  return "";
}

}  // namespace

int finish_run(const std::string& cmd, const Result<ap::RunReport>& r, bool as_json) {
  if (!r) return report_error(cmd, r.error(), as_json);
  auto cls = ap::report_class(*r);
  if (as_json) {
    json j = report_json(*r);
    if (cls) j["exit_code"] = exit_code(*cls);
    print_json(j);
  } else {
    std::cout << cmd << ": " << headline(*r) << "\n";
    for (const auto& c : r->checks)
      std::cout << "  check " << c.name << " (" << c.kind << (c.hard ? ", hard" : ", soft") << "): " << state(c)
                << " - " << c.detail << "\n";
    for (const auto& s : r->failing_signals) std::cout << "  signal: " << s << "\n";
    if (r->signal_to_rollback_ms)
      std::cout << "  failing signal to rollback start: " << *r->signal_to_rollback_ms << " ms\n";
    if (r->health_ms) {
      std::cout << "  health phase: " << *r->health_ms << " ms";
      if (r->first_hard_failure_ms) std::cout << "; first hard failure at +" << *r->first_hard_failure_ms << " ms";
      if (r->rollback_start_ms) std::cout << "; rollback started at +" << *r->rollback_start_ms << " ms";
      std::cout << "\n";
    }
    std::cout << "  audit head: " << (r->audit_head.empty() ? "(empty)" : r->audit_head) << "\n";
  }
  return cls ? exit_code(*cls) : 0;
}

namespace {

// "2 min 14 s", "850 ms"
std::string span_text(const std::string& from, const std::string& to) {
  auto a = parse_rfc3339(from), b = parse_rfc3339(to);
  if (!a || !b) return "?";
  std::int64_t s = b->unix_seconds - a->unix_seconds;
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

std::string history_line(const ap::HistoryEntry& h) {
  std::ostringstream o;
  o << h.started_at.substr(0, 10) << " " << ver(h.to_version) << " " << h.outcome;
  if (!h.detail.empty()) o << ": " << h.detail;
  const auto outcome = ap::parse_outcome(h.outcome);
  const bool went_back = outcome == ap::Outcome::rolled_back || outcome == ap::Outcome::recovered_old;
  if (went_back && h.revert_ms)
    o << " → reverted to " << ver(h.from_version) << " in " << *h.revert_ms << " ms";
  else if (went_back)
    o << " → reverted to " << ver(h.from_version);
  else if (outcome == ap::Outcome::applied)
    o << " (from " << ver(h.from_version) << ", " << span_text(h.started_at, h.finished_at) << ")";
  if (h.signal_to_rollback_ms) o << " [signal→rollback " << *h.signal_to_rollback_ms << " ms]";
  return o.str();
}

}  // namespace

Status use_site_feed(const std::string& site_toml, const std::string& feed_path, ap::Env& env, FeedUse use) {
  if (use == FeedUse::accept) {
    AIRLOCK_TRY(auto accepted, ap::accept_feed(site_toml, feed_path, env), "feed accept");
    (void)accepted;  // in history and the audit log; the run reads the site's feed itself
    return {};
  }
  AIRLOCK_TRY(env.feed, ap::feed_context_for(site_toml, feed_path, env.now()), "verify");
  return {};
}

constexpr const char* kApplyUsage =
    "airlock apply (BUNDLE | --staged SHA256) [--site site.toml] [--feed FEED.toml] [--dry-run] [--json]";

int cmd_apply(int argc, char** argv) {
  std::string site, bundle, staged, accept_breaking, feed;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("feed", po::value<std::string>(&feed),
                  "FEED.toml (its signatures beside it): the release's channel and flags come from it, and the "
                  "bundle's bytes must match its entry");
  o.add_options()("accept-breaking", po::value<std::string>(&accept_breaking),
                  "VERSION: apply this release although its config delta is marked breaking (read its notes first)");
  o.add_options()("dry-run",
                  "verify and print the plan (preflight, migrations, config deltas, services, checks); "
                  "change nothing and record nothing");
  o.add_options()("bundle", po::value<std::string>(&bundle), "the bundle (.tar.zst)")(
      "staged", po::value<std::string>(&staged),
      "apply the staged release with this bundle SHA-256 (or a unique prefix of 8+ hex digits) instead of a bundle");
  po::positional_options_description pos;
  pos.add("bundle", 1);
  auto p = parse_args(argc, argv, kApplyUsage,
                      "Verify, snapshot, apply, health-check; roll back by itself when a hard check fails.\n"
                      "Exit 0 applied and healthy, 30 rolled back (healthy), 31 rollback failed, 32 busy,\n"
                      "33 preflight failed (nothing changed), 10-13 bundle refused (13 also: a release skipped by\n"
                      "the operator, or a breaking config delta without --accept-breaking VERSION).\n"
                      "--staged uses a release kept by `airlock stage`: its signatures, the policy and every\n"
                      "file are checked again first (a changed file is refused, 12); applied, it leaves the store.\n"
                      "SIGTERM/SIGINT/SIGHUP stop it at the next step: before any change it exits 33;\n"
                      "after, it rolls back (30). A kill -9 or power cut is for `airlock recover`.\n"
                      "--feed: the feed is verified against the site's trust root (10, 11); the bundle's\n"
                      "whole-file sha256 and size must equal an entry of its version (12, before anything\n"
                      "changes); its channel is the entry's (else the manifest's), a feed may mark it\n"
                      "critical, and a deprecated release or a feed for another product is refused (13).\n"
                      "--dry-run BUNDLE: runs the preflight checks, verifies the bundle in full (outside the site)\n"
                      "and prints the plan; nothing of the site changes and nothing is recorded (not even the\n"
                      "audit log). Exit 0 when the apply would go ahead, else the class it would stop with.",
                      o, pos,
                      "  airlock apply demo-1.2.0.tar.zst --site /srv/site/site.toml\n"
                      "  airlock apply demo-1.2.0.tar.zst --site /srv/site/site.toml --feed /media/stick/feed.toml\n");
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  if (bundle.empty() == staged.empty())
    return report_error("apply", Error(ErrorClass::usage, "give either a BUNDLE or --staged SHA256"), js);
  auto env = cli_env(false);
  env.accept_breaking = accept_breaking;
  if (p.vm.count("dry-run")) return dry_run(site, bundle, staged, feed, env, js);
  if (auto s = feed.empty() ? Status{} : use_site_feed(site, feed, env, FeedUse::accept); !s)
    return report_error("apply", s.error(), js);
  if (!staged.empty()) return finish_run("apply", ap::apply_staged(site, staged, env), js);
  return finish_run("apply", ap::apply(site, bundle, env), js);
}

int cmd_recover(int argc, char** argv) {
  std::string site;
  po::options_description o("Options");
  add_common(o, site);
  auto p = parse_args(argc, argv, "airlock recover [--site site.toml] [--json]",
                      "Finish or undo an apply that was interrupted (crash, power cut). Idempotent.", o, {});
  if (p.exit_now) return *p.exit_now;
  return finish_run("recover", ap::recover(site, cli_env(false)), p.vm.count("json") > 0);
}

int cmd_rollback(int argc, char** argv) {
  std::string site;
  po::options_description o("Options");
  add_common(o, site);
  auto p = parse_args(argc, argv, "airlock rollback [--site site.toml] [--json]",
                      "Roll back to the previous release (never below the installed release's rollback_to).", o, {});
  if (p.exit_now) return *p.exit_now;
  return finish_run("rollback", ap::rollback(site, cli_env(false)), p.vm.count("json") > 0);
}

namespace {

json critical_json(const std::vector<ap::CriticalRelease>& list) {
  json out = json::array();
  for (const auto& c : list)
    out.push_back({{"version", c.version},
                   {"first_seen", c.first_seen},
                   {"deadline", c.deadline},
                   {"delayed", c.delayed},
                   {"overdue", c.overdue},
                   {"needs_operator", c.needs_operator},
                   {"staged", c.staged_fix.empty() ? json(nullptr) : json(c.staged_fix)}});
  return out;
}

// An overdue critical release leads with capitals: it is what the operator must act on.
void print_critical(const std::vector<ap::CriticalRelease>& list) {
  for (const auto& c : list) {
    std::cout << (c.overdue ? "CRITICAL    release " + c.version + " is OVERDUE since " + c.deadline +
                                  (c.needs_operator ? "" : ": apply it (a skip is not allowed)")
                            : "critical    release " + c.version + " delayed until " + c.deadline)
              << "\n";
    if (c.needs_operator)
      std::cout << "            its staged bundle carries a breaking config delta, so run-due will not apply it: an "
                   "operator must apply it (read its notes first):\n            airlock apply --staged "
                << c.staged_fix.substr(0, 12) << " --accept-breaking VERSION\n";
  }
}

json trust_expiry_json(const std::optional<ap::TrustExpiry>& e) {
  if (!e) return nullptr;
  json keys = json::array();
  for (const auto& k : e->expiring) keys.push_back({{"key_id", k.id}, {"name", k.name}, {"not_after", k.not_after}});
  return {{"threshold", e->threshold}, {"short_from", e->short_from}, {"expiring", keys}};
}

void print_trust_expiry(const std::optional<ap::TrustExpiry>& e) {
  if (!e) return;
  std::cout << "WARNING     trust root: fewer than " << e->threshold << " valid key(s) from " << e->short_from
            << "; ship a root with a new key before then\n";
  for (const auto& k : e->expiring)
    std::cout << "            key " << k.id << " (" << k.name << ") expires " << k.not_after << "\n";
}

json scheduled_json(const std::optional<ap::ScheduledStatus>& j) {
  if (!j) return nullptr;
  return {{"id", j->id},
          {"state", j->state},
          {"version", j->version},
          {"staged", j->staged},
          {"at", j->at},
          {"at_local", j->at_local},
          {"preflight_at", j->preflight_at},
          {"preflight_local", j->preflight_local},
          {"window_end", j->window_end},
          {"window_local", j->window_local},
          {"timezone", j->timezone},
          {"preflight_done", j->preflight_done.empty() ? json(nullptr) : json(j->preflight_done)}};
}

void print_scheduled(const std::optional<ap::ScheduledStatus>& j) {
  if (!j) return;
  std::cout << "scheduled   job " << j->id << " (" << j->state << "): v" << j->version << " at " << j->at << " ("
            << j->at_local << " " << j->timezone << "), preflight from " << j->preflight_at << " ("
            << j->preflight_local << ")" << (j->preflight_done.empty() ? "" : ", passed " + j->preflight_done) << "\n";
}

}  // namespace

int cmd_status(int argc, char** argv) {
  std::string site;
  po::options_description o("Options");
  add_common(o, site);
  auto p = parse_args(argc, argv, "airlock status [--site site.toml] [--json]", "Show what the site runs.", o, {});
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  auto s = ap::status(site);
  if (!s) return report_error("status", s.error(), js);
  if (js) {
    json j = {{"ok", true},
              {"site", s->site_name},
              {"product", s->product},
              {"installed", s->installed},
              {"pointer", s->pointer},
              {"images", s->images},
              {"degraded", s->degraded},
              {"degraded_since", s->degraded ? json(s->degraded_since) : json(nullptr)},
              {"audit_head", s->audit_head},
              {"audit_entries", s->audit_entries},
              {"targets",
               {{"databases", s->databases},
                {"config", s->configs},
                {"state_dir", s->state_dir},
                {"trust_root", s->trust_root}}}};
    j["critical"] = critical_json(s->critical);
    j["feed"] = s->feed_serial
                    ? json({{"serial", *s->feed_serial}, {"published", s->feed_published}, {"sha256", s->feed_sha256}})
                    : json(nullptr);
    j["trust_expiry"] = trust_expiry_json(s->trust_expiry);
    j["pending_phase"] = s->pending_phase ? json(*s->pending_phase) : json(nullptr);
    j["running"] = s->running;
    j["scheduled"] = scheduled_json(s->scheduled);
    print_json(j);
  } else {
    std::cout << "site        " << s->site_name << " (product " << s->product << ")\n"
              << "installed   " << ver(s->installed)
              << (s->degraded ? "  DEGRADED since " + (s->degraded_since.empty() ? "?" : s->degraded_since) +
                                    ": repair, then 'airlock ack'"
                              : "")
              << "\n"
              << "pointer     " << (s->pointer.empty() ? "(none)" : s->pointer) << "\n";
    for (const auto& i : s->images) std::cout << "image       " << i << "\n";
    print_critical(s->critical);
    print_scheduled(s->scheduled);
    std::cout << "feed        "
              << (s->feed_serial ? "serial " + std::to_string(*s->feed_serial) + ", published " + s->feed_published +
                                       ", sha256 " + s->feed_sha256.substr(0, 16) + "..."
                                 : std::string("(none accepted)"))
              << "\n";
    print_trust_expiry(s->trust_expiry);
    if (s->running)
      std::cout << "running     a run is under way (phase " << *s->pending_phase << "); the site is locked\n";
    else if (s->pending_phase)
      std::cout << "interrupted run in phase " << *s->pending_phase << ": run 'airlock recover'\n";
    std::cout << "audit head  " << (s->audit_head.empty() ? "(empty)" : s->audit_head) << " (" << s->audit_entries
              << " entries)\n";
    for (const auto& [name, path] : s->databases) std::cout << "database    " << name << " = " << path << "\n";
    for (const auto& [name, path] : s->configs) std::cout << "config      " << name << " = " << path << "\n";
    std::cout << "state       " << s->state_dir << "\n"
              << "trust root  " << s->trust_root << "\n";
  }
  return 0;
}

int cmd_history(int argc, char** argv) {
  std::string site;
  po::options_description o("Options");
  add_common(o, site);
  auto p = parse_args(argc, argv, "airlock history [--site site.toml] [--json]", "Every apply, rollback and recovery.",
                      o, {});
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  auto h = ap::history(site);
  if (!h) return report_error("history", h.error(), js);
  if (js) {
    json a = json::array();
    for (const auto& e : *h) {
      json j = {{"id", e.id},
                {"started_at", e.started_at},
                {"finished_at", e.finished_at},
                {"from", e.from_version},
                {"to", e.to_version},
                {"outcome", e.outcome},
                {"detail", e.detail},
                {"started_by", e.started_by},
                {"steps", json::parse(e.steps_json, nullptr, false)}};
      j["signal_to_rollback_ms"] = e.signal_to_rollback_ms ? json(*e.signal_to_rollback_ms) : json(nullptr);
      j["revert_ms"] = e.revert_ms ? json(*e.revert_ms) : json(nullptr);
      j["snapshot"] = e.snapshot_id;
      a.push_back(j);
    }
    print_json({{"ok", true}, {"history", a}});
  } else {
    if (h->empty()) std::cout << "(no history)\n";
    for (const auto& e : *h) std::cout << history_line(e) << "\n";
  }
  return 0;
}

int cmd_snapshot(int argc, char** argv) {
  std::string site, action, id;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("force", "restore over targets that differ or whose schema version differs")(
      "action", po::value<std::string>(&action)->required(), "create | list | restore")(
      "id", po::value<std::string>(&id), "snapshot id (restore)");
  po::positional_options_description pos;
  pos.add("action", 1).add("id", 1);
  auto p = parse_args(argc, argv, "airlock snapshot create|list|restore [ID] [--site site.toml] [--force] [--json]",
                      "Snapshots of every database, config target and the release pointer.", o, pos);
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  auto info_json = [](const ap::SnapshotInfo& s) {
    return json{
        {"id", s.id}, {"created_at", s.created_at}, {"release", s.release}, {"bytes", s.bytes}, {"sealed", s.sealed}};
  };
  auto print_one = [&](const ap::SnapshotInfo& s) {
    if (js)
      print_json({{"ok", true}, {"snapshot", info_json(s)}});
    else
      std::cout << s.id << "  " << s.created_at << "  " << ver(s.release) << "  " << human_bytes(s.bytes) << "\n";
  };
  if (action == "create") {
    auto r = ap::snapshot_create(site, cli_env(js));
    if (!r) return report_error("snapshot", r.error(), js);
    print_one(*r);
  } else if (action == "list") {
    auto r = ap::snapshot_list(site);
    if (!r) return report_error("snapshot", r.error(), js);
    json a = json::array();
    for (const auto& s : *r) {
      a.push_back(info_json(s));
      if (!js)
        std::cout << s.id << "  " << s.created_at << "  " << ver(s.release) << "  " << human_bytes(s.bytes)
                  << (s.sealed ? "" : "  (NOT SEALED: unusable)") << "\n";
    }
    if (js) print_json({{"ok", true}, {"snapshots", a}});
  } else if (action == "restore") {
    if (id.empty()) return report_error("snapshot", Error(ErrorClass::usage, "restore needs a snapshot id"), js);
    auto r = ap::snapshot_restore(site, id, p.vm.count("force") ? ap::Force::yes : ap::Force::no, cli_env(js));
    if (!r) return report_error("snapshot", r.error(), js);
    print_one(*r);
  } else {
    return report_error("snapshot", Error(ErrorClass::usage, "unknown action '" + action + "' (create, list, restore)"),
                        js);
  }
  return 0;
}

namespace {

// The export as printed: JSON, or one tab-separated line an entry and a summary line.
std::string audit_text(const ap::AuditExport& r, const std::string& action, bool js) {
  if (js) {
    json a = json::array();
    for (const auto& e : r.entries)
      a.push_back({{"seq", e.seq},
                   {"at", e.at},
                   {"kind", e.kind},
                   {"data", json::parse(e.data, nullptr, false)},
                   {"prev_hash", e.prev_hash},
                   {"hash", e.hash}});
    return dump_json(json({{"ok", true},
                           {"entries", a},
                           {"head", r.head},
                           {"count", r.entries.size()},
                           {"spooled", r.spooled}}),
                     2) +
           "\n";
  }
  std::ostringstream o;
  if (action == "export")
    for (const auto& e : r.entries)
      o << e.seq << "\t" << e.at << "\t" << e.kind << "\t" << e.data << "\t" << e.hash << "\n";
  o << (action == "verify" ? "audit chain intact, " : "") << r.entries.size() << " entries, head "
    << (r.head.empty() ? "(empty)" : r.head);
  if (r.spooled > 0)
    o << "; " << r.spooled << " more waiting in the audit spool (a run holds the site; the next command records them)";
  o << "\n";
  return o.str();
}

// Writes the export to `out` and, with a key, its minisign signature to `out`.minisig, which stock
// `minisign -V -p KEY.pub -m OUT` checks: an auditor can prove the export came from the site.
Status write_export(const std::string& out, const std::string& text, const std::optional<std::string>& key,
                    const ap::AuditExport& r) {
  std::optional<minisign::SecretKey> sk;
  if (key) {
    AIRLOCK_TRY(sk, load_secret_key(*key), "--sign");
  }
  AIRLOCK_CHECK(write_file_atomic(out, text), "--out");
  if (!sk) return {};
  const std::string comment = "airlock audit export entries " + std::to_string(r.entries.size()) + " head " +
                              (r.head.empty() ? "(empty)" : r.head);
  const auto sig = minisign::sign(*sk, text, comment);
  return write_file_atomic(out + ".minisig", minisign::format_signature(sig)).map_error([](Error e) {
    return e.with_context("--sign");
  });
}

}  // namespace

int cmd_audit(int argc, char** argv) {
  std::string site, action, known_head, out, sign;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("action", po::value<std::string>(&action)->required(), "export | verify")(
      "known-head", po::value<std::string>(&known_head),
      "verify: a head hash from an earlier export; it must still be in the chain (detects a truncated or "
      "rewritten tail)")("out,o", po::value<std::string>(&out), "export: write the export to this file")(
      "sign", po::value<std::string>(&sign), "export: sign it with this secret key (minisign format) into OUT.minisig");
  po::positional_options_description pos;
  pos.add("action", 1);
  auto p = parse_args(argc, argv, "airlock audit export|verify [--site site.toml] [--json] [--out FILE [--sign KEY]]",
                      "The hash-chained audit log. verify exits 34 when an entry was edited, removed or reordered,\n"
                      "or when the log disagrees with the head record, history or the release table.",
                      o, pos,
                      "  airlock audit export --site site.toml --out audit.tsv --sign site.key\n"
                      "  minisign -V -p site.pub -m audit.tsv\n");
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  if (action != "export" && action != "verify")
    return report_error("audit", Error(ErrorClass::usage, "unknown action '" + action + "' (export, verify)"), js);
  if ((!out.empty() || !sign.empty()) && action != "export")
    return report_error("audit", Error(ErrorClass::usage, "--out and --sign are for 'export'"), js);
  if (!sign.empty() && out.empty())
    return report_error("audit",
                        Error(ErrorClass::usage, "--sign needs --out FILE (the signature goes to FILE.minisig)"), js);
  auto r = action == "verify" ? ap::audit_verify(site) : ap::audit_export(site);
  if (!r) return report_error("audit", r.error(), js);
  if (!known_head.empty()) {
    bool found = false;
    for (const auto& e : r->entries) found |= e.hash == known_head;
    if (!found)
      return report_error("audit",
                          Error(ErrorClass::audit_broken, "the earlier head " + known_head +
                                                              " is not in the chain: its tail was "
                                                              "truncated or rewritten"),
                          js);
  }
  const std::string text = audit_text(*r, action, js);
  if (out.empty()) {
    std::cout << text;
    return 0;
  }
  if (auto s = write_export(out, text, sign.empty() ? std::nullopt : std::optional<std::string>(sign), *r); !s)
    return report_error("audit", s.error(), js);
  std::cerr << "wrote " << out << (sign.empty() ? "" : " and " + out + ".minisig") << " (" << r->entries.size()
            << " entries)\n";
  return 0;
}

int cmd_ack(int argc, char** argv) {
  std::string site, note;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("note", po::value<std::string>(&note), "what was repaired (kept in history and the audit log)");
  auto p = parse_args(argc, argv, "airlock ack [--site site.toml] [--json] [--note TEXT]",
                      "Acknowledge a DEGRADED site (a rollback that did not restore health, exit 31) after\n"
                      "repairing it: until then every apply refuses with exit 33. The acknowledgement is\n"
                      "recorded in history and the audit log. Exit 2 when the site is not degraded.",
                      o, {}, "  airlock ack --site /srv/site/site.toml --note \"restored db from backup\"\n");
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  auto r = ap::ack(site, note, cli_env(js));
  if (!r) return report_error("ack", r.error(), js);
  if (js) {
    print_json({{"ok", true},
                {"site", r->site_name},
                {"degraded_since", r->degraded_since},
                {"acknowledged_at", r->acknowledged_at},
                {"note", r->note},
                {"audit_head", r->audit_head}});
  } else {
    std::cout << "ack: site " << r->site_name << " acknowledged (degraded since "
              << (r->degraded_since.empty() ? "?" : r->degraded_since) << "); applies are allowed again\n"
              << "  audit head: " << r->audit_head << "\n";
  }
  return 0;
}

}  // namespace airlock::cli

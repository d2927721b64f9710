#include "applier/lifecycle.hpp"

#include <functional>

#include "applier/audit.hpp"
#include "applier/feed_store.hpp"
#include "applier/run.hpp"
#include "applier/staged_store.hpp"
#include "core/json_text.hpp"
#include "core/limits.hpp"
#include "core/model/manifest.hpp"
#include "core/model/semver.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/time.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

std::string plus_ms(const std::string& at, std::int64_t ms) {
  auto t = parse_rfc3339(at);
  if (!t) return "";
  return format_rfc3339(Timestamp{t->unix_seconds + ms / 1000, 0, 0});
}

// The latest time a critical release met at `first_seen` may be delayed to.
std::string latest_delay(const Site& site, const std::string& first_seen) {
  return plus_ms(first_seen, site.critical_max_delay_ms);
}

std::string deadline_of(const SeenRelease& r) { return r.delayed_until.empty() ? r.first_seen : r.delayed_until; }

Result<SemVer> version_arg(const std::string& version) {
  auto v = parse_semver(version);
  if (!v) return fail(v.error().reclassed(ErrorClass::usage).with_context("VERSION"));
  return v;
}

// The record, in one transaction: the state change, a history row and its audit entry.
Result<std::string> record(Ctx& c, const LifecycleReport& r, Outcome outcome, const std::string& detail,
                           const std::function<Status()>& change) {
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "state");
  const std::string id = r.action + "-" + new_run_id(c.env);
  // From and to are the installed release, as for an acknowledgement: the audit check of releases
  // reads an entry's `to` as the release its run installed. The release named is in the detail.
  HistoryRecord h{id,           r.at,         r.at, installed, installed, outcome, detail, "[]", c.env.started_by,
                  std::nullopt, std::nullopt, ""};
  json entry = {{"run", id},         {"kind", r.action}, {"version", r.version},
                {"from", installed}, {"to", installed},  {"outcome", outcome_name(outcome)},
                {"detail", detail},  {"until", r.until}, {"first_seen", r.first_seen}};
  AIRLOCK_CHECK(c.st.begin(), "recording the " + r.action);
  auto head = [&]() -> Result<std::string> {
    AIRLOCK_CHECK(change(), "state");
    AIRLOCK_CHECK(c.st.add_history(h), "history");
    AIRLOCK_TRY(auto hash, audit_append(c.st, r.at, r.action, dump_json(entry)), "audit log");
    return hash;
  }();
  if (!head) {
    c.st.rollback_tx();
    return fail(head.error().with_context("recording the " + r.action));
  }
  AIRLOCK_CHECK(c.st.commit(), "recording the " + r.action);
  return head;
}

// A refusal of the operator's skip or delay changes nothing, but is recorded as one: a history row
// and an audit entry with the outcome "refused" and the reason. The refusal is what is returned,
// with a note when even its record failed.
Error refused(Ctx& c, LifecycleReport r, Error why) {
  r.until.clear();
  auto recorded = record(c, r, Outcome::refused, why.what(), [] { return Status{}; });
  if (!recorded) return std::move(why).with_context("the refusal was not recorded: ", recorded.error());
  return why;
}

Error skipped_by_operator(const Ctx& c, const SeenRelease& r) {
  return Error(ErrorClass::policy, "release " + r.version + " was skipped by operator on " + r.skipped_at +
                                       "; `airlock skip " + r.version + " --undo --site " + c.site.file + "` to allow");
}

Error critical_not_skippable(const Site& site, const SeenRelease& r) {
  return Error(ErrorClass::policy, "release " + r.version + " is critical and cannot be skipped: it is due by " +
                                       deadline_of(r) + "; `airlock delay " + r.version +
                                       " --until TIME` may postpone it to " + latest_delay(site, r.first_seen) +
                                       " at most");
}

// A release the accepted feed calls critical, which the site has not met: no deadline runs yet.
Error feed_critical_not_skippable(const SiteFeed& feed, const std::string& version) {
  return Error(ErrorClass::policy, "release " + version + " is critical (the accepted feed, serial " +
                                       std::to_string(feed.accepted->feed.serial) +
                                       ", says so) and cannot be skipped; `airlock delay " + version +
                                       " --until TIME` may postpone it once the site meets it");
}

Result<LifecycleReport> do_skip(Ctx& c, const std::string& version, Undo undo) {
  AIRLOCK_TRY(auto row, c.st.seen_release(version), "state");
  LifecycleReport r{c.site.name, version, undo == Undo::yes ? "unskip" : "skip", c.now(), "", "", ""};
  if (row) r.first_seen = row->first_seen;
  if (undo == Undo::yes) {
    if (!row || row->skipped_at.empty())
      return fail(ErrorClass::usage, "release " + version + " is not skipped on site '" + c.site.name + "'");
    AIRLOCK_TRY(
        r.audit_head,
        record(c, r, Outcome::unskipped, "skip of " + version + " removed", [&] { return c.st.set_skip(version, ""); }),
        "skip --undo");
    return r;
  }
  AIRLOCK_TRY(const auto feed, accepted_feed(c.site), "skip");
  if (is_critical(row && row->critical, feed.critical(version))) {
    if (row && !row->first_seen.empty()) return fail(refused(c, r, critical_not_skippable(c.site, *row)));
    return fail(refused(c, r, feed_critical_not_skippable(feed, version)));
  }
  AIRLOCK_TRY(r.audit_head,
              record(c, r, Outcome::skipped, "release " + version + " skipped by operator",
                     [&] { return c.st.set_skip(version, r.at); }),
              "skip");
  return r;
}

Result<LifecycleReport> do_delay(Ctx& c, const std::string& version, const Timestamp& until) {
  AIRLOCK_TRY(auto before, c.st.seen_release(version), "state");
  AIRLOCK_TRY(const auto feed, accepted_feed(c.site), "delay");
  if (before && !before->first_seen.empty() && !is_critical(before->critical, feed.critical(version)))
    return fail(ErrorClass::usage, "release " + version +
                                       " is not critical; only a critical release is delayed "
                                       "(`airlock skip` keeps any other release off the site)");
  // The delay meets the release: the first meeting is what the bound counts from, kept even when
  // the delay itself is refused.
  AIRLOCK_CHECK(c.st.mark_seen(version, c.now(), true), "delay");
  AIRLOCK_TRY(auto row, c.st.seen_release(version), "state");
  LifecycleReport r{c.site.name, version, "delay", c.now(), format_rfc3339(until), row->first_seen, ""};
  const std::string latest = latest_delay(c.site, row->first_seen);
  auto bound = parse_rfc3339(latest);
  if (!bound || until > *bound)
    return fail(
        refused(c, r,
                Error(ErrorClass::policy, "release " + version + " cannot be delayed until " + r.until +
                                              ": the site first met it at " + row->first_seen +
                                              ", and [policy] critical_max_delay allows " + latest + " at most")));
  AIRLOCK_TRY(r.audit_head,
              record(c, r, Outcome::delayed, "release " + version + " delayed until " + r.until,
                     [&] { return c.st.set_delay(version, r.until); }),
              "delay");
  return r;
}

}  // namespace

bool is_critical(bool manifest_flag, std::optional<bool> feed_flag) {
  return manifest_flag || feed_flag.value_or(false);
}

Result<LifecycleReport> skip(const std::string& site_toml, const std::string& version, Undo undo, const Env& env) {
  AIRLOCK_TRY(auto v, version_arg(version), "skip");
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("skip"));
  return do_skip(*opened->ctx, v.text, undo);
}

Result<LifecycleReport> delay(const std::string& site_toml, const std::string& version, const std::string& until,
                              const Env& env) {
  AIRLOCK_TRY(auto v, version_arg(version), "delay");
  auto t = parse_rfc3339(until);
  if (!t) return fail(ErrorClass::usage, "--until '" + until + "' is not a time like 2026-05-06T10:00:00Z");
  if (*t <= env.now()) return fail(ErrorClass::usage, "--until " + until + " is not in the future");
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("delay"));
  return do_delay(*opened->ctx, v.text, *t);
}

Status meet_release(Ctx& c, const Manifest& m, std::optional<bool> feed_critical) {
  const std::string& v = m.release.version.text;
  const bool critical = is_critical(m.release.critical, feed_critical);
  AIRLOCK_CHECK(c.st.mark_seen(v, c.now(), critical), "release " + v);
  AIRLOCK_TRY(auto row, c.st.seen_release(v), "release " + v);
  if (row && !row->skipped_at.empty()) {
    if (!critical) return fail(skipped_by_operator(c, *row));
    c.emit("verify", "release " + v + " is critical: the operator's skip of " + row->skipped_at + " is void");
  }
  for (const auto& cd : m.config)
    if (cd.breaking && c.env.accept_breaking != v)
      return fail(ErrorClass::policy, "release " + v + " carries a breaking config delta (target '" + cd.target +
                                          "'): read its notes, then apply with `--accept-breaking " + v + "`");
  return {};
}

Status refuse_if_skipped(Ctx& c, const Manifest& m) {
  const std::string& v = m.release.version.text;
  AIRLOCK_TRY(auto row, c.st.seen_release(v), "release " + v);
  if (!row || row->skipped_at.empty() || is_critical(m.release.critical, row->critical)) return {};
  return fail(skipped_by_operator(c, *row));
}

Result<std::vector<CriticalRelease>> pending_critical(StateDb& st, const std::string& installed, const Timestamp& now) {
  std::optional<SemVer> inst;
  if (!installed.empty()) {
    AIRLOCK_TRY(auto iv, parse_semver(installed), "installed version in state.db");
    inst = iv;
  }
  AIRLOCK_TRY(auto rows, st.seen_releases(), "status");
  std::vector<CriticalRelease> out;
  for (const auto& r : rows) {
    auto v = parse_semver(r.version);
    if (!r.critical || r.first_seen.empty() || !v || (inst && compare_semver(*inst, *v) >= 0)) continue;
    auto due = parse_rfc3339(deadline_of(r));
    out.push_back({r.version, r.first_seen, deadline_of(r), !r.delayed_until.empty(), due && now >= *due, false, ""});
  }
  return out;
}

Result<std::optional<CriticalFix>> staged_fix(const Site& s, const std::vector<StagedRelease>& staged,
                                              const std::string& version, const std::string& installed) {
  AIRLOCK_TRY(const auto want, parse_semver(version), "critical release");
  std::optional<SemVer> floor;
  if (!installed.empty()) {
    AIRLOCK_TRY(floor, parse_semver(installed), "installed release");
  }
  std::optional<std::pair<SemVer, StagedRelease>> best;
  for (const auto& r : staged) {
    if (!r.problem.empty() || r.product != s.product) continue;
    auto v = parse_semver(r.version);
    if (!v || compare_semver(*v, want) < 0 || (floor && compare_semver(*v, *floor) <= 0)) continue;
    if (!best || compare_semver(*v, best->first) > 0) best.emplace(*v, r);
  }
  if (!best) return std::optional<CriticalFix>{};
  CriticalFix fix{std::move(best->second), false};
  const std::string path = staged_dir(s, fix.release.sha256) + "/manifest.toml";
  AIRLOCK_TRY(auto text, read_file(path, kMaxManifestBytes, ErrorClass::integrity), "staged release");
  AIRLOCK_TRY(auto m, parse_manifest(text), "staged release '" + path + "'");
  for (const auto& cd : m.config) fix.breaking |= cd.breaking;
  return std::optional<CriticalFix>{std::move(fix)};
}

}  // namespace airlock::applier

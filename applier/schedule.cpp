// Scheduled jobs: `schedule add|list|cancel` and `run-due` (schedule.hpp, docs/schedule.md).
#include "applier/schedule.hpp"

#include <functional>
#include <nlohmann/json.hpp>

#include "applier/audit.hpp"
#include "applier/feed_store.hpp"
#include "applier/image_store.hpp"
#include "applier/lifecycle.hpp"
#include "applier/run.hpp"
#include "applier/staged_store.hpp"
#include "core/json_text.hpp"
#include "core/sys/local_time.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

std::string utc(std::int64_t t) { return format_rfc3339(Timestamp{t, 0, 0}); }
std::int64_t seconds(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  return t ? t->unix_seconds : 0;
}

Result<JobView> view_of(const Site& site, StateDb& st, const ScheduledJob& j) {
  JobView v{j, site.timezone, "", "", "", audit_head_record(st)};
  for (auto [from, to] : {std::pair{&j.at, &v.at_local}, std::pair{&j.preflight_at, &v.preflight_local},
                          std::pair{&j.window_end, &v.window_local}}) {
    AIRLOCK_TRY(auto t, in_zone(site.timezone, Timestamp{seconds(*from), 0, 0}), "site '" + site.name + "'");
    *to = format_rfc3339(t);
  }
  return v;
}

// --at: RFC 3339 (any offset), or HH:MM in the site's zone: the instant, refused when not ahead.
Result<Timestamp> parse_at(const Site& site, const std::string& text, const Timestamp& now) {
  if (text.size() == 5 && text[2] == ':' && std::isdigit(static_cast<unsigned char>(text[0])) &&
      std::isdigit(static_cast<unsigned char>(text[1])) && std::isdigit(static_cast<unsigned char>(text[3])) &&
      std::isdigit(static_cast<unsigned char>(text[4])))
    return next_wall_time(site.timezone, (text[0] - '0') * 10 + (text[1] - '0'), (text[3] - '0') * 10 + (text[4] - '0'),
                          now);
  auto t = parse_rfc3339(text);
  if (!t)
    return fail(ErrorClass::usage,
                "--at '" + printable(text) + "' is neither an RFC 3339 date-time nor HH:MM (the site's time zone)");
  if (*t <= now)
    return fail(ErrorClass::usage, "--at " + format_rfc3339(*t) + " is in the past (now " + format_rfc3339(now) + ")");
  return Timestamp{t->unix_seconds, 0, 0};
}

std::string detail_of(const ScheduledJob& j, const std::string& what) {
  return "job " + std::to_string(j.id) + " (release " + j.version + " at " + j.at + "): " + what;
}

// A history row and an audit entry for a step of the job's life, with the job's own change, in one
// transaction. From and to are the installed release (as for a skip: the audit check of releases
// reads an entry's `to` as a release its run installed); the job's release is in the detail.
// `also` runs inside the same transaction (what the step changes besides the job).
Result<std::string> record_job(Ctx& c, ScheduledJob& j, const std::string& kind, Outcome outcome,
                               const std::string& what, bool insert = false, const std::function<Status()>& also = {}) {
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "state");
  const std::string at = c.now();
  AIRLOCK_CHECK(c.st.begin(), "recording the scheduled job");
  auto head = [&]() -> Result<std::string> {
    if (also) {
      AIRLOCK_CHECK(also(), "state");
    }
    if (insert) {
      AIRLOCK_TRY(j.id, c.st.add_job(j), "state");
    } else {
      AIRLOCK_CHECK(c.st.update_job(j), "state");
    }
    const std::string id = "job-" + std::to_string(j.id) + "-" + new_run_id(c.env);
    const std::string detail = detail_of(j, what);
    AIRLOCK_CHECK(c.st.add_history({id, at, at, installed, installed, outcome, detail, "[]", c.env.started_by,
                                    std::nullopt, std::nullopt, ""}),
                  "history");
    json entry = {{"run", id},
                  {"kind", kind},
                  {"job", j.id},
                  {"version", j.version},
                  {"from", installed},
                  {"to", installed},
                  {"outcome", outcome_name(outcome)},
                  {"at", j.at},
                  {"detail", detail}};
    return audit_append(c.st, at, kind, dump_json(entry));
  }();
  if (!head) {
    c.st.rollback_tx();
    return fail(head.error().with_context("recording the scheduled job"));
  }
  AIRLOCK_CHECK(c.st.commit(), "recording the scheduled job");
  return head;
}

// The job's run was recorded: the job takes its outcome (inside the caller's transaction).
Status finish_job(Ctx& c, ScheduledJob& j, const std::string& outcome, const std::string& detail) {
  j.state = "finished";
  j.outcome = outcome;
  j.detail = detail;
  j.finished_at = c.now();
  AIRLOCK_CHECK(c.st.update_job(j), "state");
  json entry = {{"job", j.id}, {"run_id", j.run_id}, {"version", j.version}, {"result", outcome}};
  AIRLOCK_TRY(auto head, audit_append(c.st, j.finished_at, "schedule-finished", dump_json(entry)), "audit log");
  (void)head;
  return {};
}

Status close_job(Ctx& c, ScheduledJob& j, const std::string& state, Outcome outcome, const std::string& why) {
  j.state = state;
  j.detail = why;
  j.finished_at = c.now();
  AIRLOCK_TRY(auto head, record_job(c, j, "schedule-" + state, outcome, why), "job " + std::to_string(j.id));
  (void)head;
  c.emit("schedule", "job " + std::to_string(j.id) + " " + state + ": " + why);
  // The operator hears of a job that will not run, as of a run's end; a failing hook changes nothing.
  AIRLOCK_TRY(c.run.from_version, c.st.get("installed"), "state");
  c.run.to_version = j.version;
  if (!run_hook(c, c.site.notify, "notify", outcome_name(outcome), detail_of(j, why)))
    (void)audit_append(c.st, c.now(), "notify-failed", dump_json(json({{"job", j.id}})));
  return {};
}

Result<JobView> add_locked(Ctx& c, const ScheduleRequest& req) {
  const Timestamp now = c.env.now();
  AIRLOCK_TRY(auto at, parse_at(c.site, req.at, now), "schedule add");
  AIRLOCK_TRY(auto open, c.st.open_job(), "schedule add");
  if (open)
    return fail(ErrorClass::policy, "site '" + c.site.name + "' already has job " + std::to_string(open->id) +
                                        " (release " + open->version + " at " + open->at + ", " + open->state +
                                        "); cancel it first: airlock schedule cancel " + std::to_string(open->id));
  AIRLOCK_TRY(auto staged, stage_locked(c, req.bundle), "schedule add");
  const StagedRelease& rel = staged.release;
  if (!rel.expires.empty() && parse_rfc3339(rel.expires) && at > *parse_rfc3339(rel.expires)) {
    if (!staged.already_staged) (void)remove_staged(c.site, rel.sha256, new_run_id(c.env));
    return fail(ErrorClass::policy, "release " + rel.version + " expires at " + rel.expires + ", before " +
                                        format_rfc3339(at) + "; schedule it earlier");
  }
  AIRLOCK_TRY(auto feed, accepted_feed(c.site), "schedule add");
  ScheduledJob j;
  j.staged = rel.sha256;
  j.version = rel.version;
  AIRLOCK_TRY(j.expect_installed, c.st.get("installed"), "state");
  j.at = utc(at.unix_seconds);
  j.preflight_at = utc(std::max(now.unix_seconds, at.unix_seconds - req.preflight_before_s));
  j.window_end = utc(at.unix_seconds + req.window_s);
  j.state = "pending";
  j.created_at = c.now();
  j.created_by = c.env.started_by;
  // Scheduling a release meets it (its critical deadline starts here at the latest), in the job's
  // own transaction.
  const bool critical = is_critical(rel.critical, feed.critical(rel.version));
  auto meet = [&] { return c.st.mark_seen(rel.version, c.now(), critical); };
  AIRLOCK_TRY(auto head, record_job(c, j, "schedule-add", Outcome::scheduled, "scheduled", true, meet), "schedule add");
  (void)head;
  return view_of(c.site, c.st, j);
}

// The site's preflight checks (the apply's own preflight phase, run now) and the staged release
// checked again: its signatures against today's trust root, the policy, every file's hash.
Status preflight_job(Ctx& c, const ScheduledJob& j) {
  AIRLOCK_TRY(auto key, resolve_staged(c.site, j.staged), "the staged release");
  c.run = Run{"preflight-" + new_run_id(c.env),
              RunKind::apply,
              "preflight",
              staged_dir(c.site, key),
              j.expect_installed,
              "",
              "",
              "",
              c.now(),
              c.env.started_by,
              "{}"};
  c.data["staged"] = key;
  if (do_preflight(c) != Event::ok)
    return fail(c.error ? *c.error : Error(ErrorClass::preflight, "the preflight checks failed"));
  AIRLOCK_TRY(auto req, site_request(c, j.expect_installed), "site '" + c.site.name + "'");
  AIRLOCK_TRY(auto rep, verify_staged(c, req), "the staged release " + j.staged);
  // A staged delta's left-out image blobs, proved in the store as the apply will.
  return check_image_needs(c.site, staged_dir(c.site, key) + "/payload", rep.manifest);
}

// A fresh context over the same site, lock and state store (what a phase left in the old one
// must not leak into the next step).
void renew(Opened& o, const Env& env) { o.ctx = std::make_unique<Ctx>(o.ctx->site, env, std::move(o.ctx->st)); }

// A job left running with no run under way: its run was recorded (the record closes the job, so
// only a crash between the two transactions that start it leaves this), or it never began.
Status settle(Ctx& c, ScheduledJob& j) {
  AIRLOCK_TRY(auto hist, c.st.history(), "state");
  for (const auto& h : hist) {
    if (h.run_id != j.run_id) continue;
    AIRLOCK_CHECK(c.st.begin(), "state");
    if (auto s = finish_job(c, j, h.outcome, h.detail); !s) {
      c.st.rollback_tx();
      return s;
    }
    return c.st.commit();
  }
  return close_job(c, j, "cancelled", Outcome::cancelled,
                   "interrupted before its apply began; nothing was changed, and it is not run again");
}

Result<DueReport> apply_job(Opened& o, ScheduledJob& j, const Env& env) {
  Env run_env = env;
  run_env.started_by = "run-due, job " + std::to_string(j.id) + " (" + env.started_by + ")";
  renew(o, run_env);
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto key, resolve_staged(c.site, j.staged), "run-due");
  j.state = "running";
  j.run_id = new_run_id(run_env);
  AIRLOCK_CHECK(c.st.update_job(j), "run-due");
  c.emit("schedule", "job " + std::to_string(j.id) + ": applying release " + j.version);
  AIRLOCK_TRY(auto rep, run_staged(c, key, j.run_id, j.id), "job " + std::to_string(j.id));
  AIRLOCK_TRY(auto after, c.st.job(j.id), "state");
  DueReport out{DueAction::ran, std::nullopt, rep, "", report_class(rep)};
  AIRLOCK_TRY(out.job, view_of(c.site, c.st, after.value_or(j)), "run-due");
  return out;
}

// With no open job: a critical release past its deadline is applied from its staged bundle when
// [policy] auto_apply_overdue_critical allows, as `apply --staged` would; one with a breaking config
// delta is left for an operator (status says so).
Result<DueReport> overdue_locked(Opened& o, const Env& env) {
  Ctx& c = *o.ctx;
  if (!c.site.auto_apply_overdue_critical) return DueReport{};
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "run-due");
  AIRLOCK_TRY(auto pending, pending_critical(c.st, installed, env.now()), "run-due");
  std::optional<std::vector<StagedRelease>> staged;
  for (const auto& cr : pending) {
    if (!cr.overdue) continue;
    if (!staged) {
      AIRLOCK_TRY(staged, list_staged(c.site), "run-due");
    }
    AIRLOCK_TRY(auto fix, staged_fix(c.site, *staged, cr.version, installed), "run-due");
    if (!fix) continue;
    if (fix->breaking) {
      std::string why = "critical release " + cr.version + " is overdue (deadline " + cr.deadline +
                        "); staged release " + fix->release.version +
                        " carries a breaking config delta, so an operator must apply it: " + "airlock apply --staged " +
                        fix->release.sha256.substr(0, 12) + " --accept-breaking " + fix->release.version;
      c.emit("schedule", why);
      return DueReport{DueAction::needs_operator, std::nullopt, std::nullopt, why, std::nullopt};
    }
    Env run_env = env;
    run_env.started_by = "run-due, overdue critical " + cr.version + " (" + env.started_by + ")";
    renew(o, run_env);  // `c` is gone from here on
    o.ctx->emit("schedule", "critical release " + cr.version + " is overdue (deadline " + cr.deadline + "): applying " +
                                fix->release.version + " from its staged bundle");
    AIRLOCK_TRY(auto rep, run_staged(*o.ctx, fix->release.sha256, new_run_id(run_env), std::nullopt), "run-due");
    return DueReport{DueAction::critical, std::nullopt, rep, "", report_class(rep)};
  }
  return DueReport{};
}

Result<DueReport> due_locked(Opened& o, const Env& env) {
  Ctx* c = o.ctx.get();
  AIRLOCK_TRY(auto open, c->st.open_job(), "run-due");
  if (!open) return overdue_locked(o, env);
  ScheduledJob j = *open;
  auto done = [&](DueAction a, std::optional<ErrorClass> cls) -> Result<DueReport> {
    DueReport out{a, std::nullopt, std::nullopt, j.detail, cls};
    AIRLOCK_TRY(out.job, view_of(o.ctx->site, o.ctx->st, j), "run-due");
    return out;
  };
  if (j.state == "running") {
    AIRLOCK_CHECK(settle(*c, j), "run-due");
    return done(DueAction::settled, std::nullopt);
  }
  const std::int64_t now = env.now().unix_seconds;
  if (now >= seconds(j.window_end)) {
    AIRLOCK_CHECK(close_job(*c, j, "missed", Outcome::missed,
                            "found at " + utc(now) + ", after its window ended at " + j.window_end + "; not run late"),
                  "run-due");
    return done(DueAction::missed, ErrorClass::policy);
  }
  AIRLOCK_TRY(auto installed, c->st.get("installed"), "run-due");
  if (installed != j.expect_installed) {
    AIRLOCK_CHECK(close_job(*c, j, "cancelled", Outcome::cancelled,
                            "the site changed: " + (installed.empty() ? "nothing" : "release " + installed) +
                                " is installed, the job expected " +
                                (j.expect_installed.empty() ? "nothing" : "release " + j.expect_installed)),
                  "run-due");
    return done(DueAction::cancelled, ErrorClass::policy);
  }
  if (now < seconds(j.preflight_at)) return done(DueAction::waiting, std::nullopt);
  if (j.preflight_done.empty()) {
    auto pf = preflight_job(*c, j);
    renew(o, env);
    c = o.ctx.get();
    if (!pf) {
      AIRLOCK_CHECK(close_job(*c, j, "cancelled", Outcome::cancelled, "preflight failed: " + pf.error().what()),
                    "run-due");
      return done(DueAction::cancelled, ErrorClass::preflight);
    }
    j.preflight_done = c->now();
    AIRLOCK_CHECK(c->st.begin(), "run-due");
    auto head = c->st.update_job(j).and_then([&] {
      return audit_append(c->st, j.preflight_done, "schedule-preflight",
                          dump_json(json({{"job", j.id}, {"version", j.version}, {"result", "passed"}})));
    });
    if (!head) {
      c->st.rollback_tx();
      return fail(head.error().with_context("run-due"));
    }
    AIRLOCK_CHECK(c->st.commit(), "run-due");
    c->emit("schedule", "job " + std::to_string(j.id) + ": preflight passed");
  }
  if (now < seconds(j.at)) return done(DueAction::preflight, std::nullopt);
  return apply_job(o, j, env);
}

}  // namespace

const char* due_action_name(DueAction a) {
  switch (a) {
    case DueAction::none:
      return "none";
    case DueAction::busy:
      return "busy";
    case DueAction::waiting:
      return "waiting";
    case DueAction::preflight:
      return "preflight";
    case DueAction::cancelled:
      return "cancelled";
    case DueAction::missed:
      return "missed";
    case DueAction::ran:
      return "ran";
    case DueAction::settled:
      return "settled";
    case DueAction::critical:
      return "critical";
    case DueAction::needs_operator:
      return "needs_operator";
  }
  return "?";
}

Result<std::optional<ScheduledStatus>> scheduled_status(const Site& site, StateDb& st) {
  AIRLOCK_TRY(auto open, st.open_job(), "scheduled job");
  if (!open) return std::optional<ScheduledStatus>{};
  AIRLOCK_TRY(auto v, view_of(site, st, *open), "scheduled job");
  const auto& j = v.job;
  return std::optional<ScheduledStatus>(ScheduledStatus{j.id, j.state, j.version, j.staged, j.at, v.at_local,
                                                        j.preflight_at, v.preflight_local, j.window_end, v.window_local,
                                                        v.timezone, j.preflight_done});
}

Result<JobView> schedule_add(const std::string& site_toml, const ScheduleRequest& req, const Env& env) {
  if (req.preflight_before_s < 0 || req.window_s <= 0)
    return fail(ErrorClass::usage, "--preflight-before must be 0 or more and --window more than 0");
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "schedule add");
  return add_locked(*o.ctx, req);
}

Result<std::vector<JobView>> schedule_list(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "schedule list");
  AIRLOCK_TRY(auto st, StateDb::open(site.state_dir), "schedule list");
  AIRLOCK_TRY(auto jobs, st.jobs(), "schedule list");
  std::vector<JobView> out;
  for (const auto& j : jobs) {
    AIRLOCK_TRY(auto v, view_of(site, st, j), "schedule list");
    out.push_back(std::move(v));
  }
  return out;
}

Result<JobView> schedule_cancel(const std::string& site_toml, std::int64_t id, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "schedule cancel");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto j, c.st.job(id), "schedule cancel");
  if (!j) return fail(ErrorClass::usage, "site '" + c.site.name + "' has no job " + std::to_string(id));
  if (j->state != "pending")
    return fail(ErrorClass::usage, "job " + std::to_string(id) + " is " + j->state + ", not pending");
  AIRLOCK_CHECK(close_job(c, *j, "cancelled", Outcome::cancelled, "cancelled by the operator"), "schedule cancel");
  return view_of(c.site, c.st, *j);
}

Status close_job_of_run(Ctx& c, Outcome outcome, const std::string& detail) {
  if (!c.data.contains("job") || !c.data["job"].is_number_integer()) return {};
  AIRLOCK_TRY(auto j, c.st.job(c.data["job"].get<std::int64_t>()), "state");
  if (!j || j->state != "running") return {};
  return finish_job(c, *j, outcome_name(outcome), detail);
}

Result<DueReport> run_due(const std::string& site_toml, const Env& env) {
  auto o = open_site(site_toml, env, nullptr);
  // Another airlock holds the site (an apply, a recovery, another run-due): the next tick tries.
  if (!o && o.error().cls() == ErrorClass::busy) return DueReport{DueAction::busy, {}, {}, o.error().what(), {}};
  if (!o) return fail(o.error().with_context("run-due"));
  return due_locked(*o, env);
}

}  // namespace airlock::applier

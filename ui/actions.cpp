// The page's actions, each the applier function its CLI command calls: apply (`airlock apply`),
// schedule add, skip, delay, channel set; and the page's own language switch. Every one is a POST
// with the session's CSRF token, answered with a redirect to the page and a one-line result.
#include <cstdio>

#include "applier/channel.hpp"
#include "applier/lifecycle.hpp"
#include "applier/schedule.hpp"
#include "core/sys/local_time.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"
#include "ui/app.hpp"
#include "ui/i18n.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;
using Req = httplib::Request;
using Res = httplib::Response;

// The result for the operator, and an audit entry "page" naming it (the applier's own entry of
// a skip, delay or schedule does not say who asked). Called with applier_mu free.
void done(App& app, Session s, Res& res, const std::string& message) {
  s.flash = message;
  app.sessions.update(s);
  app.log(message);
  app.audit("action", message);
  redirect(res, "/");
}

// One applier call, alone among the HTTP workers (App::applier_mu).
template <class F>
auto locked(App& app, F f) {
  std::lock_guard lk(app.applier_mu);
  return f();
}

std::string error_text(const Error& e) { return "error[" + std::string(error_class_name(e.cls())) + "]: " + e.what(); }

void apply_now(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  const std::string path = offer_path(app.site, req.get_param_value("source"), req.get_param_value("file"));
  if (path.empty()) return refuse(res, 400, "no such bundle in the inbox or on the stick");
  ap::Env env = app.env(req.remote_addr);
  env.accept_breaking = req.get_param_value("accept_breaking");
  const std::string site = app.opt.site_toml;
  const std::string file = printable(req.get_param_value("file"));
  const bool started = app.runner.start("apply " + file, env, [&app, site, path, file](const ap::Env& e) {
    auto r = ap::apply(site, path, e);
    app.audit("action", "apply of " + file + ": " + (r ? outcome_name(r->outcome) : error_text(r.error())),
              App::Source::run);
    return r;
  });
  done(app, *s, res,
       started ? "apply of " + printable(req.get_param_value("file")) + " started"
               : "error: an apply is already running");
}

// The instant the wall clock of `tz` reads `date`T`time` (the offset the zone has then).
Result<std::string> wall_time(const std::string& tz, const std::string& date, const std::string& time) {
  auto naive = parse_rfc3339(date + "T" + time + ":00Z");
  if (!naive || date.size() != 10 || time.size() != 5)
    return fail(ErrorClass::usage,
                "date '" + printable(date) + "' and time '" + printable(time) + "' are not YYYY-MM-DD and HH:MM");
  std::int64_t t = naive->unix_seconds;
  for (int i = 0; i < 2; ++i) {  // the zone's offset at the guess, then at the corrected instant
    AIRLOCK_TRY(auto z, in_zone(tz, Timestamp{t, 0, 0}), "time zone");
    t = naive->unix_seconds - std::int64_t{z.offset_minutes} * 60;
  }
  return format_rfc3339(Timestamp{t, 0, 0});
}

void schedule(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  const std::string path = offer_path(app.site, req.get_param_value("source"), req.get_param_value("file"));
  if (path.empty()) return refuse(res, 400, "no such bundle in the inbox or on the stick");
  auto at = locked(
      app, [&] { return wall_time(app.site.timezone, req.get_param_value("date"), req.get_param_value("time")); });
  if (!at) return done(app, *s, res, error_text(at.error()));
  ap::ScheduleRequest r;
  r.bundle = path;
  r.at = *at;
  int minutes = 30;
  if (std::sscanf(req.get_param_value("preflight").c_str(), "%d", &minutes) != 1 || minutes < 0 || minutes > 1440)
    return done(app, *s, res, "error: the preflight lead must be 0..1440 minutes");
  r.preflight_before_s = std::int64_t{minutes} * 60;
  auto j = locked(app, [&] { return ap::schedule_add(app.opt.site_toml, r, app.env(req.remote_addr)); });
  done(app, *s, res,
       j ? "scheduled: job " + std::to_string(j->job.id) + ", v" + j->job.version + " at " + j->at_local
         : error_text(j.error()));
}

void skip(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  auto r = locked(app, [&] {
    return ap::skip(app.opt.site_toml, req.get_param_value("version"), ap::Undo::no, app.env(req.remote_addr));
  });
  done(app, *s, res, r ? "release " + r->version + " skipped" : error_text(r.error()));
}

void delay(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  // A browser's datetime-local: the site's wall clock, as for a schedule.
  const std::string until = req.get_param_value("until");
  if (until.size() != 16 || until[10] != 'T') return done(app, *s, res, "error: the delay needs a date and time");
  auto at = locked(app, [&] { return wall_time(app.site.timezone, until.substr(0, 10), until.substr(11, 5)); });
  if (!at) return done(app, *s, res, error_text(at.error()));
  auto r = locked(
      app, [&] { return ap::delay(app.opt.site_toml, req.get_param_value("version"), *at, app.env(req.remote_addr)); });
  done(app, *s, res, r ? "critical release " + r->version + " delayed until " + r->until : error_text(r.error()));
}

void channel(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  auto c = parse_channel(req.get_param_value("channel"));
  if (!c) return refuse(res, 400, "unknown channel");
  auto r = locked(app, [&] { return ap::channel_set(app.opt.site_toml, *c, app.env(req.remote_addr)); });
  done(app, *s, res, r ? "channel: " + r->to : error_text(r.error()));
}

void language(App& app, const Req& req, Res& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  const std::string l = supported_language(req.get_param_value("lang"));
  if (l.empty()) return refuse(res, 400, "unsupported language");
  s->lang = l;
  app.sessions.update(*s);
  redirect(res, "/");
}

}  // namespace

void add_action_routes(App& app, httplib::Server& svr) {
  svr.Post("/action/apply", [&app](const Req& q, Res& r) { apply_now(app, q, r); });
  svr.Post("/action/schedule", [&app](const Req& q, Res& r) { schedule(app, q, r); });
  svr.Post("/action/skip", [&app](const Req& q, Res& r) { skip(app, q, r); });
  svr.Post("/action/delay", [&app](const Req& q, Res& r) { delay(app, q, r); });
  svr.Post("/action/channel", [&app](const Req& q, Res& r) { channel(app, q, r); });
  svr.Post("/action/lang", [&app](const Req& q, Res& r) { language(app, q, r); });
}

}  // namespace airlock::ui

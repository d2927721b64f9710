// The page views: the Updates page, the progress poll, the audit export, the built-in assets.
#include <nlohmann/json.hpp>

#include "applier/applier.hpp"
#include "applier/plan.hpp"
#include "core/text.hpp"
#include "ui/app.hpp"
#include "ui/assets.hpp"
#include "ui/page.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;
using nlohmann::json;

void home(App& app, const httplib::Request& req, httplib::Response& res) {
  auto s = session_of(app, req);
  if (!s) return redirect(res, "/login");
  View v{page_language(req, &*s), s->csrf, s->flash, false, app.runner.progress()};
  if (!v.flash.empty()) {
    v.flash_error = v.flash.rfind("error", 0) == 0;
    s->flash.clear();
    app.sessions.update(*s);
  }
  Result<PageModel> m = [&] {
    std::lock_guard lk(app.applier_mu);
    return gather(app.opt.site_toml, app.notes);
  }();
  if (!m) {
    res.set_content(render_error(v.lang, v.csrf, "error: " + m.error().what()), "text/html; charset=utf-8");
    return;
  }
  res.set_content(render_page(*m, v), "text/html; charset=utf-8");
}

// The plan of one offered bundle: plan_apply, as `airlock apply BUNDLE --dry-run` (it runs the
// site's preflight checks and verifies the bundle in full, so it is a POST with the CSRF token,
// for the one bundle the operator picked). Nothing changes at the site.
void plan(App& app, const httplib::Request& req, httplib::Response& res) {
  auto s = post_session(app, req, res);
  if (!s) return;
  const std::string source = req.get_param_value("source"), file = req.get_param_value("file");
  const std::string path = offer_path(app.site, source, file);
  if (path.empty()) return refuse(res, 400, "no such bundle in the inbox or on the stick");
  Result<ap::Plan> p = [&] {
    std::lock_guard lk(app.applier_mu);
    return ap::plan_apply(app.opt.site_toml, path, app.env(req.remote_addr));
  }();
  const View v{page_language(req, &*s), s->csrf, "", false, {}};
  res.set_content(render_plan(p, v, source, file), "text/html; charset=utf-8");
}

void progress(App& app, const httplib::Request& req, httplib::Response& res) {
  if (!session_of(app, req)) return refuse(res, 403, "no session: log in first");
  const Progress p = app.runner.progress();
  json phases = json::array();
  for (const auto& ph : p.phases) phases.push_back(printable(ph));
  res.set_content(
      json{{"running", p.running}, {"what", printable(p.what)}, {"phases", phases}, {"outcome", printable(p.outcome)}}
          .dump(),
      "application/json");
}

// The audit log, every entry as state.db keeps it, and its head: the export an auditor keeps.
void audit_export(App& app, const httplib::Request& req, httplib::Response& res) {
  if (!session_of(app, req)) return refuse(res, 403, "no session: log in first");
  Result<ap::AuditExport> a = [&] {
    std::lock_guard lk(app.applier_mu);
    return ap::audit_export(app.opt.site_toml);
  }();
  if (!a) return refuse(res, 500, a.error().what());
  json entries = json::array();
  for (const auto& e : a->entries)
    entries.push_back({{"seq", e.seq},
                       {"at", e.at},
                       {"kind", e.kind},
                       {"data", printable(e.data)},
                       {"prev_hash", e.prev_hash},
                       {"hash", e.hash}});
  res.set_header("Content-Disposition", "attachment; filename=\"audit-" + app.site.name + ".json\"");
  res.set_content(json{{"site", app.site.name}, {"head", a->head}, {"entries", entries}}.dump(2) + "\n",
                  "application/json");
}

}  // namespace

void add_page_routes(App& app, httplib::Server& svr) {
  svr.Get("/", [&app](const httplib::Request& req, httplib::Response& res) { home(app, req, res); });
  svr.Post("/plan", [&app](const httplib::Request& req, httplib::Response& res) { plan(app, req, res); });
  svr.Get("/api/progress", [&app](const httplib::Request& req, httplib::Response& res) { progress(app, req, res); });
  svr.Get("/audit-export",
          [&app](const httplib::Request& req, httplib::Response& res) { audit_export(app, req, res); });
  svr.Get("/assets/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kAppJs), "text/javascript; charset=utf-8");
  });
  svr.Get("/assets/app.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kAppCss), "text/css; charset=utf-8");
  });
}

}  // namespace airlock::ui

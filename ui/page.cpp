#include "ui/page.hpp"

#include <algorithm>
#include <sstream>

#include "core/text.hpp"
#include "ui/i18n.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;

// Escaped and printable (core/text.hpp): what a bundle or the state folder says never becomes markup.
std::string e(std::string_view s) { return html_escape(printable(s, Newlines::keep)); }

std::string head(const std::string& lang, const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"" + e(lang) +
         "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
         "<title>" +
         e(title) +
         "</title><link rel=\"stylesheet\" href=\"/assets/app.css\"><script src=\"/assets/app.js\" "
         "defer></script></head><body>\n";
}

std::string csrf_field(const std::string& csrf) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + e(csrf) + "\">";
}

std::string human_size(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  std::ostringstream o;
  o.precision(u == 0 ? 0 : 1);
  o << std::fixed << v << " " << units[u];
  return o.str();
}

std::string human_duration(std::int64_t s) {
  if (s < 90) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

std::string date_of(const std::string& rfc3339) { return rfc3339.substr(0, std::min<std::size_t>(10, rfc3339.size())); }

void top_bar(std::ostringstream& o, const View& v) {
  o << "<header><h1>" << e(tr(v.lang, "title"))
    << "</h1><form method=\"post\" action=\"/action/lang\" id=\"lang-form\">" << csrf_field(v.csrf) << "<label>"
    << e(tr(v.lang, "language")) << " <select name=\"lang\" id=\"lang\">";
  for (const char* l : kLanguages)
    o << "<option value=\"" << l << "\"" << (v.lang == l ? " selected" : "") << ">" << l << "</option>";
  o << "</select></label> <button type=\"submit\" id=\"lang-save\">OK</button></form>"
    << "<form method=\"post\" action=\"/logout\">" << csrf_field(v.csrf) << "<button type=\"submit\" id=\"logout\">"
    << e(tr(v.lang, "logout")) << "</button></form></header>\n";
  if (!v.flash.empty())
    o << "<p id=\"flash\" class=\"" << (v.flash_error ? "error" : "ok") << "\">" << e(v.flash) << "</p>\n";
}

void current(std::ostringstream& o, const PageModel& m, const View& v) {
  const auto& s = m.status;
  o << "<section id=\"current\"><p>" << e(tr(v.lang, "current")) << ": <strong id=\"installed\">"
    << (s.installed.empty() ? e(tr(v.lang, "none")) : "v" + e(s.installed)) << "</strong>";
  if (!m.installed_created.empty())
    o << " (" << e(tr(v.lang, "released")) << " " << e(date_of(m.installed_created)) << ")";
  o << "</p>";
  if (s.degraded) o << "<p class=\"error\" id=\"degraded\">" << e(tr(v.lang, "degraded")) << "</p>";
  o << "<form method=\"post\" action=\"/action/channel\" id=\"channel-form\">" << csrf_field(v.csrf)
    << e(tr(v.lang, "channel")) << ": ";
  for (auto c : {Channel::recommended, Channel::rc, Channel::beta}) {
    const std::string n = channel_name(c);
    o << "<label><input type=\"radio\" name=\"channel\" id=\"channel-" << n << "\" value=\"" << n << "\""
      << (m.site.channel == c ? " checked" : "") << "> " << e(tr(v.lang, n)) << "</label> ";
  }
  if (!m.site.channel_chosen) o << "<small>(" << e(tr(v.lang, "channel_default")) << ")</small> ";
  o << "<button type=\"submit\" id=\"save-channel\">" << e(tr(v.lang, "save_channel"))
    << "</button></form></section>\n";
}

void progress(std::ostringstream& o, const View& v) {
  const auto& p = v.progress;
  if (p.what.empty()) return;
  o << "<section id=\"progress\" data-running=\"" << (p.running ? "1" : "0") << "\"><h2>"
    << e(p.running ? tr(v.lang, "running") : p.what) << "</h2><ol id=\"progress-list\">";
  for (const auto& ph : p.phases) o << "<li>" << e(ph) << "</li>";
  o << "</ol><p id=\"progress-outcome\">" << e(p.outcome) << "</p></section>\n";
}

void offer_forms(std::ostringstream& o, const Offer& of, const View& v, const std::string& tz) {
  const std::string ver = of.bundle.manifest->release.version.text;
  const std::string hidden = csrf_field(v.csrf) + "<input type=\"hidden\" name=\"source\" value=\"" + e(of.source) +
                             "\"><input type=\"hidden\" name=\"file\" value=\"" + e(of.bundle.file) + "\">";
  // Upgrade now goes through the plan view (POST /plan): the plan verifies the whole bundle, so
  // it is computed for the one release the operator picked, never for every offer on every view.
  o << "<div class=\"buttons\"><form method=\"post\" action=\"/plan\">" << hidden
    << "<button type=\"submit\" class=\"review-plan\">" << e(tr(v.lang, "review_plan")) << "</button></form>";
  if (of.critical || of.bundle.critical) {
    o << "<form method=\"post\" action=\"/action/delay\">" << csrf_field(v.csrf)
      << "<input type=\"hidden\" name=\"version\" value=\"" << e(ver) << "\"><label>" << e(tr(v.lang, "delay_until"))
      << " <input type=\"datetime-local\" name=\"until\" class=\"delay-until\" required></label>"
      << "<button type=\"submit\" class=\"delay\">" << e(tr(v.lang, "delay")) << "</button></form>";
  } else {
    o << "<form method=\"post\" action=\"/action/skip\">" << csrf_field(v.csrf)
      << "<input type=\"hidden\" name=\"version\" value=\"" << e(ver) << "\"><button type=\"submit\" class=\"skip\">"
      << e(tr(v.lang, "skip")) << "</button></form>";
  }
  o << "</div><details class=\"schedule\"><summary class=\"schedule-open\">" << e(tr(v.lang, "schedule"))
    << "</summary><form method=\"post\" action=\"/action/schedule\">" << hidden << "<label>" << e(tr(v.lang, "date"))
    << " <input type=\"date\" name=\"date\" class=\"schedule-date\" required></label> <label>" << e(tr(v.lang, "time"))
    << " <input type=\"time\" name=\"time\" class=\"schedule-time\" required> (" << e(tz) << ")</label><br><label>"
    << e(tr(v.lang, "preflight"))
    << " <input type=\"number\" name=\"preflight\" min=\"0\" max=\"1440\" value=\"30\"></label><br><small>"
    << e(tr(v.lang, "notice")) << "</small><br><button type=\"submit\" class=\"confirm-schedule\">"
    << e(tr(v.lang, "confirm_schedule")) << "</button></form></details>";
}

void offers(std::ostringstream& o, const PageModel& m, const View& v) {
  o << "<section id=\"updates\"><h2>" << e(tr(v.lang, "available")) << "</h2>\n";
  bool any = false;
  for (const auto& of : m.offers) {
    if (!of.bundle.applies()) continue;
    any = true;
    const auto& r = of.bundle.manifest->release;
    o << "<article class=\"offer\" data-version=\"" << e(r.version.text) << "\" data-file=\"" << e(of.bundle.file)
      << "\"><h3>" << e(tr(v.lang, "new_in")) << " v" << e(r.version.text) << " " << e(tr(v.lang, "in_channel")) << " "
      << e(tr(v.lang, channel_name(of.bundle.channel))) << "</h3>";
    if (of.critical)
      o << "<p class=\"critical\">" << e(tr(v.lang, "critical")) << " " << e(of.critical->deadline) << "</p>";
    else if (of.bundle.critical)
      o << "<p class=\"critical\">" << e(tr(v.lang, "critical")) << " -</p>";
    o << "<p>" << e(tr(v.lang, "created")) << ": " << e(date_of(format_rfc3339(r.created))) << " · "
      << e(tr(v.lang, "size")) << ": " << e(human_size(of.bundle.size)) << " · " << e(tr(v.lang, "duration")) << ": "
      << e(m.estimate_s ? "~" + human_duration(*m.estimate_s) : tr(v.lang, "duration_unknown")) << "</p>";
    if (r.summary) o << "<p class=\"summary\">" << e(*r.summary) << "</p>";
    if (!of.notes.empty())
      o << "<details class=\"notes\" lang=\"" << e(of.bundle.notes_lang) << "\"><summary>" << e(tr(v.lang, "notes"))
        << "</summary><pre>" << e(of.notes) << "</pre></details>";
    offer_forms(o, of, v, m.site.timezone);
    o << "</article>\n";
  }
  if (!any) o << "<p id=\"no-updates\">" << e(tr(v.lang, "no_updates")) << "</p>";
  bool header = false;
  for (const auto& of : m.offers) {
    if (of.bundle.applies()) continue;
    if (!header) {
      o << "<h3>" << e(tr(v.lang, "not_applicable")) << "</h3><ul id=\"not-applicable\">";
      header = true;
    }
    std::string why;
    for (const auto& w : of.bundle.why_not) why += (why.empty() ? "" : "; ") + w;
    o << "<li data-file=\"" << e(of.bundle.file) << "\">" << e(of.bundle.file) << " (v"
      << e(of.bundle.manifest->release.version.text) << "): " << e(why) << "</li>";
  }
  if (header) o << "</ul>";
  for (const auto& p : m.scan_problems) o << "<p class=\"error\">" << e(p) << "</p>";
  o << "</section>\n";
}

void sideload(std::ostringstream& o, const PageModel& m, const View& v) {
  o << "<section id=\"sideload\"><h2>" << e(tr(v.lang, "sideload")) << "</h2><form id=\"upload-form\" data-csrf=\""
    << e(v.csrf)
    << "\"><input type=\"file\" id=\"bundle-file\" accept=\".zst,.tar.zst\"> <button type=\"submit\" id=\"upload\">"
    << e(tr(v.lang, "upload")) << "</button> <small>(" << e(tr(v.lang, "upload_limit")) << " "
    << e(human_size(m.site.ui.upload_limit))
    << ")</small></form><progress id=\"upload-progress\" max=\"100\" value=\"0\"></progress>"
    << "<p id=\"upload-result\"></p></section>\n";
}

void jobs(std::ostringstream& o, const PageModel& m, const View& v) {
  if (m.jobs.empty()) return;
  o << "<section id=\"jobs\"><h2>" << e(tr(v.lang, "scheduled_jobs")) << "</h2><ul>";
  for (const auto& j : m.jobs)
    o << "<li class=\"job\" data-state=\"" << e(j.job.state) << "\">#" << j.job.id << " v" << e(j.job.version) << " "
      << e(j.at_local) << " " << e(j.timezone) << " — " << e(j.job.state)
      << (j.job.outcome.empty() ? "" : " (" + e(j.job.outcome) + ")") << "</li>";
  o << "</ul></section>\n";
}

void history_row(std::ostringstream& o, const ap::HistoryEntry& h, const View& v) {
  const bool rolled = h.outcome == ap::outcome_name(ap::Outcome::rolled_back);
  const bool healthy = h.outcome == ap::outcome_name(ap::Outcome::applied);
  std::string word = healthy ? tr(v.lang, "applied") : rolled ? tr(v.lang, "rolled_back") : h.outcome;
  o << "<tr class=\"history-row\" data-outcome=\"" << e(h.outcome) << "\"><td>" << e(date_of(h.started_at))
    << "</td><td>v" << e(h.to_version) << "</td><td>"
    << (healthy  ? "✓ "
        : rolled ? "⚠ "
                 : "")
    << e(word) << " <small>(" << e(h.started_by) << ")</small>";
  if (rolled || (!healthy && !h.detail.empty()))
    o << "<div class=\"reason\">" << e(tr(v.lang, "reason")) << ": " << e(h.detail) << "</div>";
  if (rolled && h.revert_ms)
    o << "<div class=\"reverted\">→ " << e(tr(v.lang, "reverted_to")) << " v" << e(h.from_version) << " "
      << e(tr(v.lang, "in_s")) << " " << e(human_duration((*h.revert_ms + 999) / 1000)) << "</div>";
  o << "</td></tr>\n";
}

void history(std::ostringstream& o, const PageModel& m, const View& v) {
  o << "<section id=\"history\"><h2>" << e(tr(v.lang, "history")) << "</h2><table>";
  for (const auto& h : m.history) history_row(o, h, v);
  o << "</table><p id=\"audit\">" << e(tr(v.lang, "audit_head")) << ": <code id=\"audit-head\">"
    << e(m.status.audit_head) << "</code> · <a href=\"/audit-export\" id=\"audit-export\">"
    << e(tr(v.lang, "audit_export")) << "</a></p></section>\n";
}

// Nothing installed yet: the preflight checks run, but only measure (a failing one stops no first
// install), and the page must say so rather than list failures beside "would go ahead".
bool first_install(const ap::Plan& p) { return p.preflight_measures_only; }

void check_rows(std::ostringstream& o, const ap::Plan& p, const View& v) {
  o << "<h3>" << e(tr(v.lang, "plan_preflight")) << "</h3><ul id=\"plan-preflight\">";
  const bool measure = first_install(p);
  for (const auto& c : p.preflight)
    o << "<li class=\""
      << (c.skipped ? ""
          : c.ok    ? "ok"
          : measure ? "measured"
                    : "error")
      << "\" data-ok=\"" << (c.ok ? "1" : "0") << "\">" << e(c.name) << " (" << e(c.kind) << ", "
      << e(tr(v.lang, c.hard ? "hard" : "soft")) << "): "
      << e(tr(v.lang, c.skipped ? "check_skipped"
                      : c.ok    ? "check_ok"
                      : measure ? "check_measures"
                                : "check_fails"))
      << (c.detail.empty() ? "" : " — " + e(c.detail)) << "</li>";
  if (p.preflight.empty()) o << "<li>" << e(tr(v.lang, "plan_nothing")) << "</li>";
  o << "</ul><h3>" << e(tr(v.lang, "plan_checks")) << "</h3><ul id=\"plan-checks\">";
  for (const auto& c : p.checks)
    o << "<li>" << e(c.name) << " (" << e(c.kind) << ", " << e(tr(v.lang, c.hard ? "hard" : "soft")) << ", "
      << e(tr(v.lang, "within")) << " " << c.within_ms << " ms)</li>";
  if (p.checks.empty()) o << "<li>" << e(tr(v.lang, "plan_nothing")) << "</li>";
  o << "</ul>";
}

void change_rows(std::ostringstream& o, const ap::Plan& p, const View& v) {
  o << "<h3>" << e(tr(v.lang, "plan_migrations")) << "</h3><ul id=\"plan-migrations\">";
  for (const auto& m : p.migrations)
    o << "<li class=\"migration" << (m.irreversible ? " irreversible" : "") << "\" data-id=\"" << e(m.id) << "\">"
      << e(m.id) << " (" << e(m.database) << ") — "
      << (m.irreversible ? "<strong>" + e(tr(v.lang, "irreversible")) + "</strong>" : e(tr(v.lang, "reversible")))
      << (m.already_applied ? " · " + e(tr(v.lang, "already_applied")) : "") << "</li>";
  if (p.migrations.empty()) o << "<li>" << e(tr(v.lang, "plan_nothing")) << "</li>";
  o << "</ul><h3>" << e(tr(v.lang, "plan_config")) << "</h3><ul id=\"plan-config\">";
  for (const auto& d : p.config)
    o << "<li class=\"delta" << (d.breaking ? " breaking" : "") << "\" data-target=\"" << e(d.target) << "\">"
      << e(d.target) << " (" << e(d.path) << ") — " << e(tr(v.lang, d.changes ? "changes" : "no_change"))
      << (d.breaking ? " · <strong>" + e(tr(v.lang, "breaking_flag")) + "</strong>" : "")
      << (d.problem.empty() ? "" : " · <span class=\"error\">" + e(d.problem) + "</span>") << "</li>";
  if (p.config.empty()) o << "<li>" << e(tr(v.lang, "plan_nothing")) << "</li>";
  o << "</ul><h3>" << e(tr(v.lang, "plan_services")) << "</h3><ol id=\"plan-services\">";
  for (const auto& s : p.services) o << "<li>" << e(s.name) << " (" << e(s.mode) << ")</li>";
  if (p.services.empty()) o << "<li>" << e(tr(v.lang, "plan_nothing")) << "</li>";
  o << "</ol>";
}

// Upgrade now, on the plan: a breaking delta needs the operator's word that the notes were read
// (`--accept-breaking VERSION`); a plan the site would refuse for another reason offers no button.
void confirm_form(std::ostringstream& o, const ap::Plan& p, const View& v, const std::string& source,
                  const std::string& file) {
  const auto breaking = static_cast<std::size_t>(
      std::count_if(p.config.begin(), p.config.end(), [](const auto& d) { return d.breaking; }));
  // plan_apply blocks once per breaking delta not accepted: the checkbox below is that acceptance.
  if (p.blockers.size() > (p.needs_accept_breaking ? breaking : 0)) return;
  o << "<form method=\"post\" action=\"/action/apply\" id=\"confirm-apply\">" << csrf_field(v.csrf)
    << "<input type=\"hidden\" name=\"source\" value=\"" << e(source)
    << "\"><input type=\"hidden\" name=\"file\" value=\"" << e(file) << "\">";
  if (breaking > 0)
    o << "<label class=\"breaking\"><input type=\"checkbox\" name=\"accept_breaking\" id=\"accept-breaking\" value=\""
      << e(p.to_version) << "\" required> " << e(tr(v.lang, "breaking")) << "</label> ";
  o << "<button type=\"submit\" class=\"upgrade-now\">" << e(tr(v.lang, "upgrade_now")) << "</button></form>";
}

void plan_section(std::ostringstream& o, const ap::Plan& p, const View& v, const std::string& source,
                  const std::string& file) {
  o << "<section id=\"plan\" data-version=\"" << e(p.to_version) << "\" data-would-apply=\"" << (p.blocked ? "0" : "1")
    << "\"><h2>" << e(tr(v.lang, "plan")) << ": v" << e(p.to_version) << "</h2><p id=\"plan-summary\">"
    << (p.from_version.empty() ? e(tr(v.lang, "none")) : "v" + e(p.from_version)) << " → v" << e(p.to_version) << " ("
    << e(tr(v.lang, p.channel)) << (p.critical ? ", " + e(tr(v.lang, "critical_word")) : "") << ")</p>";
  check_rows(o, p, v);
  change_rows(o, p, v);
  if (p.blocked) {
    o << "<h3 class=\"error\">" << e(tr(v.lang, "would_stop")) << "</h3><ul id=\"plan-blockers\">";
    for (const auto& b : p.blockers) o << "<li class=\"error\">" << e(b) << "</li>";
    o << "</ul>";
  } else {
    const bool failing =
        std::any_of(p.preflight.begin(), p.preflight.end(), [](const auto& c) { return !c.ok && !c.skipped; });
    o << "<p class=\"ok\" id=\"plan-go\">"
      << e(tr(v.lang, first_install(p) && failing ? "would_go_ahead_first" : "would_go_ahead")) << "</p>";
  }
  confirm_form(o, p, v, source, file);
  o << "</section>\n";
}
}  // namespace

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += ch;
    }
  }
  return o;
}

std::string render_page(const PageModel& m, const View& v) {
  std::ostringstream o;
  o << head(v.lang, tr(v.lang, "title") + " — " + m.site.name);
  top_bar(o, v);
  o << "<main>";
  current(o, m, v);
  progress(o, v);
  offers(o, m, v);
  sideload(o, m, v);
  jobs(o, m, v);
  history(o, m, v);
  o << "</main></body></html>\n";
  return o.str();
}

std::string render_plan(const Result<ap::Plan>& plan, const View& v, const std::string& source,
                        const std::string& file) {
  std::ostringstream o;
  o << head(v.lang, tr(v.lang, "plan"));
  top_bar(o, v);
  o << "<main>";
  if (plan)
    plan_section(o, *plan, v, source, file);
  else
    o << "<section id=\"plan\" data-error=\"1\"><h2>" << e(tr(v.lang, "plan")) << "</h2><p class=\"error\">" << e(file)
      << ": " << e(plan.error().what()) << "</p></section>";
  o << "<p><a href=\"/\" id=\"plan-back\">" << e(tr(v.lang, "back")) << "</a></p></main></body></html>\n";
  return o.str();
}

std::string render_login(const std::string& lang, const std::string& token, const std::string& message) {
  std::ostringstream o;
  o << head(lang, tr(lang, "login")) << "<main id=\"login\"><h1>" << e(tr(lang, "title")) << "</h1>";
  if (!message.empty()) o << "<p id=\"flash\" class=\"error\">" << e(message) << "</p>";
  o << "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"token\" value=\"" << e(token)
    << "\"><label>" << e(tr(lang, "password"))
    << " <input type=\"password\" name=\"password\" id=\"password\" autofocus required></label> "
    << "<button type=\"submit\" id=\"login-button\">" << e(tr(lang, "login"))
    << "</button></form></main></body></html>\n";
  return o.str();
}

std::string render_error(const std::string& lang, const std::string& csrf, const std::string& message) {
  std::ostringstream o;
  o << head(lang, tr(lang, "title"));
  View v{lang, csrf, message, true, {}};
  top_bar(o, v);
  o << "</body></html>\n";
  return o.str();
}

}  // namespace airlock::ui

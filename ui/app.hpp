// Internal to ui/: the state of one `airlock serve` shared by its handlers.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "ui/auth.hpp"
#include "ui/model.hpp"
#include "ui/runner.hpp"
#include "ui/server.hpp"

namespace airlock::ui {

inline constexpr const char* kSessionCookie = "airlock_session";
inline constexpr const char* kLoginCookie = "airlock_login";

struct App {
  ServeOptions opt;
  applier::Site site;  // as loaded at start: the [ui] settings
  std::vector<std::string> hosts;
  bool tls = false;
  Sessions sessions;
  LoginThrottle throttle;
  Runner runner;
  NotesCache notes;
  std::atomic<bool> stopping{false};
  // The applier's functions are called one at a time from the HTTP workers: schedule's local time
  // sets TZ for a call, which is not safe beside another call in this process.
  std::mutex applier_mu;
  std::mutex upload_mu;  // one upload at a time
  std::mutex audit_mu;  // entries in the order the page took its actions

  void log(const std::string& line) const {
    if (opt.log) opt.log(line);
  }
  // The environment of every applier call the page makes: its history rows say "via page".
  applier::Env env(const std::string& client);
  // An audit entry "page" for `action`, on disk when this returns: in the log, or, while a run
  // holds the site, in the site's audit spool, which the next command to open the site records
  // (applier/audit_spool.hpp). While the page's own apply runs, entries go to the spool without
  // trying the site lock (taking it then could make that apply busy); the apply's own thread
  // records them with its result (Source::run).
  enum class Source { request, run };
  void audit(const std::string& action, const std::string& detail, Source from = Source::request);
  // At exit: records what the spool holds unless a run still holds the site (then the next
  // command does).
  void flush_audit();
  // A cookie's name on the wire: under TLS with the __Host- prefix, which a browser accepts only
  // from a secure origin, for this host alone and the whole path (no other site can set it).
  std::string cookie_name(const std::string& base) const { return tls ? "__Host-" + base : base; }
  // The one value of cookie `base` the request carries: "" when none, nullopt when more than one.
  std::optional<std::string> cookie_of(const httplib::Request& req, const std::string& base) const;
  std::string cookie(const std::string& base, const std::string& value, int max_age_s) const;
};

// The session a request carries (nullopt: none or expired).
std::optional<Session> session_of(App& app, const httplib::Request& req);
// A POST's session and CSRF token (a form field `csrf`, or the X-CSRF-Token header) checked; on a
// failure the response is set (303 to the login, or 403) and nullopt returned.
std::optional<Session> post_session(App& app, const httplib::Request& req, httplib::Response& res);
std::string page_language(const httplib::Request& req, const Session* s);
void redirect(httplib::Response& res, const std::string& to);
void refuse(httplib::Response& res, int status, const std::string& why);

void add_page_routes(App& app, httplib::Server& svr);
void add_action_routes(App& app, httplib::Server& svr);
void add_upload_route(App& app, httplib::Server& svr);

}  // namespace airlock::ui

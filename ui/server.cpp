#include "ui/server.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <charconv>

#include <chrono>
#include <thread>

#include "applier/channel.hpp"
#include "core/crypto/password_hash.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"
#include "ui/app.hpp"
#include "ui/conn.hpp"
#include "ui/i18n.hpp"
#include "ui/page.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;

constexpr std::size_t kMaxPasswordFileBytes = 4096;
constexpr std::size_t kMaxPasswordBytes = 1024;
// Every form the page posts is a few fields; only the upload carries a bundle.
constexpr std::uint64_t kMaxFormBodyBytes = 64 * 1024;

// Every response: no framing, no sniffing, no referrer to other sites (same-origin: with
// no-referrer a browser sends "Origin: null", which the Origin check refuses), no caching; scripts and styles only from
// this server's own assets. No Access-Control-* header is ever sent (no CORS).
httplib::Headers security_headers(bool tls) {
  httplib::Headers h{{"Content-Security-Policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
                     {"X-Content-Type-Options", "nosniff"},
                     {"X-Frame-Options", "DENY"},
                     {"Referrer-Policy", "same-origin"},
                     {"Cache-Control", "no-store"}};
  if (tls) h.emplace("Strict-Transport-Security", "max-age=31536000");
  return h;
}

std::string uid_name() {
  const uid_t uid = ::getuid();
  std::string who = "uid " + std::to_string(uid);
  if (const passwd* pw = ::getpwuid(uid); pw && pw->pw_name) who += " (" + printable(pw->pw_name) + ")";
  return who;
}

// DNS rebinding: a page of another origin whose name now points here sends its own Host. Origin,
// when a browser sends it, must be this server too.
httplib::Server::HandlerResponse check_host(App& app, const httplib::Request& req, httplib::Response& res) {
  if (!host_allowed(app.hosts, req.get_header_value("Host"))) {
    app.log("refused: Host '" + printable(req.get_header_value("Host")) + "' from " + req.remote_addr);
    refuse(res, 421, "this server does not answer to that Host name");
    return httplib::Server::HandlerResponse::Handled;
  }
  // Every port of the host shares the browser's cookies: another local server can set a session
  // cookie of the same name beside ours. Which one is meant cannot be told, so neither is used.
  if (!app.cookie_of(req, kSessionCookie) || !app.cookie_of(req, kLoginCookie)) {
    app.log("refused: two session cookies from " + req.remote_addr);
    refuse(res, 400, "the request carries two session cookies: clear this site's cookies and log in again");
    return httplib::Server::HandlerResponse::Handled;
  }
  // A body framed two ways, or with two lengths, is read one way here and maybe another by a
  // proxy in front: refused, never guessed at (RFC 9112 §6.1, §6.3).
  if ((req.has_header("Transfer-Encoding") && req.has_header("Content-Length")) ||
      req.get_header_value_count("Content-Length") > 1 || req.get_header_value_count("Transfer-Encoding") > 1) {
    refuse(res, 400, "the body's length is given twice (Content-Length and Transfer-Encoding, or two of one)");
    return httplib::Server::HandlerResponse::Handled;
  }
  // The body is read after this handler. Only the sideload upload may be large (up to [ui]
  // upload_limit) or chunked, and only for a session: anything else is refused before a byte of
  // it is buffered.
  if (req.method == "POST" && req.path == "/action/upload") {
    if (!session_of(app, req)) {
      refuse(res, 403, "no session: log in first");
      return httplib::Server::HandlerResponse::Handled;
    }
  } else if (req.has_header("Transfer-Encoding")) {
    refuse(res, 411, "a chunked body is accepted only for an upload");
    return httplib::Server::HandlerResponse::Handled;
  } else if (req.has_header("Content-Length")) {
    const std::string len = req.get_header_value("Content-Length");
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (ec != std::errc() || end != len.data() + len.size() || n > kMaxFormBodyBytes) {
      refuse(res, 413, "a form body is at most " + std::to_string(kMaxFormBodyBytes) + " bytes");
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    const std::string scheme = app.tls ? "https://" : "http://";
    if (origin.rfind(scheme, 0) != 0 || !host_allowed(app.hosts, origin.substr(scheme.size()))) {
      refuse(res, 403, "cross-origin request refused");
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

Result<std::string> read_password_hash(const ap::Site& site) {
  auto read = read_file(site.ui.password_file, kMaxPasswordFileBytes, ErrorClass::usage);
  if (!read)  // a configuration to complete, not an I/O fault
    return fail(read.error()
                    .reclassed(ErrorClass::usage)
                    .with_context("[ui] password_file; set one with `airlock ui passwd --site " + site.file + "`"));
  std::string text = std::move(*read);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void login_routes(App& app, httplib::Server& svr) {
  svr.Get("/login", [&app](const httplib::Request& req, httplib::Response& res) {
    const std::string token = crypto::random_hex(32);
    res.set_header("Set-Cookie", app.cookie(kLoginCookie, token, 600));
    res.set_content(render_login(page_language(req, nullptr), token, ""), "text/html; charset=utf-8");
  });
  svr.Post("/login", [&app](const httplib::Request& req, httplib::Response& res) {
    const std::string lang = page_language(req, nullptr);
    const std::string token = app.cookie_of(req, kLoginCookie).value_or("");
    if (token.size() != 64 || !crypto::equal_secret(token, req.get_param_value("token")))
      return refuse(res, 403, "the login form is stale or forged; reload /login");
    if (auto wait = app.throttle.begin(req.remote_addr); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      res.status = 429;
      res.set_content(render_login(lang, token, tr(lang, "login_wait") + " " + std::to_string(wait)),
                      "text/html; charset=utf-8");
      return;
    }
    auto hash = read_password_hash(app.site);
    const std::string pw = req.get_param_value("password");
    const bool ok = hash && pw.size() <= kMaxPasswordBytes && crypto::password_matches(*hash, pw);
    const int failed_before = app.throttle.failures_since_login();
    app.throttle.finished(req.remote_addr, ok);
    if (!ok) {
      // Logged, not audited one by one: an audit entry takes the site lock, which a flood of
      // wrong passwords must not be able to hold against a real upgrade. The next login's entry
      // carries the count.
      app.log("login refused: client " + req.remote_addr);
      res.status = 401;
      res.set_content(render_login(lang, token, tr(lang, "login_failed")), "text/html; charset=utf-8");
      return;
    }
    Session s = app.sessions.create(*hash);
    app.audit("login", "client " + req.remote_addr + ", " + std::to_string(failed_before) +
                           " failed login(s) since the last one");
    res.set_header("Set-Cookie", app.cookie(kSessionCookie, s.id, static_cast<int>(kSessionMax.count() * 3600)));
    redirect(res, "/");
  });
  svr.Post("/logout", [&app](const httplib::Request& req, httplib::Response& res) {
    auto s = post_session(app, req, res);
    if (!s) return;
    app.sessions.remove(s->id);
    app.audit("logout", "client " + req.remote_addr);
    res.set_header("Set-Cookie", app.cookie(kSessionCookie, "", 0));
    redirect(res, "/login");
  });
}

Status check_tls_files(const ap::Site& site) {
  for (const auto& p : {site.ui.tls_cert, site.ui.tls_key}) {
    struct stat sb {};
    if (::stat(p.c_str(), &sb) != 0) return fail(ErrorClass::usage, "[ui] TLS file '" + p + "' cannot be read");
  }
  return {};
}

std::unique_ptr<httplib::Server> make_server(const ap::Site& site) {
  if (site.ui.tls_cert.empty()) return std::make_unique<GuardedServer<httplib::Server>>();
  auto svr = std::make_unique<GuardedServer<httplib::SSLServer>>(site.ui.tls_cert.c_str(), site.ui.tls_key.c_str());
  // TLS 1.2 at least, and only forward-secret AEAD suites for 1.2 (1.3's are all of that kind).
  if (SSL_CTX* ctx = svr->ssl_context()) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  }
  return svr;
}

Status run_server(App& app, httplib::Server& svr, const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return fail(ErrorClass::usage, "--listen '" + printable(listen) + "' has no port number");
  }
  if (port < 0 || port > 65535)
    return fail(ErrorClass::usage, "--listen port " + std::to_string(port) + " is out of range");
  if (port == 0) {
    port = svr.bind_to_any_port(host);
    if (port < 0) return fail(ErrorClass::io, "cannot listen on " + printable(listen));
  } else if (!svr.bind_to_port(host, port)) {
    return fail(ErrorClass::io, "cannot listen on " + printable(listen));
  }
  if (app.hosts.empty())
    app.hosts = accepted_hosts(app.site.ui.hosts, listen.substr(0, colon + 1) + std::to_string(port));
  if (app.opt.listening) app.opt.listening(port);
  std::thread watch([&] {
    while (!app.stopping && !(app.opt.stop && app.opt.stop()))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    app.stopping = true;  // a running apply sees it as a termination signal (rolled back or stopped)
    svr.stop();
  });
  const bool ok = svr.listen_after_bind();
  app.stopping = true;
  watch.join();
  app.runner.join();
  app.flush_audit();  // the entries a busy site could not take yet are not lost with the process
  if (!ok) return fail(ErrorClass::io, "the server on " + printable(listen) + " stopped");
  return {};
}

}  // namespace

ap::Env App::env(const std::string& client) {
  ap::Env e;
  e.started_by = "via page, " + uid_name() + (client.empty() ? "" : ", client " + client);
  e.interrupted = [this] { return stopping ? SIGTERM : 0; };
  return e;
}

void App::audit(const std::string& action, const std::string& detail, Source from) {
  std::lock_guard lk(audit_mu);
  const bool own_run = from == Source::request && runner.progress().running;
  std::lock_guard al(applier_mu);
  auto r = ap::audit_page_action(opt.site_toml, action, detail, env(""),
                                 own_run ? ap::PageAudit::spool : ap::PageAudit::record);
  if (!r) log("audit entry not recorded (" + r.error().what() + "): " + action + ": " + printable(detail));
}

void App::flush_audit() {
  std::lock_guard lk(audit_mu);
  std::lock_guard al(applier_mu);
  if (auto r = ap::record_spooled_audit(opt.site_toml, env("")); !r && r.error().cls() != ErrorClass::busy)
    log("audit spool not recorded at exit (" + r.error().what() + ")");
}

std::optional<std::string> App::cookie_of(const httplib::Request& req, const std::string& base) const {
  std::vector<std::string> found;
  const auto [from, to] = req.headers.equal_range("Cookie");
  for (auto it = from; it != to; ++it)
    for (auto& v : cookie_values(it->second, cookie_name(base))) found.push_back(std::move(v));
  if (found.size() > 1) return std::nullopt;
  return found.empty() ? "" : found.front();
}

std::string App::cookie(const std::string& base, const std::string& value, int max_age_s) const {
  return cookie_name(base) + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
         "; HttpOnly; SameSite=Strict" + (tls ? "; Secure" : "");
}

std::optional<Session> session_of(App& app, const httplib::Request& req) {
  auto s = app.sessions.find(app.cookie_of(req, kSessionCookie).value_or(""));
  if (!s) return s;
  // `airlock ui passwd` ends every session opened with the password it replaced.
  auto hash = read_password_hash(app.site);
  if (!hash || !crypto::equal_secret(*hash, s->password_hash)) {
    app.sessions.remove(s->id);
    return std::nullopt;
  }
  return s;
}

std::optional<Session> post_session(App& app, const httplib::Request& req, httplib::Response& res) {
  auto s = session_of(app, req);
  if (!s) {
    refuse(res, 403, "no session: log in first");
    return std::nullopt;
  }
  // The token travels in the form body or a header, never in the URL (which lands in logs and
  // history); httplib merges query and form parameters, so the URL is checked by hand.
  const auto query = req.target.find('?');
  if (query != std::string::npos && req.target.find("csrf", query) != std::string::npos) {
    refuse(res, 403, "the CSRF token belongs in the form or the X-CSRF-Token header, never in the URL");
    return std::nullopt;
  }
  std::string token =
      req.has_header("X-CSRF-Token") ? req.get_header_value("X-CSRF-Token") : req.get_param_value("csrf");
  if (!crypto::equal_secret(token, s->csrf)) {
    app.log("refused: a POST to " + req.path + " without its CSRF token, from " + req.remote_addr);
    refuse(res, 403, "the request's CSRF token is missing or wrong");
    return std::nullopt;
  }
  return s;
}

std::string page_language(const httplib::Request& req, const Session* s) {
  if (s && !s->lang.empty()) return s->lang;
  return pick_language(req.get_header_value("Accept-Language"));
}

void redirect(httplib::Response& res, const std::string& to) {
  res.status = 303;
  res.set_header("Location", to);
}

void refuse(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  res.set_content(why + "\n", "text/plain; charset=utf-8");
}

Result<std::string> set_password(const std::string& site_toml, const std::string& password) {
  AIRLOCK_TRY(auto site, ap::load_site(site_toml), "ui passwd");
  if (password.size() < 8) return fail(ErrorClass::usage, "the password must have at least 8 bytes");
  if (password.size() > kMaxPasswordBytes) return fail(ErrorClass::usage, "the password is longer than 1024 bytes");
  AIRLOCK_TRY(auto hash, crypto::password_hash(password), "ui passwd");
  AIRLOCK_CHECK(make_dirs(parent_dir(site.ui.password_file)), "ui passwd");
  AIRLOCK_CHECK(write_file_atomic(site.ui.password_file, hash + "\n", 0600, Perms::exact), "ui passwd");
  return site.ui.password_file;
}

Status serve(const ServeOptions& o) {
  App app;
  app.opt = o;
  AIRLOCK_TRY(app.site, ap::load_site(o.site_toml), "serve");
  const std::string listen = o.listen.empty() ? app.site.ui.listen : o.listen;
  app.tls = !app.site.ui.tls_cert.empty();
  const bool loopback =
      listen.rfind("127.", 0) == 0 || listen.rfind("[::1]:", 0) == 0 || listen.rfind("localhost:", 0) == 0;
  if (!loopback && !app.tls)
    return fail(ErrorClass::usage,
                "--listen '" + printable(listen) + "' is not loopback: set [ui] tls_cert and tls_key");
  if (app.tls) AIRLOCK_CHECK(check_tls_files(app.site), "serve");
  AIRLOCK_TRY(auto hash, read_password_hash(app.site), "serve");
  (void)hash;  // read again at each login: `ui passwd` takes effect without a restart
  AIRLOCK_CHECK(make_dirs(app.site.ui.inbox), "serve: [ui] inbox");
  app.hosts = listen.substr(listen.rfind(':') + 1) == "0" ? std::vector<std::string>{}
                                                          : accepted_hosts(app.site.ui.hosts, listen);
  auto svr = make_server(app.site);
  if (!svr->is_valid()) return fail(ErrorClass::usage, "[ui] tls_cert/tls_key could not be loaded");
  svr->set_default_headers(security_headers(!app.site.ui.tls_cert.empty()));
  // The upload's body is read by its handler (request_body()), never by the library: every body
  // the library reads is a form's.
  svr->set_payload_max_length(kMaxFormBodyBytes);
  svr->set_pre_routing_handler(
      [&app](const httplib::Request& req, httplib::Response& res) { return check_host(app, req, res); });
  login_routes(app, *svr);
  add_page_routes(app, *svr);
  add_action_routes(app, *svr);
  add_upload_route(app, *svr);
  return run_server(app, *svr, listen);
}

}  // namespace airlock::ui

// `airlock serve`: the site's Updates page (docs/site.md, [ui]). A small HTTPS/HTTP server
// (cpp-httplib) on loopback by default, any other address only with TLS. Every action calls the
// same applier functions as the CLI commands (status, scan, apply, schedule add, skip, delay,
// channel set, history, audit export); the page adds no logic of its own. Security: a login
// always, sessions in HttpOnly SameSite=Strict cookies, a CSRF token on every POST, the Host
// header checked against [ui] hosts, a strict Content-Security-Policy with no inline script, no
// CORS, uploads streamed to a server-chosen name under a size limit, every action audited.
#pragma once

#include <functional>
#include <string>

#include "core/error.hpp"

namespace airlock::ui {

struct ServeOptions {
  std::string site_toml;
  std::string listen;                           // "" = [ui] listen
  std::function<void(const std::string&)> log;  // one line per notable event (the cli prints it)
  std::function<bool()> stop;                   // polled: true ends the server
  std::function<void(int port)> listening;      // called once bound (tests use port 0)
};

// Runs until `stop` says so. Errors: usage (2) for a bad site or [ui] (no password file yet,
// listen not loopback without TLS), io (3) when the address cannot be bound.
[[nodiscard]] airlock::Status serve(const ServeOptions& o);

// `airlock ui passwd`: stores the hash of `password` in [ui] password_file (mode 0600, written
// atomically). ErrorClass::usage for a password shorter than 8 bytes. Returns the file's path.
[[nodiscard]] Result<std::string> set_password(const std::string& site_toml, const std::string& password);

}  // namespace airlock::ui

// `airlock serve` (the Updates page, ui/server.hpp), `airlock ui passwd` (its password) and
// `airlock channel set|show` (the operator's channel, applier/channel.hpp).
#include <unistd.h>

#include <iostream>

#include "applier/channel.hpp"
#include "cli/cmd_serve.hpp"
#include "cli/cmd_site.hpp"
#include "cli/password.hpp"
#include "cli/signals.hpp"
#include "core/text.hpp"
#include "ui/server.hpp"

namespace airlock::cli {
namespace {

namespace ap = airlock::applier;
using nlohmann::json;

constexpr std::size_t kMaxStdinPassword = 1024;

// The new password: the first line of stdin when it is not a terminal, else asked twice on it.
Result<std::string> new_password(const std::string& file) {
  if (::isatty(0)) return ask_new_password(file);
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) return fail(ErrorClass::usage, "no password on stdin");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > kMaxStdinPassword) return fail(ErrorClass::usage, "the password is longer than 1024 bytes");
  return line;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  std::string site, listen;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("listen", po::value<std::string>(&listen),
                  "ADDRESS:PORT to listen on (default [ui] listen, 127.0.0.1:8480); not loopback only with TLS");
  auto p =
      parse_args(argc, argv, "airlock serve [--site site.toml] [--listen 127.0.0.1:8480]",
                 "Serve the site's Updates page: the installed release, the channel, the bundles in the\n"
                 "[ui] inbox and stick, Upgrade now / Schedule / Skip / Delay, sideload upload, history\n"
                 "and the audit head. A login always ([ui] password_file, set with `airlock ui passwd`).\n"
                 "Runs until SIGTERM or SIGINT; an apply it started is then stopped like the CLI's.",
                 o, {}, "  airlock ui passwd --site /srv/site/site.toml\n  airlock serve --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  catch_termination_signals();
  ui::ServeOptions so;
  so.site_toml = site;
  so.listen = listen;
  so.log = [](const std::string& line) { std::cerr << "serve: " << printable(line) << "\n"; };
  so.stop = [] { return termination_signal() != 0; };
  so.listening = [&](int port) {
    std::cerr << "serve: listening on port " << port << "\n";
    std::cout << "port " << port << std::endl;  // scripts and tests read the port (with --listen ...:0)
  };
  auto s = ui::serve(so);
  if (!s) return report_error("serve", s.error(), false);
  return 0;
}

int cmd_ui(int argc, char** argv) {
  std::string site, action;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("action", po::value<std::string>(&action), "passwd");
  po::positional_options_description pos;
  pos.add("action", 1);
  auto p = parse_args(argc, argv, "airlock ui passwd [--site site.toml]",
                      "Set the Updates page's password: its Argon2id hash (libsodium crypto_pwhash_str) goes into\n"
                      "[ui] password_file (mode 0600, written atomically). The password comes from the first\n"
                      "line of stdin, or is asked twice on the terminal. At least 8 bytes.",
                      o, pos, "  printf '%s\\n' \"$PW\" | airlock ui passwd --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  if (action != "passwd")
    return report_error("ui", Error(ErrorClass::usage, "unknown action '" + printable(action) + "' (passwd)"), js);
  auto loaded = ap::load_site(site);
  if (!loaded) return report_error("ui", loaded.error(), js);
  auto pw = new_password(loaded->ui.password_file);
  if (!pw) return report_error("ui", pw.error(), js);
  auto r = ui::set_password(site, *pw);
  if (!r) return report_error("ui", r.error(), js);
  if (js)
    print_json({{"ok", true}, {"password_file", *r}});
  else
    std::cout << "ui: password set in " << *r << "\n";
  return 0;
}

int cmd_channel(int argc, char** argv) {
  std::string site;
  std::vector<std::string> args;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("args", po::value<std::vector<std::string>>(&args), "set NAME | show");
  po::positional_options_description pos;
  pos.add("args", -1);
  auto p = parse_args(argc, argv, "airlock channel set (recommended|rc|beta) | show [--site site.toml] [--json]",
                      "The site's release channel. site.toml's `channel` is the default; `set` records the\n"
                      "operator's choice in <state_dir>/channel (audited), which status, scan, stage and apply\n"
                      "then use. The Updates page's channel switch does the same.",
                      o, pos, "  airlock channel set beta --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  if (args.size() == 1 && args[0] == "show") {
    auto s = ap::load_site(site);
    if (!s) return report_error("channel", s.error(), js);
    if (js)
      print_json({{"ok", true},
                  {"channel", channel_name(s->channel)},
                  {"default", channel_name(s->channel_default)},
                  {"chosen", s->channel_chosen}});
    else
      std::cout << channel_name(s->channel) << (s->channel_chosen ? " (chosen)" : " (site.toml default)") << "\n";
    return 0;
  }
  if (args.size() != 2 || args[0] != "set")
    return report_error("channel", Error(ErrorClass::usage, "give `set NAME` or `show`"), js);
  auto c = parse_channel(args[1]);
  if (!c)
    return report_error(
        "channel", Error(ErrorClass::usage, "unknown channel '" + printable(args[1]) + "' (recommended, rc, beta)"),
        js);
  auto r = ap::channel_set(site, *c, cli_env(true));
  if (!r) return report_error("channel", r.error(), js);
  if (js)
    print_json({{"ok", true}, {"site", r->site_name}, {"from", r->from}, {"to", r->to}, {"audit_head", r->audit_head}});
  else
    std::cout << "channel: " << r->from << " -> " << r->to << " on site " << r->site_name
              << "\n  audit head: " << r->audit_head << "\n";
  return 0;
}

}  // namespace airlock::cli

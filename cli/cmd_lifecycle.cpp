// `airlock skip` and `airlock delay`: the operator's word on a release the site should not install
// (skip) or not install yet (delay, critical releases only). Both are recorded in history and the
// audit log; the rules are in docs/site.md, "Skip, delay and critical releases".
#include <iostream>

#include "applier/lifecycle.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

int print_report(const std::string& cmd, const Result<ap::LifecycleReport>& r, bool js) {
  if (!r) return report_error(cmd, r.error(), js);
  if (js) {
    print_json({{"ok", true},
                {"site", r->site_name},
                {"action", r->action},
                {"version", r->version},
                {"at", r->at},
                {"until", r->until.empty() ? json(nullptr) : json(r->until)},
                {"first_seen", r->first_seen.empty() ? json(nullptr) : json(r->first_seen)},
                {"audit_head", r->audit_head}});
    return 0;
  }
  if (r->action == "skip")
    std::cout << cmd << ": release " << r->version << " skipped on site " << r->site_name << "\n";
  if (r->action == "unskip")
    std::cout << cmd << ": the skip of release " << r->version << " removed on site " << r->site_name << "\n";
  if (r->action == "delay")
    std::cout << cmd << ": critical release " << r->version << " delayed until " << r->until << " (first met "
              << r->first_seen << ")\n";
  std::cout << "  audit head: " << r->audit_head << "\n";
  return 0;
}

}  // namespace

int cmd_skip(int argc, char** argv) {
  std::string site, version;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("version", po::value<std::string>(&version), "the release to skip")(
      "undo", "remove the skip, so that the release may be applied again");
  po::positional_options_description pos;
  pos.add("version", 1);
  auto p = parse_args(argc, argv, "airlock skip VERSION [--undo] [--site site.toml] [--json]",
                      "Record that the site is not to install release VERSION: `apply` refuses it (13) until\n"
                      "`airlock skip VERSION --undo`. A critical release cannot be skipped (13, naming its\n"
                      "deadline); it can only be delayed with `airlock delay`. A skip of a release the site has\n"
                      "not met yet is kept; if that release turns out critical, the skip is void.",
                      o, pos, "  airlock skip 1.2.0 --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  if (version.empty()) return report_error("skip", Error(ErrorClass::usage, "give the VERSION to skip"), js);
  const auto undo = p.vm.count("undo") ? ap::Undo::yes : ap::Undo::no;
  return print_report("skip", ap::skip(site, version, undo, cli_env(js)), js);
}

int cmd_delay(int argc, char** argv) {
  std::string site, version, until;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("version", po::value<std::string>(&version), "the critical release to delay")(
      "until", po::value<std::string>(&until), "the new deadline (RFC 3339, e.g. 2026-05-06T10:00:00Z)");
  po::positional_options_description pos;
  pos.add("version", 1);
  auto p = parse_args(argc, argv, "airlock delay VERSION --until TIME [--site site.toml] [--json]",
                      "Postpone a critical release until TIME, at most [policy] critical_max_delay (7 days by\n"
                      "default and at most) after the site first met it; later is refused (13). The first\n"
                      "delay of a release the site has not met records it as met now.",
                      o, pos, "  airlock delay 1.2.1 --until 2026-05-06T22:00:00Z --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  bool js = p.vm.count("json") > 0;
  if (version.empty() || until.empty())
    return report_error("delay", Error(ErrorClass::usage, "give the VERSION and --until TIME"), js);
  return print_report("delay", ap::delay(site, version, until, cli_env(js)), js);
}

}  // namespace airlock::cli

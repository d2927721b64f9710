// `airlock telemetry export|summarize`: opt-in run outcomes carried from sites to HQ
// (docs/telemetry.md). export runs at a site; summarize at HQ over the exports carried back.
#include <iostream>

#include "applier/telemetry.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

const char* kUsage =
    "airlock telemetry export --out FILE [--site site.toml] [--all] [--json]\n"
    "       airlock telemetry summarize FILE... [--json]";

const char* kDescription =
    "Opt-in telemetry ([telemetry] enabled = true in site.toml; off by default). A site with it on\n"
    "keeps one row per apply run: a random pseudonymous site id, product, versions, channel,\n"
    "outcome, phase durations, the failing checks (names hashed unless [telemetry] check_names =\n"
    "true) and their kind, airlock's version, the run id and date. Nothing is kept before consent.\n"
    "`export` writes the rows not exported before (every row with --all) to a new file as JSON Lines\n"
    "(schema airlock-telemetry/1, docs/telemetry.md), marks them exported, and records the file's\n"
    "sha256 in the audit log. `summarize` reads exports from many sites, drops duplicates (same site\n"
    "and run) and prints per version and channel: runs, first-attempt success rate, rollbacks with\n"
    "their failing checks, median and p95 durations. Exit codes: 2 usage (an existing --out), 3 I/O,\n"
    "10 a malformed export line (named by file and line), 32 busy.";

int do_export(const po::variables_map& vm, const std::string& site, bool js) {
  if (!vm.count("out")) return report_error("telemetry", Error(ErrorClass::usage, "export needs --out FILE"), js);
  if (vm.count("file")) return report_error("telemetry", Error(ErrorClass::usage, "export takes no FILE"), js);
  auto r = ap::telemetry_export(site, vm["out"].as<std::string>(), vm.count("all") > 0, cli_env(js));
  if (!r) return report_error("telemetry", r.error(), js);
  if (js) {
    print_json({{"ok", true},
                {"file", r->file},
                {"sha256", r->sha256},
                {"rows", r->rows},
                {"all", r->all},
                {"site_id", r->site_id.empty() ? json(nullptr) : json(r->site_id)},
                {"audit_head", r->audit_head}});
    return 0;
  }
  std::cout << "telemetry: exported " << r->rows << " row(s) to " << printable(r->file) << "\n  sha256 " << r->sha256
            << " (recorded in the audit log)\n  audit head: " << r->audit_head << "\n";
  return 0;
}

int do_summarize(const po::variables_map& vm, bool js) {
  if (!vm.count("file"))
    return report_error("telemetry", Error(ErrorClass::usage, "summarize needs at least one FILE"), js);
  auto s = ap::telemetry_summarize(vm["file"].as<std::vector<std::string>>());
  if (!s) return report_error("telemetry", s.error(), js);
  if (js) {
    json j = ap::telemetry_summary_json(*s);
    j["ok"] = true;
    print_input_json(j);
  } else {
    std::cout << printable(ap::telemetry_summary_text(*s), Newlines::keep);
  }
  return 0;
}

}  // namespace

int cmd_telemetry(int argc, char** argv) {
  std::string site, action;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("action", po::value<std::string>(&action)->required(), "export | summarize")(
      "file", po::value<std::vector<std::string>>(), "summarize: the exports (JSON Lines)")(
      "out,o", po::value<std::string>(), "export: the file to write (must not exist)")(
      "all", "export: every row kept, also those exported before");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", -1);
  auto p = parse_args(argc, argv, kUsage, kDescription, o, pos,
                      "  airlock telemetry export --out /media/usb/site-a.jsonl --site /srv/site/site.toml\n"
                      "  airlock telemetry summarize site-a.jsonl site-b.jsonl --json\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  if (action == "export") return do_export(p.vm, site, js);
  if (action == "summarize") return do_summarize(p.vm, js);
  return report_error("telemetry",
                      Error(ErrorClass::usage, "unknown action '" + printable(action) + "' (export, summarize)"), js);
}

}  // namespace airlock::cli

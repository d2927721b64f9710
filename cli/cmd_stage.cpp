// `airlock stage` and `airlock staged`: releases verified now and kept at the site to be applied
// later with `airlock apply --staged SHA256` (docs/site.md, "Staged releases").
#include <iostream>

#include "applier/staged.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

json staged_json(const ap::StagedRelease& r) {
  json j = {{"sha256", r.sha256},   {"version", r.version},     {"channel", r.channel},
            {"product", r.product}, {"critical", r.critical},   {"created", r.created},
            {"key_ids", r.key_ids}, {"staged_at", r.staged_at}, {"manifest_sha256", r.manifest_sha256},
            {"files", r.files},     {"bytes", r.bytes},         {"bundle_bytes", r.bundle_bytes}};
  j["expires"] = r.expires.empty() ? json(nullptr) : json(r.expires);
  j["problem"] = r.problem.empty() ? json(nullptr) : json(r.problem);
  return j;
}

std::string staged_line(const ap::StagedRelease& r) {
  if (!r.problem.empty()) return r.sha256 + "  DAMAGED: " + r.problem;
  return r.sha256 + "  v" + r.version + "  " + r.channel + "  " + r.staged_at + "  " + std::to_string(r.files) +
         " files, " + human_bytes(r.bytes);
}

int list(const std::string& site, bool js) {
  auto r = ap::staged_list(site);
  if (!r) return report_error("staged", r.error(), js);
  if (js) {
    json a = json::array();
    for (const auto& s : *r) a.push_back(staged_json(s));
    print_json({{"ok", true}, {"staged", a}});
    return 0;
  }
  if (r->empty()) std::cout << "(no staged releases)\n";
  for (const auto& s : *r) std::cout << staged_line(s) << "\n";
  return 0;
}

}  // namespace

int cmd_stage(int argc, char** argv) {
  std::string site, bundle, feed;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("bundle", po::value<std::string>(&bundle)->required(), "the bundle (.tar.zst)")(
      "feed", po::value<std::string>(&feed), "FEED.toml: the bundle must match it, as for apply --feed");
  po::positional_options_description pos;
  pos.add("bundle", 1);
  auto p = parse_args(argc, argv, "airlock stage BUNDLE [--site site.toml] [--feed FEED.toml] [--json]",
                      "Verify a bundle against the site's trust root and policy, as apply would now, and keep\n"
                      "it staged under its SHA-256, to apply later with `airlock apply --staged SHA256`.\n"
                      "The site keeps at most [site] staged_keep releases (default 3), removing the oldest.\n"
                      "Nothing of the site's targets changes. Exit codes as verify (10-13), 2, 3, 32 busy.",
                      o, pos, "  airlock stage demo-1.2.0.tar.zst --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  auto env = cli_env(js);
  if (auto s = feed.empty() ? Status{} : use_site_feed(site, feed, env, FeedUse::verify_only); !s)
    return report_error("stage", s.error(), js);
  auto r = ap::stage(site, bundle, env);
  if (!r) return report_error("stage", r.error(), js);
  if (js) {
    print_json({{"ok", true},
                {"staged", staged_json(r->release)},
                {"already_staged", r->already_staged},
                {"removed", r->removed}});
    return 0;
  }
  std::cout << "stage: " << (r->already_staged ? "already staged " : "staged ") << staged_line(r->release) << "\n";
  for (const auto& s : r->removed) std::cout << "  removed the oldest staged release " << s << "\n";
  return 0;
}

int cmd_staged(int argc, char** argv) {
  std::string site, action = "list", sha;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("action", po::value<std::string>(&action), "list (default) | remove")(
      "sha", po::value<std::string>(&sha), "remove: the bundle SHA-256 (or a unique prefix of 8+ hex digits)");
  po::positional_options_description pos;
  pos.add("action", 1).add("sha", 1);
  auto p = parse_args(argc, argv, "airlock staged [list | remove SHA256] [--site site.toml] [--json]",
                      "The releases kept by `airlock stage`, oldest first, and their removal.", o, pos);
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  if (action == "list") {
    if (!sha.empty()) return report_error("staged", Error(ErrorClass::usage, "list takes no SHA256"), js);
    return list(site, js);
  }
  if (action != "remove")
    return report_error("staged", Error(ErrorClass::usage, "unknown action '" + printable(action) + "' (list, remove)"),
                        js);
  if (sha.empty()) return report_error("staged", Error(ErrorClass::usage, "remove needs a SHA256"), js);
  auto r = ap::staged_remove(site, sha, cli_env(js));
  if (!r) return report_error("staged", r.error(), js);
  if (js)
    print_json({{"ok", true}, {"removed", staged_json(*r)}});
  else
    std::cout << "staged: removed " << r->sha256 << (r->version.empty() ? "" : "  v" + r->version) << "\n";
  return 0;
}

}  // namespace airlock::cli

// `airlock apply BUNDLE --dry-run`: the plan of an apply (applier/plan.hpp), printed; the site is
// left exactly as it was.
#include <iostream>

#include "applier/plan.hpp"
#include "cli/cmd_site.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

json plan_json(const ap::Plan& p) {
  json pre = json::array(), migs = json::array(), cfg = json::array(), svc = json::array(), chk = json::array();
  for (const auto& c : p.preflight)
    pre.push_back({{"name", c.name},
                   {"kind", c.kind},
                   {"hard", c.hard},
                   {"ok", c.ok},
                   {"skipped", c.skipped},
                   {"detail", c.detail}});
  for (const auto& m : p.migrations)
    migs.push_back({{"id", m.id},
                    {"database", m.database},
                    {"irreversible", m.irreversible},
                    {"already_applied", m.already_applied}});
  for (const auto& d : p.config)
    cfg.push_back({{"target", d.target},
                   {"path", d.path},
                   {"breaking", d.breaking},
                   {"changes", d.changes},
                   {"problem", d.problem.empty() ? json(nullptr) : json(d.problem)}});
  for (const auto& s : p.services) svc.push_back({{"name", s.name}, {"mode", s.mode}});
  for (const auto& c : p.checks)
    chk.push_back({{"name", c.name}, {"kind", c.kind}, {"hard", c.hard}, {"within_ms", c.within_ms}});
  return {{"ok", true},
          {"dry_run", true},
          {"site", p.site_name},
          {"product", p.product},
          {"bundle", p.bundle},
          {"from", p.from_version.empty() ? json(nullptr) : json(p.from_version)},
          {"to", p.to_version},
          {"channel", p.channel},
          {"critical", p.critical},
          {"preflight", pre},
          {"preflight_measures_only", p.preflight_measures_only},
          {"migrations", migs},
          {"config", cfg},
          {"services", svc},
          {"checks", chk},
          {"needs_accept_breaking", p.needs_accept_breaking},
          {"would_apply", !p.blocked},
          {"blockers", p.blockers},
          {"exit_code", p.blocked ? exit_code(*p.blocked) : 0}};
}

void print_plan(const ap::Plan& p) {
  std::cout << "dry run: " << p.site_name << " would go from "
            << (p.from_version.empty() ? "(nothing)" : p.from_version) << " to " << p.to_version << " (" << p.channel
            << (p.critical ? ", critical" : "") << "); nothing was changed\n";
  for (const auto& c : p.preflight)
    std::cout << "  preflight " << c.name << " (" << c.kind << (c.hard ? ", hard" : ", soft") << "): "
              << (c.skipped                   ? "skipped"
                  : c.ok                      ? "ok"
                  : p.preflight_measures_only ? "fails (nothing is installed yet: the preflight checks only measure)"
                                              : "FAILS")
              << (c.detail.empty() ? "" : " - " + c.detail) << "\n";
  for (const auto& m : p.migrations)
    std::cout << "  migration " << m.id << " on " << m.database
              << (m.already_applied ? "  (already applied: skipped)" : "")
              << (m.irreversible ? "  IRREVERSIBLE (a rollback restores the snapshot)" : "  (reversible)") << "\n";
  for (const auto& d : p.config)
    std::cout << "  config " << d.target << " (" << d.path << ")" << (d.breaking ? "  BREAKING" : "")
              << (d.changes ? "  changes" : "  no change") << (d.problem.empty() ? "" : "  REFUSED: " + d.problem)
              << "\n";
  for (std::size_t i = 0; i < p.services.size(); ++i)
    std::cout << "  service " << i + 1 << ". " << p.services[i].name << " (" << p.services[i].mode << ")\n";
  for (const auto& c : p.checks)
    std::cout << "  check " << c.name << " (" << c.kind << ", " << (c.hard ? "hard" : "soft") << ", within "
              << c.within_ms << " ms)\n";
  if (!p.blocked) {
    std::cout << (p.preflight_measures_only
                      ? "  the apply would go ahead (nothing is installed yet: the preflight checks only measure)\n"
                      : "  the apply would go ahead\n");
    return;
  }
  for (const auto& b : p.blockers) std::cout << "  WOULD STOP: " << b << "\n";
}

}  // namespace

int dry_run(const std::string& site, const std::string& bundle, const std::string& staged, const std::string& feed,
            applier::Env env, bool js) {
  if (!staged.empty())
    return report_error("apply", Error(ErrorClass::usage, "--dry-run takes a BUNDLE, not --staged"), js);
  if (auto s = feed.empty() ? Status{} : use_site_feed(site, feed, env, FeedUse::verify_only); !s)
    return report_error("apply", s.error(), js);
  auto p = ap::plan_apply(site, bundle, env);
  if (!p) return report_error("apply", p.error(), js);
  if (js)
    print_json(plan_json(*p));
  else
    print_plan(*p);
  return p->blocked ? exit_code(*p->blocked) : 0;
}

}  // namespace airlock::cli

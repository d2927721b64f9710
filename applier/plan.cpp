// `apply --dry-run` (applier/plan.hpp): the plan of an apply, computed without changing the site.
#include "applier/plan.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "applier/config_apply.hpp"
#include "applier/files.hpp"
#include "applier/health.hpp"
#include "applier/image_store.hpp"
#include "applier/migrate.hpp"
#include "applier/run.hpp"
#include "applier/trust_state.hpp"
#include "core/limits.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "verifier/verifier.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;

void block(Plan& p, ErrorClass cls, const std::string& why) {
  p.blockers.push_back(why);
  if (!p.blocked) p.blocked = cls;
}

// The preflight's checks, read-only: the site's files and databases are there, every hook and
// exec check can start, the site is not degraded, and its health checks pass (measured once).
Status preflight(const Site& site, Plan& p) {
  AIRLOCK_TRY(auto degraded, StateDb::peek(site.state_dir, "degraded"), "state");
  if (degraded && *degraded == "1")
    block(p, ErrorClass::preflight, "site '" + site.name + "' is DEGRADED: repair it, then 'airlock ack'");
  const bool first = p.from_version.empty();
  p.preflight_measures_only = first;
  std::error_code ec;
  if (!first) {
    for (const auto& [name, path] : site.configs)
      if (!fs::exists(path, ec))
        block(p, ErrorClass::preflight, "config '" + name + "': file '" + path + "' is missing");
    for (const auto& [name, spec] : site.databases)
      if (!fs::exists(spec.location, ec))
        block(p, ErrorClass::preflight, "database '" + name + "': '" + spec.location + "' is missing");
  }
  if (auto why = unrunnable_child(site)) block(p, ErrorClass::preflight, *why);
  CheckRun run = run_checks(site, nullptr, nullptr, CheckMode::measure);
  p.preflight = run.results;
  if (run.hard_failed && !first)
    block(p, ErrorClass::preflight, "health checks fail before anything is applied: " + run.decided_by);
  return {};
}

Result<verifier::Report> verify_into(const Site& site, const Plan& p, const std::string& bundle, const Env& env,
                                     const std::string& scratch) {
  AIRLOCK_TRY(auto trust, read_file(site.trust_root, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(auto root, parse_trust_root(trust, ErrorClass::usage), "trust root '" + site.trust_root + "'");
  verifier::Request req;
  req.bundle_path = bundle;
  req.trust = root;
  AIRLOCK_TRY(req.revoked_keys, load_revoked_keys(site), "trust");
  req.policy.product = site.product;
  req.policy.channel = site.channel;
  req.policy.at = env.now();
  if (!p.from_version.empty()) {
    AIRLOCK_TRY(auto v, parse_semver(p.from_version), "installed version in state.db");
    req.policy.installed = v;
  }
  req.staging_dir = scratch;
  req.feed = env.feed;
  return verifier::verify(req);
}

Status plan_release(const Site& site, const Manifest& m, const std::string& payload, const Env& env, Plan& p) {
  p.to_version = m.release.version.text;
  p.channel = channel_name(m.release.channel);
  p.critical = m.release.critical;
  if (p.to_version == p.from_version)
    block(p, ErrorClass::policy, "release " + p.to_version + " is already installed; nothing to do");
  if (p.from_version.empty() && m.delta_base)
    block(p, ErrorClass::policy,
          "release " + p.to_version + " is a [delta] release (base " + *m.delta_base +
              "); a site with nothing installed needs a full release");
  else if (auto s = check_image_needs(site, payload, m); !s && s.error().cls() == ErrorClass::preflight)
    block(p, ErrorClass::preflight, s.error().what());
  else if (!s)
    return fail(s.error());
  for (const auto& mig : m.migrations) {
    PlannedMigration pm{mig.id, mig.database, !mig.down.has_value(), false};
    if (auto t = site.databases.find(mig.database); t != site.databases.end()) {
      std::error_code ec;
      if (fs::exists(t->second.location, ec)) {
        AIRLOCK_TRY(pm.already_applied, migration_recorded(t->second, mig.id), "plan");
      }
    } else {
      block(p, ErrorClass::policy,
            "migration '" + mig.id + "' targets database '" + mig.database + "', which the site does not have");
    }
    p.migrations.push_back(pm);
  }
  std::map<std::string, std::string> planned;  // several deltas may target one file
  for (const auto& cd : m.config) {
    PlannedDelta d{cd.target, "", cd.breaking, false, ""};
    auto path = site.configs.find(cd.target);
    if (path == site.configs.end()) {
      block(p, ErrorClass::policy, "config delta targets '" + cd.target + "', which the site does not have");
      p.config.push_back(d);
      continue;
    }
    d.path = path->second;
    if (!planned.count(cd.target)) {
      std::error_code ec;
      std::string current;
      if (fs::exists(d.path, ec)) {
        AIRLOCK_TRY(current, read_file(d.path, 16 << 20, ErrorClass::io), "config");
      }
      planned[cd.target] = current;
    }
    AIRLOCK_TRY(auto patch, read_file(payload + "/" + cd.patch, 4 << 20, ErrorClass::io), "config delta");
    if (auto next = apply_config_delta(planned[cd.target], patch); next) {
      d.changes = *next != planned[cd.target];
      planned[cd.target] = *next;
    } else {
      d.problem = next.error().what();
      block(p, next.error().cls(), "config delta for '" + cd.target + "': " + d.problem);
    }
    if (cd.breaking && env.accept_breaking != p.to_version) {
      p.needs_accept_breaking = true;
      block(p, ErrorClass::policy,
            "release " + p.to_version + " carries a breaking config delta (target '" + cd.target +
                "'): read its notes, then apply with --accept-breaking " + p.to_version);
    }
    p.config.push_back(d);
  }
  return {};
}

}  // namespace

Result<Plan> plan_apply(const std::string& site_toml, const std::string& bundle, const Env& env) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "dry run");
  Plan p;
  p.site_name = site.name;
  p.product = site.product;
  p.bundle = bundle;
  AIRLOCK_TRY(auto installed, StateDb::peek_installed(site.state_dir), "dry run");
  p.from_version = installed.value_or("");
  AIRLOCK_CHECK(preflight(site, p), "dry run");
  for (const auto& s : site.services) p.services.push_back({s.name, service_mode_name(s.mode)});
  for (const auto& c : site.checks) p.checks.push_back({c.name, check_kind_name(c.kind), c.hard, c.within_ms});
  // The payload is verified into a private folder outside the site, gone when the plan is made.
  std::string tmpl = (fs::temp_directory_path() / "airlock-plan-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return fail(errno_error("dry run: a scratch folder", tmpl, errno));
  struct Scratch {
    std::string dir;
    ~Scratch() { (void)remove_tree(dir); }
  } scratch{tmpl};
  AIRLOCK_TRY(auto rep, verify_into(site, p, bundle, env, scratch.dir + "/payload"), "verifying '" + bundle + "'");
  AIRLOCK_CHECK(plan_release(site, rep.manifest, scratch.dir + "/payload", env, p), "dry run");
  if (rep.feed_match) {
    p.channel = channel_name(rep.feed_match->channel);
    p.critical = rep.feed_match->critical;
  }
  return p;
}

}  // namespace airlock::applier

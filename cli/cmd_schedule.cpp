// `airlock schedule add|list|cancel` and `airlock run-due`: upgrades at a set time
// (docs/schedule.md). run-due is what the systemd timer runs every minute.
#include <iostream>

#include "applier/schedule.hpp"
#include "applier/test_clock.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

// The run environment, on the test build's clock when one is set (applier/test_clock.hpp).
ap::Env schedule_env(bool quiet) {
  ap::Env env = cli_env(quiet);
  if (auto fixed = ap::test_now()) env.now = [t = *fixed] { return t; };
  return env;
}

json opt_text(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json job_json(const ap::JobView& v) {
  const auto& j = v.job;
  return {{"id", j.id},
          {"state", j.state},
          {"version", j.version},
          {"staged", j.staged},
          {"expect_installed", opt_text(j.expect_installed)},
          {"at", j.at},
          {"at_local", v.at_local},
          {"preflight_at", j.preflight_at},
          {"preflight_local", v.preflight_local},
          {"window_end", j.window_end},
          {"window_local", v.window_local},
          {"timezone", v.timezone},
          {"created_at", j.created_at},
          {"created_by", j.created_by},
          {"preflight_done", opt_text(j.preflight_done)},
          {"run_id", opt_text(j.run_id)},
          {"outcome", opt_text(j.outcome)},
          {"detail", opt_text(j.detail)},
          {"finished_at", opt_text(j.finished_at)}};
}

std::string job_line(const ap::JobView& v) {
  const auto& j = v.job;
  std::string s = "job " + std::to_string(j.id) + "  " + j.state + "  v" + j.version + "  at " + j.at + " (" +
                  v.at_local + " " + v.timezone + ")";
  if (j.state == "pending") s += ", preflight from " + j.preflight_at + ", window until " + j.window_end;
  if (!j.outcome.empty()) s += "  outcome " + j.outcome;
  if (!j.detail.empty() && j.state != "finished") s += ": " + j.detail;
  return s;
}

Result<std::int64_t> duration_arg(const std::string& text, const std::string& what) {
  auto s = parse_duration(text);
  if (!s) return fail(ErrorClass::usage, what + " '" + printable(text) + "' is not a duration like 30m, 2h or 90s");
  return *s;
}

int add(const std::string& site, const std::vector<std::string>& args, const po::variables_map& vm, bool js) {
  if (args.size() != 2) return report_error("schedule", Error(ErrorClass::usage, "add takes one BUNDLE"), js);
  if (!vm.count("at")) return report_error("schedule", Error(ErrorClass::usage, "add needs --at TIME"), js);
  ap::ScheduleRequest req;
  req.bundle = args[1];
  req.at = vm["at"].as<std::string>();
  auto pre = duration_arg(vm["preflight-before"].as<std::string>(), "--preflight-before");
  auto win = duration_arg(vm["window"].as<std::string>(), "--window");
  if (!pre) return report_error("schedule", pre.error(), js);
  if (!win) return report_error("schedule", win.error(), js);
  req.preflight_before_s = *pre;
  req.window_s = *win;
  auto env = schedule_env(js);
  if (vm.count("feed"))  // accepted first, as apply --feed does; the staging then matches against it
    if (auto s = use_site_feed(site, vm["feed"].as<std::string>(), env, FeedUse::accept); !s)
      return report_error("schedule", s.error(), js);
  auto r = ap::schedule_add(site, req, env);
  if (!r) return report_error("schedule", r.error(), js);
  if (js) {
    print_json({{"ok", true}, {"job", job_json(*r)}, {"audit_head", r->audit_head}});
    return 0;
  }
  std::cout << "schedule: " << job_line(*r) << "\n  the release is staged; the stick may leave\n"
            << "  audit head: " << r->audit_head << "\n";
  return 0;
}

int list(const std::string& site, bool js) {
  auto r = ap::schedule_list(site);
  if (!r) return report_error("schedule", r.error(), js);
  if (js) {
    json a = json::array();
    for (const auto& v : *r) a.push_back(job_json(v));
    print_json({{"ok", true}, {"jobs", a}});
    return 0;
  }
  if (r->empty()) std::cout << "(no scheduled jobs)\n";
  for (const auto& v : *r) std::cout << job_line(v) << "\n";
  return 0;
}

int cancel(const std::string& site, const std::vector<std::string>& args, bool js) {
  if (args.size() != 2) return report_error("schedule", Error(ErrorClass::usage, "cancel takes one job ID"), js);
  auto id = parse_integer(args[1], 1, INT64_MAX, "job ID");
  if (!id) return report_error("schedule", id.error(), js);
  auto r = ap::schedule_cancel(site, *id, schedule_env(js));
  if (!r) return report_error("schedule", r.error(), js);
  if (js)
    print_json({{"ok", true}, {"job", job_json(*r)}, {"audit_head", r->audit_head}});
  else
    std::cout << "schedule: " << job_line(*r) << "\n";
  return 0;
}

}  // namespace

int cmd_schedule(int argc, char** argv) {
  std::string site;
  std::vector<std::string> args;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("at", po::value<std::string>(),
                  "add: RFC 3339 (2026-06-01T02:00:00+02:00), or HH:MM: its next occurrence in site.toml's timezone")(
      "preflight-before", po::value<std::string>()->default_value("30m"),
      "add: run the preflight this long before the time")(
      "feed", po::value<std::string>(),
      "add: FEED.toml (signatures beside it): accepted by the site first, as `feed accept` does; the bundle must "
      "match it")("window", po::value<std::string>()->default_value("2h"),
                  "add: a job not started by then (the machine was off) is missed, never run late")(
      "args", po::value<std::vector<std::string>>(&args), "add BUNDLE | list | cancel ID");
  po::positional_options_description pos;
  pos.add("args", -1);
  auto p = parse_args(
      argc, argv,
      "airlock schedule (add BUNDLE --at TIME [--feed FEED.toml] [--preflight-before 30m] [--window 2h] | list |\n"
      "                  cancel ID) [--site site.toml] [--json]",
      "Schedule an upgrade: `add` verifies the bundle and stages it now (the stick may leave), and records a\n"
      "job that `airlock run-due` (a systemd timer, every minute) carries out: the preflight checks and the\n"
      "staged files' hashes at max(now, TIME - preflight-before), then the apply at TIME, exactly as\n"
      "`apply --staged`. One open job per site. Times are stored in UTC and shown in both.\n"
      "Exit 2 a TIME in the past, 13 a TIME after the release expires or a second job, 10-13 as verify.",
      o, pos, "  airlock schedule add demo-1.2.0.tar.zst --at 02:00 --site /srv/site/site.toml\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  const std::string action = args.empty() ? "list" : args[0];
  if (action == "add") return add(site, args, p.vm, js);
  if (action == "list" && args.size() <= 1) return list(site, js);
  if (action == "cancel") return cancel(site, args, js);
  return report_error("schedule",
                      Error(ErrorClass::usage, "unknown action '" + printable(action) + "' (add, list, cancel)"), js);
}

int cmd_run_due(int argc, char** argv) {
  std::string site;
  po::options_description o("Options");
  add_common(o, site);
  auto p = parse_args(argc, argv, "airlock run-due [--site site.toml] [--json]",
                      "Carry out the site's scheduled job when it is due (meant for the systemd timer\n"
                      "airlock-run-due.timer, every minute): its preflight, then its apply. A job found after its\n"
                      "window is marked missed, never run late; one that finds another release installed than it\n"
                      "expected is cancelled. Exit 0 nothing due, waiting, applied, or the site busy (the next tick\n"
                      "tries again); 33 preflight failed (job cancelled); 13 job missed or cancelled; 30/31 as apply.",
                      o, {});
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  auto r = ap::run_due(site, schedule_env(js));
  if (!r) return report_error("run-due", r.error(), js);
  const int code = r->cls ? exit_code(*r->cls) : 0;
  if (r->run) {
    int rc = finish_run("run-due", *r->run, js);
    if (!js && r->job) std::cout << "  " << job_line(*r->job) << "\n";
    return rc;
  }
  if (js) {
    json j = {{"ok", !r->cls}, {"action", ap::due_action_name(r->action)}, {"detail", opt_text(r->detail)}};
    j["job"] = r->job ? job_json(*r->job) : json(nullptr);
    if (r->cls) j["exit_code"] = code;
    print_json(j);
  } else {
    std::cout << "run-due: " << ap::due_action_name(r->action);
    if (r->job)
      std::cout << "  " << job_line(*r->job);
    else if (!r->detail.empty())
      std::cout << ": " << r->detail;
    std::cout << "\n";
  }
  return code;
}

}  // namespace airlock::cli

// The site's child processes as a run sees them: hooks (their environment, result and output),
// the journal of running process groups, the preflight check that every child can start, and
// stopping the groups a killed airlock left running (process.hpp has the mechanics).
#include <algorithm>
#include <sstream>

#include "applier/image_store.hpp"
#include "applier/audit.hpp"
#include "core/sys/process.hpp"
#include "applier/run.hpp"
#include "applier/services.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

// A notify hook gets the reason in its environment: bounded, one printable line.
constexpr std::size_t kMaxDetailEnv = 4096;
constexpr std::size_t kMaxSignalsEnv = 16384;

// Every failing signal of the run, hard and soft, with its message: a JSON array of strings,
// whole entries dropped from the end to stay within the bound.
std::string signals_env(const json& data) {
  json all = json::array();
  for (const char* key : {"signals", "soft_failures"})
    if (auto it = data.find(key); it != data.end() && it->is_array())
      for (const auto& s : *it)
        if (s.is_string()) all.push_back(s);
  std::string text = all.dump(-1, ' ', false, json::error_handler_t::replace);
  while (text.size() > kMaxSignalsEnv && !all.empty()) {
    all.erase(all.size() - 1);
    text = all.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return text;
}

std::int64_t duration_ms(const std::string& from, const Timestamp& to) {
  auto t = parse_rfc3339(from);
  if (!t) return 0;
  std::int64_t ms = (to.unix_seconds - t->unix_seconds) * 1000 + (std::int64_t(to.nanos) - t->nanos) / 1000000;
  return std::max<std::int64_t>(ms, 0);
}

// The notice a notify hook gets as JSON on stdin (docs/site.md: "The notify hook"), and its one
// history line, also in AIRLOCK_HISTORY.
json notice_json(Ctx& c, const std::string& outcome, const std::string& detail, const std::string& signals) {
  const Timestamp now = c.env.now();
  const std::int64_t ms = duration_ms(c.run.started_at, now);
  std::string line = format_rfc3339(now) + " " + run_kind_name(c.run.kind) + " " +
                     (c.run.from_version.empty() ? "(none)" : c.run.from_version) + " -> " +
                     (c.run.to_version.empty() ? "(none)" : c.run.to_version) + ": " + outcome + " in " +
                     std::to_string((ms + 500) / 1000) + " s" + (detail.empty() ? "" : " (" + detail + ")");
  return {{"format", "airlock-notice/1"},
          {"site", c.site.name},
          {"run", c.run.run_id},
          {"kind", run_kind_name(c.run.kind)},
          {"outcome", outcome},
          {"from", c.run.from_version},
          {"to", c.run.to_version},
          {"started_at", c.run.started_at},
          {"finished_at", format_rfc3339(now)},
          {"duration_ms", ms},
          {"detail", detail},
          {"failing_checks", json::parse(signals, nullptr, false)},
          {"history", line},
          {"audit_head", audit_head_record(c.st)}};
}

json child_json(const ChildId& id, const std::string& what) {
  return {{"pgid", id.pgid}, {"start", id.start_ticks}, {"boot", id.boot_id}, {"what", what}};
}

bool same_child(const json& j, const ChildId& id) {
  return j.value("pgid", 0) == id.pgid && j.value("start", std::uint64_t{0}) == id.start_ticks;
}

void persist(Ctx& c) {
  // Best effort: an unrecorded child is still killed with airlock by PR_SET_PDEATHSIG; only its
  // own children could then outlive a crash. After the record the run row is gone and this is a
  // no-op (the notify hook).
  (void)c.st.set_run_data(c.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void emit_output(const Ctx& c, const std::string& name, const std::string& output) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) c.emit(name, "| " + line);
}

}  // namespace

void ChildJournal::started(const ChildId& id, const std::string& what) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!c_.data["children"].is_array()) c_.data["children"] = json::array();
  c_.data["children"].push_back(child_json(id, what));
  persist(c_);
}

void ChildJournal::ended(const ChildId& id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& kids = c_.data["children"];
  if (!kids.is_array()) return;
  kids.erase(std::remove_if(kids.begin(), kids.end(), [&](const json& j) { return same_child(j, id); }), kids.end());
  persist(c_);
}

bool run_hook(Ctx& c, const std::optional<Hook>& hook, const std::string& name, const std::string& outcome,
              const std::string& detail) {
  if (!hook) return true;
  json notice;  // notify only
  std::vector<std::string> env = {"AIRLOCK_SITE=" + c.site.name, "AIRLOCK_FROM=" + c.run.from_version,
                                  "AIRLOCK_TO=" + c.run.to_version, "AIRLOCK_PHASE=" + name};
  if (!outcome.empty()) {
    std::string d = printable_output(detail);
    std::replace(d.begin(), d.end(), '\n', ' ');
    std::size_t cut = std::min(d.size(), kMaxDetailEnv);
    while (cut < d.size() && (static_cast<unsigned char>(d[cut]) & 0xc0) == 0x80) --cut;  // whole characters
    env.push_back("AIRLOCK_OUTCOME=" + outcome);
    env.push_back("AIRLOCK_DETAIL=" + d.substr(0, cut));
    const std::string signals = signals_env(c.data);
    env.push_back("AIRLOCK_SIGNALS=" + signals);
    notice = notice_json(c, outcome, d.substr(0, cut), signals);
    env.push_back("AIRLOCK_RUN_ID=" + c.run.run_id);
    env.push_back("AIRLOCK_KIND=" + notice["kind"].get<std::string>());
    env.push_back("AIRLOCK_DURATION_MS=" + std::to_string(notice["duration_ms"].get<std::int64_t>()));
    env.push_back("AIRLOCK_HISTORY=" + notice["history"].get<std::string>());
  }
  if (name == "images") {  // the store and the images the site now runs (docs/site.md, "The image store")
    env.push_back("AIRLOCK_IMAGE_STORE=" + image_store_dir(c.site));
    env.push_back("AIRLOCK_IMAGES=" + current_images_env(c.site));
  }
  env.push_back("AIRLOCK_AUDIT_HEAD=" + audit_head_record(c.st));  // "<entries> <hash>": an external anchor
  auto r = run_process({hook->argv, c.site.base_dir, hook->timeout_ms, nullptr, env, &c.children, name + " hook"},
                       notice.is_null() ? "" : notice.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  emit_output(c, name, r.output);
  c.emit(name, name + " hook: " + r.describe());
  std::string tail = r.output_tail();
  std::string result = r.describe() + (r.ok() || tail.empty() ? "" : ": " + tail);
  c.data["hooks"][name] = {{"result", result}};
  // In the steps, so that history keeps what the hook said.
  if (c.data.contains("steps") && c.data["steps"].is_array())
    c.data["steps"].push_back({{"hook", name}, {"result", result}, {"output", r.output}});
  return r.ok();
}

std::string hook_result(const Ctx& c, const std::string& name) {
  if (!c.data.contains("hooks") || !c.data["hooks"].contains(name)) return "";
  return c.data["hooks"][name].value("result", std::string());
}

std::optional<std::string> unrunnable_child(const Site& site) {
  const std::pair<const char*, const std::optional<Hook>*> hooks[] = {
      {"drain", &site.drain}, {"resume", &site.resume}, {"notify", &site.notify}, {"images", &site.images}};
  for (const auto& [name, hook] : hooks)
    if (*hook)
      if (auto why = not_runnable((*hook)->argv, site.base_dir)) return std::string(name) + " hook cannot run: " + *why;
  for (const auto& check : site.checks) {
    std::vector<std::string> argv = check.argv;  // exec, restarts
    if (check.kind == CheckKind::systemd) argv = {"systemctl"};
    if (!argv.empty())
      if (auto why = not_runnable(argv, site.base_dir)) return "check '" + check.name + "' cannot run: " + *why;
  }
  return unrunnable_service(site);
}

void stop_orphans(Ctx& c, const Run& crashed) {
  auto data = json::parse(crashed.data.empty() ? "{}" : crashed.data, nullptr, false);
  if (!data.is_object() || !data.contains("children") || !data["children"].is_array()) return;
  for (const auto& j : data["children"]) {
    // A damaged record names nothing to kill.
    if (!j.is_object() || !j.contains("pgid") || !j.contains("start") || !j.contains("boot") ||
        !j["pgid"].is_number_integer() || !j["start"].is_number_unsigned() || !j["boot"].is_string())
      continue;
    ChildId id{j["pgid"].get<pid_t>(), j["start"].get<std::uint64_t>(), j["boot"].get<std::string>()};
    if (int n = kill_recorded_group(id); n > 0)
      c.emit("recover", "stopped the " + printable_output(j.value("what", std::string("child"))) +
                            " left running by the interrupted run (" + std::to_string(n) + " processes in group " +
                            std::to_string(id.pgid) + ")");
  }
}

}  // namespace airlock::applier

#include "ui/model.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "verifier/inspect.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;

void add_scan(const std::string& dir, const std::string& source, const std::string& site_toml, PageModel& m,
              NotesCache& notes) {
  auto r = ap::scan(dir, site_toml, ap::ScanDepth::head);
  if (!r) {
    m.scan_problems.push_back(source + ": " + r.error().what());
    return;
  }
  for (auto& b : r->bundles) {
    if (!b.manifest) continue;
    Offer o{source, b, "", std::nullopt};
    if (b.verified) o.notes = notes.notes(dir + "/" + b.file, b.notes_lang);
    for (const auto& c : m.status.critical)
      if (c.version == b.manifest->release.version.text) o.critical = c;
    if (m.status.installed == b.manifest->release.version.text)
      m.installed_created = format_rfc3339(b.manifest->release.created);
    m.offers.push_back(std::move(o));
  }
}

bool plain_name(const std::string& f) {
  return !f.empty() && f != "." && f != ".." && f.find('/') == std::string::npos && f.find('\0') == std::string::npos;
}

}  // namespace

std::string NotesCache::notes(const std::string& path, const std::string& lang) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return "";
  const std::string key = path + "\n" + lang + "\n" + std::to_string(sb.st_size) + "\n" + std::to_string(sb.st_mtime);
  {
    std::lock_guard lk(mu_);
    if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  }
  auto r = verifier::inspect(path, lang);
  std::string text = (r && r->notes_text) ? *r->notes_text : "";
  std::lock_guard lk(mu_);
  if (by_key_.size() > 256) by_key_.clear();
  by_key_[key] = text;
  return text;
}

std::optional<std::int64_t> estimate_duration_s(const std::vector<ap::HistoryEntry>& history) {
  std::vector<std::int64_t> lengths;
  for (const auto& h : history) {
    if (h.outcome != ap::outcome_name(ap::Outcome::applied)) continue;
    auto a = parse_rfc3339(h.started_at);
    auto b = parse_rfc3339(h.finished_at);
    if (a && b && b->unix_seconds >= a->unix_seconds) lengths.push_back(b->unix_seconds - a->unix_seconds);
  }
  if (lengths.empty()) return std::nullopt;
  std::sort(lengths.begin(), lengths.end());
  return lengths[lengths.size() / 2];
}

std::string offer_path(const ap::Site& site, const std::string& source, const std::string& file) {
  if (!plain_name(file)) return "";
  std::string path;
  if (source == "inbox") path = site.ui.inbox + "/" + file;
  if (source == "stick" && !site.ui.stick.empty()) path = site.ui.stick + "/" + file;
  // A bundle is a regular file, or the base name of its parts (spec §9).
  struct stat sb {};
  if (path.empty() ||
      (::stat(path.c_str(), &sb) == 0 ? !S_ISREG(sb.st_mode)
                                      : ::stat((path + ".part0001").c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)))
    return "";
  return path;
}

Result<PageModel> gather(const std::string& site_toml, NotesCache& notes) {
  PageModel m;
  AIRLOCK_TRY(m.site, ap::load_site(site_toml), "site");
  AIRLOCK_TRY(m.status, ap::status(site_toml), "status");
  add_scan(m.site.ui.inbox, "inbox", site_toml, m, notes);
  struct stat sb {};
  if (!m.site.ui.stick.empty() && ::stat(m.site.ui.stick.c_str(), &sb) == 0)
    add_scan(m.site.ui.stick, "stick", site_toml, m, notes);
  AIRLOCK_TRY(m.history, ap::history(site_toml), "history");
  m.estimate_s = estimate_duration_s(m.history);
  std::reverse(m.history.begin(), m.history.end());
  AIRLOCK_TRY(m.jobs, ap::schedule_list(site_toml), "schedule");
  return m;
}

}  // namespace airlock::ui

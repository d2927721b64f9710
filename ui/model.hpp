// What the Updates page shows, gathered from the applier's public functions only: status, scan
// (the inbox and the optional stick), history, the scheduled jobs and the release notes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/scan.hpp"
#include "applier/schedule.hpp"
#include "applier/site.hpp"

namespace airlock::ui {

struct Offer {
  std::string source;  // "inbox" | "stick"
  applier::ScannedBundle bundle;
  std::string notes;                                 // in notes_lang ("" when the bundle has none)
  std::optional<applier::CriticalRelease> critical;  // when the site holds it as a pending critical release
};

struct PageModel {
  applier::Site site;
  applier::SiteStatus status;
  std::string installed_created;  // the installed release's `created`, when a listed bundle has it
  std::vector<Offer> offers;      // every bundle the scans found with a manifest, newest first
  std::vector<std::string> scan_problems;
  std::vector<applier::HistoryEntry> history;  // newest first
  std::vector<applier::JobView> jobs;
  std::optional<std::int64_t> estimate_s;  // median length of this site's healthy applies
};

// The notes of a bundle (verifier::inspect), kept per file, size and mtime: a page view does not
// read a payload again.
class NotesCache {
 public:
  std::string notes(const std::string& path, const std::string& lang);

 private:
  std::mutex mu_;
  std::map<std::string, std::string> by_key_;
};

[[nodiscard]] Result<PageModel> gather(const std::string& site_toml, NotesCache& notes);

// The median of (finished - started) over the healthy applies in `history` (nullopt: none).
std::optional<std::int64_t> estimate_duration_s(const std::vector<applier::HistoryEntry>& history);

// The path of `file` as listed in the inbox or stick ("" when `source` is neither or the name is
// not a plain name of that folder).
std::string offer_path(const applier::Site& site, const std::string& source, const std::string& file);

}  // namespace airlock::ui

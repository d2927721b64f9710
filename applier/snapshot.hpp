// Snapshots: <state_dir>/snapshots/<id>/ holding every database (its target's copy: SQLite's
// online backup API, `pg_dump -Fc`; a live writer is fine), every config target file and the release pointer, described
// by meta.json (source, file, bytes, user_version, SHA-256, time per item) and sealed by SEALED (the SHA-256 of
// meta.json). A snapshot counts only once sealed: it is built in "<id>.partial" and renamed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "applier/state_db.hpp"
#include "core/error.hpp"

namespace airlock::applier {

struct SnapItem {
  std::string kind;     // "db" | "config"
  std::string name;     // logical name
  std::string source;   // the site's file
  std::string file;     // inside the snapshot folder
  bool absent = false;  // the config file did not exist
  std::uint64_t bytes = 0;
  std::int64_t user_version = 0;
  std::string sha256;
  // A server database's facts (core/db SnapshotFacts); meta.json has them only when not empty.
  std::string server_version;
  std::string last_migration;
};

struct SnapMeta {
  std::string id;
  std::string created_at;
  std::string release;
  std::string pointer;
  std::vector<SnapItem> items;
};

std::string snapshots_dir(const Site& site);
// Bytes a snapshot of the site needs now (sum of database and config file sizes).
std::uint64_t snapshot_size_estimate(const Site& site);

[[nodiscard]] Result<SnapMeta> take_snapshot(const Site& site, const std::string& id, const std::string& created_at,
                                             const std::string& release);
// Reads meta.json and checks the seal and every file's hash.
[[nodiscard]] Result<SnapMeta> load_sealed_snapshot(const Site& site, const std::string& id);
[[nodiscard]] Result<std::vector<SnapshotInfo>> list_snapshots(const Site& site);

enum class RestoreParts { all, configs_and_pointer };
// Puts every item back (databases atomically by rename, side files removed first). Idempotent.
[[nodiscard]] airlock::Status restore_snapshot(const Site& site, const SnapMeta& meta,
                                               RestoreParts parts = RestoreParts::all);
// Deletes automatic snapshots nobody needs: keeps `keep` (those a manual rollback may use), the
// newest `keep_newest` others, and every manual one ("manual-*"). Best effort.
void prune_snapshots(const Site& site, const std::vector<std::string>& keep, std::size_t keep_newest);

// Retention (docs/site.md): the snapshots and release payloads of the current release and of the
// kKeepPreviousReleases newest previous ones are kept (manual rollback reaches that far back);
// of the other automatic snapshots only the 2 newest; manual snapshots always. Best effort.
inline constexpr std::size_t kKeepPreviousReleases = 3;
void prune_retained(const Site& site, const std::vector<ReleaseRow>& releases);

// Restores one database item only.
[[nodiscard]] airlock::Status restore_database(const Site& site, const SnapMeta& meta, const std::string& name);

}  // namespace airlock::applier

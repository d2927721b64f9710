#include "applier/snapshot.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "applier/crash.hpp"
#include "applier/files.hpp"
#include "applier/image_store.hpp"
#include "applier/state_db.hpp"
#include "core/crypto/hash.hpp"
#include "core/db/target.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/paths.hpp"
#include "core/sys/synced_file.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxMetaBytes = 1 << 20;
// A snapshot holds what the site's files hold (configs keep secrets): only the owner may read it,
// whatever the umask. Its folders are 0700 (make_private_dir).
constexpr unsigned kSnapFileMode = 0600;

json to_json(const SnapMeta& m) {
  json items = json::array();
  for (const auto& i : m.items) {
    json item = {{"kind", i.kind},
                 {"name", i.name},
                 {"source", i.source},
                 {"file", i.file},
                 {"absent", i.absent},
                 {"bytes", i.bytes},
                 {"user_version", i.user_version},
                 {"sha256", i.sha256}};
    if (!i.server_version.empty()) item["server_version"] = i.server_version;
    if (!i.last_migration.empty()) item["last_migration"] = i.last_migration;
    items.push_back(std::move(item));
  }
  return {{"id", m.id}, {"created_at", m.created_at}, {"release", m.release}, {"pointer", m.pointer}, {"items", items}};
}

SnapMeta from_json(const json& j) {
  SnapMeta m;
  m.id = j.at("id");
  m.created_at = j.at("created_at");
  m.release = j.at("release");
  m.pointer = j.at("pointer");
  for (const auto& i : j.at("items"))
    m.items.push_back({i.at("kind"), i.at("name"), i.at("source"), i.at("file"), i.at("absent"), i.at("bytes"),
                       i.at("user_version"), i.at("sha256"), i.value("server_version", ""),
                       i.value("last_migration", "")});
  return m;
}

Result<SnapItem> snap_database(const std::string& dir, const db::TargetSpec& spec) {
  const std::string what = "snapshot of database '" + spec.name + "'";
  AIRLOCK_TRY(auto target, db::open_target(spec), what);
  SnapItem it{"db", spec.name, spec.location, target->snapshot_file(), false, 0, 0, "", "", ""};
  AIRLOCK_TRY(auto facts, target->snapshot_facts(), what);
  it.server_version = facts.server_version;
  it.last_migration = facts.last_migration;
  std::string dest = dir + "/" + it.file;
  // Created private first: the target would create the copy 0644 less the umask.
  AIRLOCK_CHECK(make_private_file(dest), what);
  AIRLOCK_TRY(it.user_version, target->snapshot_to(dest), what);
  AIRLOCK_TRY(auto synced, fsync_and_hash_file(dest), "snapshot");
  it.bytes = synced.bytes;
  it.sha256 = std::move(synced.sha256);
  return it;
}

Result<SnapItem> snap_config(const std::string& dir, const std::string& name, const std::string& source) {
  SnapItem it{"config", name, source, "config-" + name, false, 0, 0, "", "", ""};
  if (!fs::exists(source)) {
    it.absent = true;
    return it;
  }
  AIRLOCK_CHECK(copy_file_synced(source, dir + "/" + it.file, kSnapFileMode), "snapshot of config '" + name + "'");
  it.bytes = file_size_or_zero(dir + "/" + it.file);
  AIRLOCK_TRY(it.sha256, sha256_file(dir + "/" + it.file), "snapshot");
  return it;
}

// The target comes from the site as it is now (not the path recorded in meta.json), so a site
// folder that moved restores into its own files.
Result<std::string> target_of(const Site& site, const SnapItem& it) {
  if (it.kind == "db") {
    auto f = site.databases.find(it.name);
    if (f != site.databases.end()) return f->second.location;
  } else if (auto f = site.configs.find(it.name); f != site.configs.end()) {
    return f->second;
  }
  return fail(ErrorClass::usage, "the site no longer has " + it.kind + " '" + it.name + "'");
}

// The site's database target of a "db" item (check_item proved the site has it).
Result<std::unique_ptr<db::Target>> database_of(const Site& site, const SnapItem& it) {
  auto f = site.databases.find(it.name);
  if (f == site.databases.end()) return fail(ErrorClass::usage, "the site no longer has db '" + it.name + "'");
  return db::open_target(f->second);
}

airlock::Status restore_item(const Site& site, const std::string& dir, const SnapItem& it) {
  AIRLOCK_TRY(auto target, target_of(site, it), "restoring");
  if (it.absent) {
    std::error_code ec;
    fs::remove(target, ec);
    return fsync_dir(parent_dir(target));
  }
  if (it.kind == "db") {
    AIRLOCK_TRY(auto t, database_of(site, it), "restoring");
    return t->restore_from(dir + "/" + it.file, [] { crash_point("recover_mid_restore"); });
  }
  crash_point("recover_mid_restore");
  AIRLOCK_CHECK(copy_file_synced(dir + "/" + it.file, target), "restoring " + it.kind + " '" + it.name + "'");
  return {};
}

// The seal only proves that meta.json and SEALED agree, and whoever can write the state folder can
// write both: so every name meta.json gives is checked before it is joined to a path.
//  - the snapshot's id (from the command line, and meta.json's own) is one segment by the bundle
//    path rule of spec §3 (ids are made of [A-Za-z0-9-]);
//  - each item's file is one plain name (no "/", not "." or "..": the bundle rule's structure; not
//    its character set, since file names carry the site's logical names, which may be any TOML
//    key), exactly the name its kind and logical name give, and a regular file: no symlink is
//    followed out of the folder;
//  - each item restores into the site's own target of that kind and name, and says so: `source`
//    must be that target (or a link to it), never some other path of the system.
Status snapshot_id_ok(const std::string& id) {
  auto why = payload_path_problem(id);
  if (!why && id.find('/') != std::string::npos) why = "it is not one plain name";
  if (why) return fail(ErrorClass::usage, "snapshot id '" + id + "': " + *why);
  return {};
}

Status plain_name(const std::string& name, const std::string& what) {
  std::string why;
  if (name.empty() || name.size() > kMaxPathBytes)
    why = "is empty or over " + std::to_string(kMaxPathBytes) + " bytes";
  else if (name == "." || name == ".." || name.find_first_of(std::string("/\0", 2)) != std::string::npos)
    why = "is not a plain file name";
  if (!why.empty()) return fail(ErrorClass::io, what + " '" + name + "' " + why);
  return {};
}

// What lies at `path` itself (lstat: a symlink is neither), of the type asked for.
Status is_own(const std::string& path, mode_t type) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(errno_error("stat", path, errno));
  if ((st.st_mode & S_IFMT) != type)
    return fail(ErrorClass::io, "'" + path + "' is not a " + (type == S_IFDIR ? "folder" : "regular file"));
  return {};
}

Status check_item(const Site& site, const std::string& dir, const SnapItem& it) {
  const std::string what = "item " + it.kind + " '" + it.name + "'";
  if (it.kind != "db" && it.kind != "config") return fail(ErrorClass::io, what + ": unknown kind");
  AIRLOCK_CHECK(plain_name(it.file, what + ": file"), what);
  std::string want = "config-" + it.name;
  if (it.kind == "db") {
    AIRLOCK_TRY(auto t, database_of(site, it), what);
    want = t->snapshot_file();
  }
  if (it.file != want) return fail(ErrorClass::io, what + ": file '" + it.file + "' is not '" + want + "'");
  AIRLOCK_TRY(auto target, target_of(site, it), what);
  std::error_code ec;
  if (it.source != target && fs::weakly_canonical(it.source, ec).string() != target)
    return fail(ErrorClass::io, what + ": source '" + it.source + "' is not the site's target '" + target + "'");
  if (it.absent) return {};
  return is_own(dir + "/" + it.file, S_IFREG);
}

}  // namespace

std::string snapshots_dir(const Site& site) { return site.state_dir + "/snapshots"; }

std::uint64_t snapshot_size_estimate(const Site& site) {
  std::uint64_t n = 0;
  for (const auto& [_, spec] : site.databases)
    if (auto t = db::open_target(spec)) n += (*t)->size_estimate();
  for (const auto& [_, p] : site.configs) n += file_size_or_zero(p);
  return n;
}

Result<SnapMeta> take_snapshot_into(const Site& site, const std::string& id, const std::string& created_at,
                                    const std::string& release);

Result<SnapMeta> take_snapshot(const Site& site, const std::string& id, const std::string& created_at,
                               const std::string& release) {
  auto m = take_snapshot_into(site, id, created_at, release);
  if (!m) {
    // Never half a snapshot, and never one reported as failed: the rename into place may have
    // happened before the failing fsync of the folder (ids are unique, so the folder is ours).
    (void)remove_tree(snapshots_dir(site) + "/" + id + ".partial");
    (void)remove_tree(snapshots_dir(site) + "/" + id);
  }
  return m;
}

Result<SnapMeta> take_snapshot_into(const Site& site, const std::string& id, const std::string& created_at,
                                    const std::string& release) {
  std::string final_dir = snapshots_dir(site) + "/" + id;
  std::string dir = final_dir + ".partial";
  AIRLOCK_CHECK(remove_tree(dir), "snapshot");
  AIRLOCK_CHECK(make_private_dir(snapshots_dir(site)), "snapshot " + id);
  AIRLOCK_CHECK(make_private_dir(dir), "snapshot " + id);
  SnapMeta m{id, created_at, release, read_pointer(site.state_dir), {}};
  for (const auto& [name, spec] : site.databases) {
    AIRLOCK_TRY(auto it, snap_database(dir, spec), "snapshot " + id);
    m.items.push_back(std::move(it));
    crash_point("mid_snapshot");
  }
  for (const auto& [name, path] : site.configs) {
    AIRLOCK_TRY(auto it, snap_config(dir, name, path), "snapshot " + id);
    m.items.push_back(std::move(it));
  }
  std::string meta = dump_json(to_json(m), 2) + "\n";
  AIRLOCK_CHECK(write_file_atomic(dir + "/meta.json", meta, kSnapFileMode), "snapshot " + id);
  AIRLOCK_CHECK(write_file_atomic(dir + "/SEALED", to_hex(sha256(meta)) + "\n", kSnapFileMode), "snapshot " + id);
  AIRLOCK_CHECK(remove_tree(final_dir), "snapshot");
  AIRLOCK_CHECK(rename_path(dir, final_dir), "snapshot " + id);
  AIRLOCK_CHECK(fsync_dir(snapshots_dir(site)), "snapshot " + id);
  return m;
}

Result<SnapMeta> load_sealed_snapshot(const Site& site, const std::string& id) {
  AIRLOCK_CHECK(snapshot_id_ok(id), "snapshot");
  std::string dir = snapshots_dir(site) + "/" + id;
  AIRLOCK_CHECK(is_own(dir, S_IFDIR), "snapshot '" + id + "'");
  AIRLOCK_TRY(auto meta, read_file(dir + "/meta.json", kMaxMetaBytes, ErrorClass::io), "snapshot " + id);
  auto seal = read_file(dir + "/SEALED", 200, ErrorClass::io);
  if (!seal || *seal != to_hex(sha256(meta)) + "\n")
    return fail(ErrorClass::io, "snapshot '" + id + "' is not sealed (incomplete or altered): " + dir);
  for (const char* name : {"/meta.json", "/SEALED"})
    AIRLOCK_CHECK(is_own(dir + name, S_IFREG), "snapshot '" + id + "'");
  SnapMeta m;
  try {
    m = from_json(json::parse(meta));
  } catch (const std::exception& e) {
    return fail(ErrorClass::io, "snapshot '" + id + "': meta.json: " + e.what());
  }
  if (m.id != id) return fail(ErrorClass::io, "snapshot '" + id + "': meta.json names itself '" + m.id + "'");
  for (const auto& it : m.items) {
    AIRLOCK_CHECK(check_item(site, dir, it), "snapshot '" + id + "'");
    if (it.absent) continue;
    AIRLOCK_TRY(auto h, sha256_file(dir + "/" + it.file), "snapshot " + id);
    if (h != it.sha256)
      return fail(ErrorClass::io, "snapshot '" + id + "': " + it.file + ": SHA-256 differs from meta.json");
  }
  return m;
}

Result<std::vector<SnapshotInfo>> list_snapshots(const Site& site) {
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(snapshots_dir(site), ec)) {
    std::string id = e.path().filename().string();
    if (!e.is_directory() || id.ends_with(".partial")) continue;
    auto m = load_sealed_snapshot(site, id);
    SnapshotInfo info{id, "", "", 0, bool(m)};
    if (m) {
      info.created_at = m->created_at;
      info.release = m->release;
      for (const auto& it : m->items) info.bytes += it.bytes;
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

void prune_snapshots(const Site& site, const std::vector<std::string>& keep, std::size_t keep_newest) {
  std::vector<std::string> autos;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(snapshots_dir(site), ec)) {
    std::string id = e.path().filename().string();
    if (e.is_directory() && !id.ends_with(".partial") && !id.starts_with("manual-") &&
        std::find(keep.begin(), keep.end(), id) == keep.end())
      autos.push_back(id);
  }
  std::sort(autos.begin(), autos.end());  // ids start with the UTC time
  for (std::size_t i = 0; i + keep_newest < autos.size(); ++i) (void)remove_tree(snapshots_dir(site) + "/" + autos[i]);
}

void prune_retained(const Site& site, const std::vector<ReleaseRow>& releases) {
  std::vector<std::string> keep_snaps, keep_versions;
  std::size_t previous = 0;
  for (auto it = releases.rbegin(); it != releases.rend(); ++it) {  // newest first
    bool keep = it->state == "current" || (it->state == "previous" && previous++ < kKeepPreviousReleases);
    if (!keep) continue;
    keep_snaps.push_back(it->snapshot_id);
    keep_versions.push_back(it->version);
  }
  prune_snapshots(site, keep_snaps, 2);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(site.state_dir + "/releases", ec)) {
    std::string v = e.path().filename().string();
    // The payload folder <v> and the kept manifest <v>.manifest.toml beside it go together.
    if (!e.is_directory() && v.ends_with(".manifest.toml")) v.resize(v.size() - std::string(".manifest.toml").size());
    if (std::find(keep_versions.begin(), keep_versions.end(), v) == keep_versions.end())
      (void)remove_tree(e.path().string());
  }
}

airlock::Status restore_database(const Site& site, const SnapMeta& meta, const std::string& name) {
  std::string dir = snapshots_dir(site) + "/" + meta.id;
  for (const auto& it : meta.items)
    if (it.kind == "db" && it.name == name) return restore_item(site, dir, it);
  return fail(ErrorClass::io, "snapshot '" + meta.id + "' has no database '" + name + "'");
}

airlock::Status restore_snapshot(const Site& site, const SnapMeta& meta, RestoreParts parts) {
  std::string dir = snapshots_dir(site) + "/" + meta.id;
  for (const auto& it : meta.items) {
    if (parts == RestoreParts::configs_and_pointer && it.kind == "db") continue;
    AIRLOCK_CHECK(restore_item(site, dir, it), "snapshot " + meta.id);
  }
  AIRLOCK_CHECK(write_pointer(site.state_dir, meta.pointer), "snapshot " + meta.id);
  return sync_image_index(site);  // the images follow the pointer
}

}  // namespace airlock::applier

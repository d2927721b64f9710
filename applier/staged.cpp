// The staged-release store: its records, listing, removal and retention (staged.hpp). Staging a
// bundle and applying a staged release are in stage.cpp.
#include "applier/staged.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "applier/files.hpp"
#include "applier/run.hpp"
#include "applier/staged_store.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxRecordBytes = 64 * 1024;
constexpr std::size_t kMinPrefix = 8;

bool is_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
}

Result<StagedRelease> parse_record(const std::string& text, const std::string& sha) {
  const auto j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", "") != kStagedFormat)
    return fail(ErrorClass::io, "record.json is not an " + std::string(kStagedFormat) + " record");
  StagedRelease r;
  try {
    r.sha256 = j.at("bundle_sha256").get<std::string>();
    r.version = j.at("version").get<std::string>();
    r.channel = j.at("channel").get<std::string>();
    r.product = j.at("product").get<std::string>();
    r.critical = j.at("critical").get<bool>();
    r.created = j.at("created").get<std::string>();
    r.expires = j.at("expires").get<std::string>();
    r.key_ids = j.at("key_ids").get<std::vector<std::string>>();
    r.staged_at = j.at("staged_at").get<std::string>();
    r.manifest_sha256 = j.at("manifest_sha256").get<std::string>();
    r.files = j.at("files").get<std::uint64_t>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    r.bundle_bytes = j.at("bundle_bytes").get<std::uint64_t>();
  } catch (const json::exception& e) {
    return fail(ErrorClass::io, std::string("record.json: ") + e.what());
  }
  if (r.sha256 != sha) return fail(ErrorClass::io, "record.json names bundle " + printable(r.sha256));
  return r;
}

}  // namespace

std::string staged_root(const Site& s) { return s.state_dir + "/staged"; }
std::string staged_dir(const Site& s, const std::string& sha) { return staged_root(s) + "/" + sha; }

bool is_staged_key(const std::string& name) { return name.size() == 64 && is_hex(name); }

Result<StagedRelease> read_staged(const Site& s, const std::string& sha) {
  const std::string path = staged_dir(s, sha) + "/record.json";
  AIRLOCK_TRY(auto text, read_file(path, kMaxRecordBytes, ErrorClass::io), "staged release " + sha);
  return parse_record(text, sha).map_error([&](Error e) { return e.with_context("staged release " + sha); });
}

std::string record_json(const StagedRecordInput& in) {
  json keys = json::array();
  for (const auto& k : in.key_ids) keys.push_back(k);
  const json j = {{"format", kStagedFormat},
                  {"bundle_sha256", in.sha256},
                  {"version", printable(in.manifest.release.version.text)},
                  {"channel", channel_name(in.manifest.release.channel)},
                  {"product", printable(in.manifest.release.product)},
                  {"critical", in.manifest.release.critical},
                  {"created", format_rfc3339(in.manifest.release.created)},
                  {"expires", in.manifest.release.expires ? format_rfc3339(*in.manifest.release.expires) : ""},
                  {"key_ids", keys},
                  {"staged_at", in.staged_at},
                  {"manifest_sha256", in.manifest_sha256},
                  {"files", in.manifest.files.size()},
                  {"bytes", in.manifest.total_size()},
                  {"bundle_bytes", in.bundle_bytes}};
  return dump_json(j, 2) + "\n";
}

Result<std::vector<StagedRelease>> list_staged(const Site& s) {
  std::vector<StagedRelease> out;
  std::error_code ec;
  if (!fs::exists(staged_root(s), ec)) return out;
  for (const auto& e : fs::directory_iterator(staged_root(s), ec)) {
    const std::string name = e.path().filename().string();
    if (!is_staged_key(name) || !e.is_directory()) continue;
    auto r = read_staged(s, name);
    if (r) {
      out.push_back(std::move(*r));
    } else {
      StagedRelease bad;
      bad.sha256 = name;
      bad.problem = r.error().what();
      out.push_back(std::move(bad));
    }
  }
  if (ec) return fail(errno_error("listing", staged_root(s), ec.value()));
  // Oldest first; a damaged record (no time) sorts first, so retention takes it before the others.
  std::sort(out.begin(), out.end(), [](const StagedRelease& a, const StagedRelease& b) {
    return std::tie(a.staged_at, a.sha256) < std::tie(b.staged_at, b.sha256);
  });
  return out;
}

Result<std::string> resolve_staged(const Site& s, const std::string& sha) {
  std::string want = sha;
  std::transform(want.begin(), want.end(), want.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (want.size() < kMinPrefix || want.size() > 64 || !is_hex(want))
    return fail(ErrorClass::usage, "'" + printable(sha) +
                                       "' is not a SHA-256 (64 hex digits, or a prefix of at least " +
                                       std::to_string(kMinPrefix) + ")");
  AIRLOCK_TRY(auto all, list_staged(s), "staged releases");
  std::vector<std::string> hits;
  for (const auto& r : all)
    if (r.sha256.starts_with(want)) hits.push_back(r.sha256);
  if (hits.empty()) return fail(ErrorClass::usage, "no staged release " + want + " at site '" + s.name + "'");
  if (hits.size() > 1)
    return fail(ErrorClass::usage, "'" + want + "' names " + std::to_string(hits.size()) + " staged releases");
  return hits.front();
}

// Renamed out of the way first: a removal cut short leaves a .partial folder, never a staged
// release with files missing.
Status remove_staged(const Site& s, const std::string& sha, const std::string& id) {
  const std::string doomed = staged_root(s) + "/" + id + "-" + sha.substr(0, 12) + ".partial";
  AIRLOCK_CHECK(rename_path(staged_dir(s, sha), doomed), "removing staged release " + sha);
  AIRLOCK_CHECK(fsync_dir(staged_root(s)), "removing staged release " + sha);
  return remove_tree(doomed);
}

Result<std::vector<std::string>> prune_staged(Ctx& c, const std::string& keep_sha) {
  AIRLOCK_TRY(auto all, list_staged(c.site), "retention of staged releases");
  std::vector<std::string> removed;
  auto count = static_cast<std::int64_t>(all.size());
  AIRLOCK_TRY(auto job, c.st.open_job(), "retention of staged releases");
  for (const auto& r : all) {
    if (count <= c.site.staged_keep) break;
    if (r.sha256 == keep_sha || (job && job->staged == r.sha256)) continue;  // a scheduled job's release stays
    AIRLOCK_CHECK(remove_staged(c.site, r.sha256, new_run_id(c.env)), "retention of staged releases");
    removed.push_back(r.sha256);
    --count;
  }
  return removed;
}

void sweep_staged_partials(const Site& s) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(staged_root(s), ec))
    if (e.path().filename().string().ends_with(".partial")) fs::remove_all(e.path(), ec);
}

Result<std::vector<StagedRelease>> staged_list(const std::string& site_toml) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "staged");
  return list_staged(site);
}

Result<StagedRelease> staged_remove(const std::string& site_toml, const std::string& sha, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "staged remove");
  Ctx& c = *o.ctx;
  AIRLOCK_TRY(auto key, resolve_staged(c.site, sha), "staged remove");
  AIRLOCK_TRY(auto job, c.st.open_job(), "staged remove");
  if (job && job->staged == key)
    return fail(ErrorClass::policy, "the staged release " + key + " is scheduled by job " + std::to_string(job->id) +
                                        "; cancel the job first: airlock schedule cancel " + std::to_string(job->id));
  auto rec = read_staged(c.site, key);
  StagedRelease out = rec ? *rec : StagedRelease{};
  out.sha256 = key;
  AIRLOCK_CHECK(remove_staged(c.site, key, new_run_id(env)), "staged remove");
  AIRLOCK_TRY(auto h, audit_append_staged(c, "staged-remove", out), "staged remove");
  (void)h;
  return out;
}

}  // namespace airlock::applier

// Sticky revocations and the serial rule of the record step (spec §6).
#include "applier/trust_state.hpp"

#include <algorithm>
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/crash.hpp"
#include "applier/run.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

constexpr std::size_t kMaxRevokedKeysBytes = 1 << 20;
constexpr std::int64_t kExpiryHorizonSeconds = 90LL * 24 * 3600;
constexpr const char* kInstalledKind = "trust-root-installed";

std::optional<minisign::KeyId> parse_key_id(const std::string& hex) {
  if (hex.size() != 16 || hex.find_first_not_of("0123456789ABCDEF") != std::string::npos) return std::nullopt;
  std::uint64_t v = std::stoull(hex, nullptr, 16);
  minisign::KeyId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(v >> (8 * i));
  // key_id_hex renders the little-endian u64: the round trip proves the byte order.
  if (minisign::key_id_hex(id) != hex) return std::nullopt;
  return id;
}

void add_revoked(std::vector<minisign::KeyId>& ids, const TrustRoot& root) {
  for (const auto& k : root.keys)
    if (k.revoked && std::find(ids.begin(), ids.end(), k.key.key_id) == ids.end()) ids.push_back(k.key.key_id);
}

airlock::Status save_revoked_keys(const Site& s, const std::vector<minisign::KeyId>& ids) {
  std::string text;
  for (const auto& id : ids) text += minisign::key_id_hex(id) + "\n";
  return write_file_atomic(revoked_keys_path(s), text, 0600);
}

bool is_revoked(const std::vector<minisign::KeyId>& ids, const TrustKey& k) {
  return k.revoked || std::find(ids.begin(), ids.end(), k.key.key_id) != ids.end();
}

std::string id_hex(const TrustKey& k) { return minisign::key_id_hex(k.key.key_id); }

// What `next` changes against `prev`, by key id.
void describe_change(const TrustRoot& prev, const TrustRoot& next, TrustRecord& rec) {
  for (const auto& k : next.keys) {
    const TrustKey* old = prev.find(k.key.key_id);
    if (!old) rec.added.push_back(id_hex(k));
    if (k.revoked && (!old || !old->revoked)) rec.revoked.push_back(id_hex(k));
  }
  for (const auto& k : prev.keys)
    if (!next.find(k.key.key_id)) rec.removed.push_back(id_hex(k));
}

// Keeps `text` (the root being replaced) as trust-archive/trust.<serial>.toml. A file already
// there is never overwritten: holding the same bytes it is this root's archive (a run finishing
// after a crash); holding others (a root edited by hand without raising its serial), this one is
// kept beside it under its digest. The site lock keeps other airlock processes out meanwhile.
Result<std::string> archive_root(const Site& s, std::int64_t serial, const std::string& text) {
  const std::string dir = trust_archive_dir(s);
  AIRLOCK_CHECK(make_dirs(dir, 0700), "archiving the trust root");
  const std::string base = dir + "/trust." + std::to_string(serial);
  for (const std::string& path : {base + ".toml", base + "." + to_hex(sha256(text)).substr(0, 16) + ".toml"}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) {
      AIRLOCK_CHECK(write_file_atomic(path, text, 0644), "archiving the trust root");
      return path;
    }
    AIRLOCK_TRY(const auto kept, read_file(path, kMaxTrustRootBytes + 1), "archived trust root");
    if (kept == text) return path;
  }
  return fail(ErrorClass::io, "'" + base + ".toml' and its digest-named twin hold other roots");
}

std::size_t valid_count(const TrustRoot& root, const std::vector<minisign::KeyId>& revoked, const Timestamp& t) {
  return static_cast<std::size_t>(std::count_if(
      root.keys.begin(), root.keys.end(), [&](const TrustKey& k) { return !is_revoked(revoked, k) && k.valid_at(t); }));
}

Timestamp plus_seconds(Timestamp t, std::int64_t s) {
  t.unix_seconds += s;
  return t;
}

// Shown in UTC whatever offset the root was written with.
std::string utc_text(Timestamp t) {
  t.offset_minutes = 0;
  return format_rfc3339(t);
}

}  // namespace

std::string trust_archive_dir(const Site& s) { return s.state_dir + "/trust-archive"; }

std::string revoked_keys_path(const Site& s) { return s.state_dir + "/revoked-keys"; }

Result<std::vector<minisign::KeyId>> load_revoked_keys(const Site& s) {
  const std::string path = revoked_keys_path(s);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return std::vector<minisign::KeyId>{};
  AIRLOCK_TRY(auto text, read_file(path, kMaxRevokedKeysBytes, ErrorClass::preflight), "revoked keys");
  std::vector<minisign::KeyId> ids;
  std::size_t pos = 0;
  for (int line = 1; pos < text.size(); ++line) {
    const auto nl = text.find('\n', pos);
    const std::string hex = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    auto id = parse_key_id(hex);
    if (!id)
      return fail(ErrorClass::preflight,
                  "'" + path + "' line " + std::to_string(line) + ": not a key id (16 upper-case hex digits)");
    ids.push_back(*id);
  }
  return ids;
}

Result<TrustRecord> record_trust(const Site& s, const std::optional<std::string>& update,
                                 const BeforeInstall& before_install) {
  AIRLOCK_TRY(const auto current_text, read_file(s.trust_root, kMaxTrustRootBytes), "trust root");
  auto current = parse_trust_root(current_text, ErrorClass::usage);
  if (!current) return fail(std::move(current).error().with_context("trust root '" + s.trust_root + "'"));
  AIRLOCK_TRY(auto ids, load_revoked_keys(s), "recording the trust root");
  const std::size_t known = ids.size();
  add_revoked(ids, *current);
  TrustRecord rec;
  rec.installed_serial = current->serial;
  std::optional<TrustRoot> next;
  if (update && *update != current_text) {
    auto parsed = parse_trust_root(*update, ErrorClass::not_authentic);
    if (!parsed) return fail(std::move(parsed).error().with_context("the release's trust update"));
    rec.update_serial = parsed->serial;
    rec.kind = parsed->serial > current->serial ? TrustRecord::Kind::installed : TrustRecord::Kind::stale;
    if (rec.kind == TrustRecord::Kind::installed) {
      add_revoked(ids, *parsed);
      describe_change(*current, *parsed, rec);
    }
  }
  // The archive and the revocations first: a crash before the root is replaced leaves the old
  // root installed, archived, and more keys revoked, never fewer; the next run finishes it.
  if (rec.kind == TrustRecord::Kind::installed) {
    AIRLOCK_TRY(rec.archive, archive_root(s, current->serial, current_text), "installing the trust update");
  }
  if (ids.size() != known) AIRLOCK_CHECK(save_revoked_keys(s, ids), "recording revoked keys");
  if (rec.kind != TrustRecord::Kind::installed) return rec;
  crash_point("trust_archived");
  if (before_install) AIRLOCK_CHECK(before_install(rec), "installing the trust update");
  crash_point("trust_audited");
  // write_file_atomic: a temporary beside it, fsync, rename, fsync the folder.
  AIRLOCK_CHECK(write_file_atomic(s.trust_root, *update), "installing the trust update");
  return rec;
}

Result<std::optional<TrustExpiry>> trust_expiry(const Site& s, const Timestamp& now) {
  AIRLOCK_TRY(const auto text, read_file(s.trust_root, kMaxTrustRootBytes), "trust root");
  auto root = parse_trust_root(text, ErrorClass::usage);
  if (!root) return fail(std::move(root).error().with_context("trust root '" + s.trust_root + "'"));
  AIRLOCK_TRY(const auto revoked, load_revoked_keys(s), "trust root");
  const auto need = static_cast<std::size_t>(root->threshold);
  const Timestamp horizon = plus_seconds(now, kExpiryHorizonSeconds);
  // The count of valid keys only drops just after a window ends: try now and each such moment.
  std::vector<Timestamp> moments{now};
  for (const auto& k : root->keys)
    if (k.not_after && *k.not_after >= now && *k.not_after < horizon) moments.push_back(plus_seconds(*k.not_after, 1));
  std::sort(moments.begin(), moments.end());
  const auto short_at = std::find_if(moments.begin(), moments.end(),
                                     [&](const Timestamp& t) { return valid_count(*root, revoked, t) < need; });
  if (short_at == moments.end()) return std::optional<TrustExpiry>{};
  TrustExpiry e;
  e.threshold = root->threshold;
  e.short_from = utc_text(*short_at);
  for (const auto& k : root->keys)
    if (!is_revoked(revoked, k) && k.valid_at(now) && k.not_after && *k.not_after < horizon)
      e.expiring.push_back({id_hex(k), k.name, utc_text(*k.not_after)});
  return std::optional<TrustExpiry>(std::move(e));
}

namespace {

// The audit entry of an installed root, once per run: a run finishing after a crash between the
// entry and the root's replacement finds its entry there already.
airlock::Status audit_installed(Ctx& c, const TrustRecord& rec) {
  AIRLOCK_TRY(const auto log, audit_read(c.st), "recording");
  for (const auto& e : log.entries) {
    if (e.kind != kInstalledKind) continue;
    const auto data = nlohmann::json::parse(e.data, nullptr, false);
    if (data.is_object() && data.value("run", "") == c.run.run_id) return {};
  }
  const nlohmann::json entry = {{"run", c.run.run_id},
                                {"release", c.run.to_version},
                                {"old_serial", rec.installed_serial},
                                {"new_serial", rec.update_serial},
                                {"added", rec.added},
                                {"removed", rec.removed},
                                {"revoked", rec.revoked},
                                {"archive", rec.archive}};
  AIRLOCK_TRY(auto head, audit_append(c.st, c.now(), kInstalledKind, dump_json(entry)), "recording");
  (void)head;
  return {};
}

}  // namespace

airlock::Status record_trust_update(Ctx& c) {
  const std::string rel = c.data.value("trust_update", std::string());
  std::optional<std::string> update = c.trust_update_text;
  if (!rel.empty() && !update) {  // recovering: the verified text is kept with the release
    AIRLOCK_TRY(update, read_file(release_dir(c.site, c.run.to_version) + "/" + rel, kMaxTrustRootBytes),
                "trust update");
  }
  AIRLOCK_TRY(const auto rec,
              record_trust(c.site, rel.empty() ? std::nullopt : update,
                           [&c](const TrustRecord& r) { return audit_installed(c, r); }),
              "recording");
  if (rec.kind == TrustRecord::Kind::installed)
    c.emit("record", "trust root updated from the release (serial " + std::to_string(rec.installed_serial) + " -> " +
                         std::to_string(rec.update_serial) + "; the old root is archived as " + rec.archive + ")");
  if (rec.kind != TrustRecord::Kind::stale) return {};
  // Not a reason to refuse the release (spec §6), but an auditor must see that it was ignored.
  const std::string why = "trust update ignored: its serial " + std::to_string(rec.update_serial) +
                          " is not greater than the installed root's " + std::to_string(rec.installed_serial);
  c.emit("record", why);
  const nlohmann::json entry = {{"run", c.run.run_id}, {"release", c.run.to_version}, {"detail", why}};
  AIRLOCK_TRY(auto head, audit_append(c.st, c.now(), "trust-update-ignored", dump_json(entry)), "recording");
  (void)head;
  return {};
}

}  // namespace airlock::applier

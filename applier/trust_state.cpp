// Sticky revocations and the serial rule of the record step (spec §6).
#include "applier/trust_state.hpp"

#include <algorithm>
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/run.hpp"
#include "core/json_text.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

constexpr std::size_t kMaxRevokedKeysBytes = 1 << 20;

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

}  // namespace

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

Result<TrustRecord> record_trust(const Site& s, const std::optional<std::string>& update) {
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
    if (rec.kind == TrustRecord::Kind::installed) add_revoked(ids, *parsed);
  }
  // The revocations first: a crash in between leaves more keys revoked, never fewer.
  if (ids.size() != known) AIRLOCK_CHECK(save_revoked_keys(s, ids), "recording revoked keys");
  if (rec.kind == TrustRecord::Kind::installed)
    AIRLOCK_CHECK(write_file_atomic(s.trust_root, *update), "installing the trust update");
  return rec;
}

airlock::Status record_trust_update(Ctx& c) {
  const std::string rel = c.data.value("trust_update", std::string());
  std::optional<std::string> update = c.trust_update_text;
  if (!rel.empty() && !update) {  // recovering: the verified text is kept with the release
    AIRLOCK_TRY(update, read_file(release_dir(c.site, c.run.to_version) + "/" + rel, kMaxTrustRootBytes),
                "trust update");
  }
  AIRLOCK_TRY(const auto rec, record_trust(c.site, rel.empty() ? std::nullopt : update), "recording");
  if (rec.kind == TrustRecord::Kind::installed)
    c.emit("record", "trust root updated from the release (serial " + std::to_string(rec.update_serial) + ")");
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

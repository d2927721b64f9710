// trust.toml (spec §6): strict parse, validity windows, deterministic render.
#include "core/model/trust.hpp"

#include <set>

#include "core/toml_util.hpp"

namespace airlock {
namespace {

constexpr std::string_view kFormat = "airlock-trust/1";

Result<TrustKey> parse_key(const toml::table& t, std::size_t i, ErrorClass cls) {
  tomlu::Fields f(t, "keys[" + std::to_string(i) + "]", cls);
  TOMLU_CHECK(f.only({"name", "public_key", "not_before", "not_after", "revoked"}));
  TrustKey k;
  TOMLU_TRY(k.name, f.str("name"));
  if (k.name.empty()) return f.error("name", "is empty");
  // Names appear in reports and audit lines: one printable line.
  for (char ch : k.name)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) return f.error("name", "has a control character");
  TOMLU_TRY(auto b64, f.str("public_key"));
  auto pk = minisign::parse_public_key_base64(b64);
  if (!pk) return f.error("public_key", pk.error().message());
  k.key = *pk;
  TOMLU_TRY(k.not_before, f.opt_instant("not_before"));
  TOMLU_TRY(k.not_after, f.opt_instant("not_after"));
  if (k.not_before && k.not_after && *k.not_after < *k.not_before)
    return f.error("not_after",
                   format_rfc3339(*k.not_after) + " is before not_before " + format_rfc3339(*k.not_before));
  TOMLU_TRY(auto revoked, f.opt_bool("revoked"));
  k.revoked = revoked.value_or(false);
  return k;
}

Status check_keys(const TrustRoot& root, ErrorClass cls) {
  std::set<std::string_view> names;
  std::set<minisign::KeyId> ids;
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    const auto& k = root.keys[i];
    const std::string w = "keys[" + std::to_string(i) + "]";
    if (!names.insert(k.name).second) return fail(cls, w + ".name: \"" + k.name + "\" appears twice");
    if (!ids.insert(k.key.key_id).second)
      return fail(cls, w + ".public_key: key id " + minisign::key_id_hex(k.key.key_id) + " appears twice");
  }
  return {};
}

// Optional, default 0; a TOML integer (never a float or a string) that is not negative.
Result<std::int64_t> parse_serial(const toml::table& doc, const tomlu::Fields& root) {
  if (!doc.contains("serial")) return std::int64_t{0};
  TOMLU_TRY(const auto serial, root.integer("serial"));
  if (serial < 0) return root.error("serial", std::to_string(serial) + " is negative");
  return serial;
}

}  // namespace

bool TrustKey::valid_at(const Timestamp& t) const {
  if (revoked) return false;
  if (not_before && t < *not_before) return false;
  if (not_after && *not_after < t) return false;
  return true;
}

const TrustKey* TrustRoot::find(const minisign::KeyId& id) const {
  for (const auto& k : keys)
    if (k.key.key_id == id) return &k;
  return nullptr;
}

Result<TrustRoot> parse_trust_root(std::string_view text, ErrorClass cls) {
  TOMLU_TRY(auto doc, tomlu::parse(text, kMaxTrustRootBytes, cls, "trust root"));
  tomlu::Fields root(doc, "", cls);
  TOMLU_CHECK(root.only({"format", "serial", "threshold", "keys"}));
  TOMLU_TRY(auto format, root.str("format"));
  if (format != kFormat) return root.error("format", "\"" + format + "\" is not \"" + std::string(kFormat) + "\"");
  TOMLU_TRY(const auto serial, parse_serial(doc, root));
  TOMLU_TRY(auto threshold, root.integer("threshold"));
  if (threshold < 1 || threshold > kMaxThreshold)
    return root.error("threshold", std::to_string(threshold) + " is outside 1..16");
  if (!doc.contains("keys")) return root.error("keys", "required key is missing");
  TOMLU_TRY(auto tables, root.tables("keys"));
  TrustRoot out;
  out.serial = serial;
  out.threshold = static_cast<int>(threshold);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TOMLU_TRY(auto k, parse_key(*tables[i], i, cls));
    out.keys.push_back(std::move(k));
  }
  // A threshold above the number of keys can never be met: refuse the root rather than every bundle.
  if (static_cast<std::size_t>(out.threshold) > out.keys.size())
    return root.error("threshold", std::to_string(out.threshold) + " is more than the " +
                                       std::to_string(out.keys.size()) + " keys listed");
  TOMLU_CHECK(check_keys(out, cls));
  return out;
}

std::string render_trust_root(const TrustRoot& t) {
  std::string out = "format = \"airlock-trust/1\"\nserial = " + std::to_string(t.serial) +
                    "\nthreshold = " + std::to_string(t.threshold) + "\n";
  for (const auto& k : t.keys) {
    out += "\n[[keys]]\nname = " + tomlu::quote(k.name) + "\n";
    out += "public_key = " + tomlu::quote(minisign::public_key_base64(k.key)) + "\n";
    if (k.not_before) out += "not_before = " + format_rfc3339(*k.not_before) + "\n";
    if (k.not_after) out += "not_after = " + format_rfc3339(*k.not_after) + "\n";
    if (k.revoked) out += "revoked = true\n";
  }
  return out;
}

}  // namespace airlock

// Keeping and exporting telemetry rows (applier/telemetry.hpp, docs/telemetry.md).
#include "applier/telemetry.hpp"

#include <filesystem>

#include "applier/audit.hpp"
#include "applier/telemetry_record.hpp"
#include "core/crypto/hash.hpp"
#include "core/crypto/password_hash.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

constexpr const char* kSiteIdKey = "telemetry_site_id";
constexpr const char* kConsentKey = "telemetry_consent_at";

// 128 random bits: nothing of the machine (names, addresses) goes into it.
std::string random_site_id() { return crypto::random_hex(16); }

// Check names are the site's own free text: exported as BLAKE2b-512(site id || 0x00 || name),
// truncated to 128 bits. Unkeyed but salted with the site id, so that the same name at two sites
// gives two hashes and a guessed name cannot be looked up across sites.
std::string hashed_check_name(const std::string& site_id, const std::string& name) {
  Blake2b512 h;
  h.update(site_id);
  h.update(std::string_view("\0", 1));
  h.update(name);
  auto d = h.finish();
  return to_hex(std::span<const std::uint8_t>(d.data(), 16));
}

// The channel the release was applied under: the accepted feed's when it matched, else the bundle's,
// else (a recovered run that never read the bundle) the site's.
std::string run_channel(const Ctx& c) {
  if (auto f = c.data.find("feed"); f != c.data.end() && f->is_object() && f->contains("channel"))
    if (const auto& ch = (*f)["channel"]; ch.is_string()) return ch.get<std::string>();
  return channel_name(c.manifest ? c.manifest->release.channel : c.site.channel);
}

json phases_of(const Ctx& c) {
  json out = json::array();
  for (const auto& s : c.data.value("steps", json::array()))  // hooks and services also land in steps
    if (s.is_object() && s.contains("phase") && s["phase"].is_string() && s.contains("ms") &&
        s["ms"].is_number_integer())
      out.push_back({{"phase", s["phase"]}, {"ms", s["ms"]}});
  return out;
}

json failing_checks_of(const Ctx& c, const std::string& site_id) {
  json out = json::array();
  for (const auto& f : c.data.value("failed_checks", json::array())) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) continue;
    const std::string name = f["name"].get<std::string>();
    const bool clear = c.site.telemetry.check_names;
    out.push_back({{"check", clear ? name : hashed_check_name(site_id, name)},
                   {"kind", f.value("kind", std::string())},
                   {"hashed", !clear}});
  }
  return out;
}

}  // namespace

Result<std::string> telemetry_consent(StateDb& st, const std::string& at) {
  AIRLOCK_TRY(auto id, st.get(kSiteIdKey), "telemetry");
  if (!id.empty()) return id;
  id = random_site_id();
  AIRLOCK_CHECK(st.set(kSiteIdKey, id), "telemetry: recording the consent");
  AIRLOCK_CHECK(st.set(kConsentKey, at), "telemetry: recording the consent");
  AIRLOCK_TRY(auto head, audit_append(st, at, "telemetry-consent", dump_json(json({{"site_id", id}}))),
              "telemetry: recording the consent");
  (void)head;
  return id;
}

airlock::Status keep_telemetry(Ctx& c, Outcome outcome) {
  if (!c.site.telemetry.enabled || c.run.kind != RunKind::apply) return {};
  const std::string at = format_rfc3339(Timestamp{c.env.now().unix_seconds, 0, 0});  // finer adds nothing HQ needs
  AIRLOCK_TRY(auto site_id, telemetry_consent(c.st, at), "telemetry");
  json row = {{"schema", kTelemetrySchema},
              {"site", site_id},
              {"run", c.run.run_id},
              {"date", at},
              {"product", c.site.product},
              {"from", c.run.from_version},
              {"to", c.run.to_version},
              {"channel", run_channel(c)},
              {"outcome", outcome_name(outcome)},
              {"phases", phases_of(c)},
              {"failing_checks", failing_checks_of(c, site_id)},
              {"airlock", AIRLOCK_VERSION}};
  return c.st.add_telemetry(c.run.run_id, at, dump_json(row));
}

namespace {

struct Written {
  std::string text, sha256;
  std::vector<std::string> run_ids;
};

Result<Written> export_text(StateDb& st, bool all) {
  AIRLOCK_TRY(auto rows, st.telemetry_rows(all), "telemetry");
  Written w;
  for (const auto& [id, row] : rows) {
    w.text += row + "\n";
    w.run_ids.push_back(id);
  }
  w.sha256 = to_hex(sha256(w.text));
  return w;
}

Status mark_and_audit(Ctx& c, const Written& w, const TelemetryExport& r) {
  const std::string at = c.now();
  AIRLOCK_CHECK(c.st.begin(), "telemetry export");
  auto s = c.st.mark_telemetry_exported(w.run_ids, at).and_then([&]() -> Status {
    json entry = {{"file", r.file}, {"sha256", r.sha256}, {"rows", r.rows}, {"all", r.all}};
    AIRLOCK_TRY(auto head, audit_append(c.st, at, "telemetry-export", dump_json(entry)), "telemetry export");
    (void)head;
    return {};
  });
  if (!s) {
    c.st.rollback_tx();
    return s;
  }
  return c.st.commit();
}

}  // namespace

namespace {

Result<TelemetryExport> export_locked(Ctx& c, const std::string& out, bool all) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(out, ec)))
    return fail(ErrorClass::usage, "'" + out + "' exists; telemetry export writes a new file only");
  if (c.site.telemetry.enabled) {  // seen enabled: the consent is recorded even with no run yet
    AIRLOCK_CHECK(c.st.begin(), "telemetry");
    auto id = telemetry_consent(c.st, c.now());
    if (!id) {
      c.st.rollback_tx();
      return fail(id.error());
    }
    AIRLOCK_CHECK(c.st.commit(), "telemetry");
  }
  AIRLOCK_TRY(auto w, export_text(c.st, all), "telemetry export");
  TelemetryExport r;
  r.file = std::filesystem::absolute(out).lexically_normal().string();
  r.sha256 = w.sha256;
  r.rows = static_cast<std::int64_t>(w.run_ids.size());
  r.all = all;
  AIRLOCK_TRY(r.site_id, c.st.get(kSiteIdKey), "telemetry");
  AIRLOCK_CHECK(write_file_atomic(out, w.text, 0644), "telemetry export: writing '" + out + "'");
  if (auto s = mark_and_audit(c, w, r); !s) {
    (void)std::filesystem::remove(out, ec);  // the rows stay unexported: no file claims them
    return fail(s.error());
  }
  AIRLOCK_TRY(auto log, audit_read(c.st), "audit");
  r.audit_head = log.head;
  return r;
}

}  // namespace

Result<TelemetryExport> telemetry_export(const std::string& site_toml, const std::string& out, bool all,
                                         const Env& env) {
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("telemetry export"));
  return export_locked(*opened->ctx, out, all);
}

}  // namespace airlock::applier

// Opt-in telemetry (docs/telemetry.md): with `[telemetry] enabled = true` in site.toml the site
// keeps one row per apply run — a pseudonymous site id, product, versions, channel, outcome, phase
// durations, the failing checks (names hashed unless `check_names = true`) and their kind, airlock's
// version, the run id and date — and nothing else. Before the operator's consent nothing is kept.
// `telemetry export` writes the rows not yet exported as JSON Lines; HQ's `telemetry summarize`
// aggregates exports carried back from many sites.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "applier/applier.hpp"

namespace airlock::applier {

// The schema named by every exported row ("schema"); a reader refuses any other.
inline constexpr const char* kTelemetrySchema = "airlock-telemetry/1";

struct TelemetryExport {
  std::string file, sha256;  // the file written and the SHA-256 of its bytes (also in the audit log)
  std::int64_t rows = 0;
  bool all = false;
  std::string site_id;  // "" when the site never consented
  std::string audit_head;
};
// Writes the rows not exported yet (all of them with `all`) to `out` (a new file: an existing one is
// refused, ErrorClass::usage), then marks them exported and records the file's sha256 in the audit
// log. A failure leaves the rows unexported and no file behind.
[[nodiscard]] Result<TelemetryExport> telemetry_export(const std::string& site_toml, const std::string& out, bool all,
                                                       const Env& env = {});

struct TelemetryCheck {
  std::string check, kind;
  bool hashed = true;
};
struct TelemetryRow {
  std::string site, run, date, product, from, to, channel, outcome, airlock;
  std::vector<std::pair<std::string, std::int64_t>> phases;  // phase, ms (in order)
  std::vector<TelemetryCheck> failing_checks;
};
// One exported line; ErrorClass::malformed saying what is wrong (a missing, extra or mistyped field).
[[nodiscard]] Result<TelemetryRow> parse_telemetry_row(std::string_view line);
nlohmann::json telemetry_row_json(const TelemetryRow& r);

struct Quantiles {
  std::int64_t median_ms = 0, p95_ms = 0;
};
struct VersionSummary {
  std::string product, version, channel;
  std::int64_t runs = 0, sites = 0;
  std::int64_t first_attempt_ok = 0;                    // sites whose first run of this version was applied
  std::int64_t rollbacks = 0;                           // runs rolled back (or left degraded)
  std::map<std::string, std::int64_t> rollback_checks;  // "check (kind)" -> rollbacks it failed in
  Quantiles total;                                      // a run's phases summed
  std::map<std::string, Quantiles> phases;
  double first_attempt_rate() const { return sites == 0 ? 0.0 : static_cast<double>(first_attempt_ok) / sites; }
};
struct TelemetrySummary {
  std::int64_t files = 0, rows = 0, duplicates = 0;
  std::vector<VersionSummary> versions;  // by product, version, channel
};
// Reads exports, drops duplicates (same site id and run id), and summarizes per version and channel.
// A malformed line: ErrorClass::malformed naming the file and the line number.
[[nodiscard]] Result<TelemetrySummary> telemetry_summarize(const std::vector<std::string>& files);
nlohmann::json telemetry_summary_json(const TelemetrySummary& s);
// The lines a person reads; only the versions `version` names ("" = all).
std::string telemetry_summary_text(const TelemetrySummary& s, const std::string& version = "");

}  // namespace airlock::applier

// HQ's side of telemetry (applier/telemetry.hpp, docs/telemetry.md): reading exported rows strictly,
// dropping duplicates, and the summary per version and channel.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <tuple>

#include "applier/telemetry.hpp"
#include "core/sys/time.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLineBytes = 1 << 20;

Error bad(const std::string& what) { return Error(ErrorClass::malformed, what); }

Result<std::string> text_field(const json& j, const char* key, bool may_be_empty = false) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fail(bad(std::string("field '") + key + "' is missing or not text"));
  if (!may_be_empty && it->get_ref<const std::string&>().empty())
    return fail(bad(std::string("field '") + key + "' is empty"));
  return it->get<std::string>();
}

Result<std::vector<std::pair<std::string, std::int64_t>>> phases_field(const json& j) {
  const auto it = j.find("phases");
  if (it == j.end() || !it->is_array()) return fail(bad("field 'phases' is missing or not an array"));
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& p : *it) {
    if (!p.is_object() || p.size() != 2 || !p.contains("phase") || !p["phase"].is_string() || !p.contains("ms") ||
        !p["ms"].is_number_integer() || p["ms"].get<std::int64_t>() < 0)
      return fail(bad("an entry of 'phases' is not {\"phase\": text, \"ms\": integer >= 0}"));
    out.emplace_back(p["phase"].get<std::string>(), p["ms"].get<std::int64_t>());
  }
  return out;
}

Result<std::vector<TelemetryCheck>> checks_field(const json& j) {
  const auto it = j.find("failing_checks");
  if (it == j.end() || !it->is_array()) return fail(bad("field 'failing_checks' is missing or not an array"));
  std::vector<TelemetryCheck> out;
  for (const auto& c : *it) {
    if (!c.is_object() || c.size() != 3 || !c.contains("check") || !c["check"].is_string() || !c.contains("kind") ||
        !c["kind"].is_string() || !c.contains("hashed") || !c["hashed"].is_boolean())
      return fail(bad("an entry of 'failing_checks' is not {\"check\": text, \"kind\": text, \"hashed\": boolean}"));
    out.push_back({c["check"].get<std::string>(), c["kind"].get<std::string>(), c["hashed"].get<bool>()});
  }
  return out;
}

constexpr std::array<const char*, 12> kFields = {"schema", "site",    "run",     "date",   "product",        "from",
                                                 "to",     "channel", "outcome", "phases", "failing_checks", "airlock"};

}  // namespace

Result<TelemetryRow> parse_telemetry_row(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(bad("not a JSON object"));
  for (const auto& [k, v] : j.items())
    if (std::find(kFields.begin(), kFields.end(), k) == kFields.end()) return fail(bad("unknown field '" + k + "'"));
  AIRLOCK_TRY(auto schema, text_field(j, "schema"), "row");
  if (schema != kTelemetrySchema) return fail(bad("schema '" + schema + "' is not " + kTelemetrySchema));
  TelemetryRow r;
  AIRLOCK_TRY(r.site, text_field(j, "site"), "row");
  AIRLOCK_TRY(r.run, text_field(j, "run"), "row");
  AIRLOCK_TRY(r.date, text_field(j, "date"), "row");
  if (!parse_rfc3339(r.date)) return fail(bad("field 'date' is not an RFC 3339 time"));
  AIRLOCK_TRY(r.product, text_field(j, "product"), "row");
  AIRLOCK_TRY(r.from, text_field(j, "from", true), "row");
  AIRLOCK_TRY(r.to, text_field(j, "to"), "row");
  AIRLOCK_TRY(r.channel, text_field(j, "channel"), "row");
  AIRLOCK_TRY(r.outcome, text_field(j, "outcome"), "row");
  if (!parse_outcome(r.outcome)) return fail(bad("field 'outcome' is not an outcome: '" + r.outcome + "'"));
  AIRLOCK_TRY(r.phases, phases_field(j), "row");
  AIRLOCK_TRY(r.failing_checks, checks_field(j), "row");
  AIRLOCK_TRY(r.airlock, text_field(j, "airlock"), "row");
  return r;
}

json telemetry_row_json(const TelemetryRow& r) {
  json phases = json::array(), checks = json::array();
  for (const auto& [p, ms] : r.phases) phases.push_back({{"phase", p}, {"ms", ms}});
  for (const auto& c : r.failing_checks) checks.push_back({{"check", c.check}, {"kind", c.kind}, {"hashed", c.hashed}});
  return {{"schema", kTelemetrySchema},
          {"site", r.site},
          {"run", r.run},
          {"date", r.date},
          {"product", r.product},
          {"from", r.from},
          {"to", r.to},
          {"channel", r.channel},
          {"outcome", r.outcome},
          {"phases", phases},
          {"failing_checks", checks},
          {"airlock", r.airlock}};
}

namespace {

Status read_export(const std::string& file, std::vector<TelemetryRow>& rows) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(ErrorClass::io, "cannot read telemetry export '" + file + "'");
  std::string line;
  for (std::int64_t n = 1; std::getline(in, line); ++n) {
    auto where = "telemetry export '" + file + "' line " + std::to_string(n);
    if (line.size() > kMaxLineBytes)
      return fail(bad(where + ": longer than " + std::to_string(kMaxLineBytes) + " bytes"));
    auto r = parse_telemetry_row(line);
    if (!r) return fail(r.error().reclassed(ErrorClass::malformed).with_context(where));
    rows.push_back(std::move(*r));
  }
  if (in.bad()) return fail(ErrorClass::io, "reading telemetry export '" + file + "' failed");
  return {};
}

// Nearest rank: the smallest value with at least p% of the values at or below it.
std::int64_t percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

Quantiles quantiles(const std::vector<std::int64_t>& v) { return {percentile(v, 50), percentile(v, 95)}; }

bool rolled_back(const TelemetryRow& r) { return r.outcome == "rolled_back" || r.outcome == "degraded"; }

VersionSummary summarize_group(const std::vector<const TelemetryRow*>& rows) {
  VersionSummary v;
  v.product = rows.front()->product;
  v.version = rows.front()->to;
  v.channel = rows.front()->channel;
  v.runs = static_cast<std::int64_t>(rows.size());
  std::map<std::string, const TelemetryRow*> first;  // site -> its earliest run of this version
  std::vector<std::int64_t> totals;
  std::map<std::string, std::vector<std::int64_t>> per_phase;
  for (const auto* r : rows) {
    auto& f = first[r->site];
    if (!f || std::tie(r->date, r->run) < std::tie(f->date, f->run)) f = r;
    std::int64_t total = 0;
    for (const auto& [p, ms] : r->phases) {
      total += ms;
      per_phase[p].push_back(ms);
    }
    totals.push_back(total);
    if (!rolled_back(*r)) continue;
    ++v.rollbacks;
    for (const auto& c : r->failing_checks) ++v.rollback_checks[c.check + " (" + c.kind + ")"];
  }
  v.sites = static_cast<std::int64_t>(first.size());
  for (const auto& [site, r] : first) v.first_attempt_ok += r->outcome == "applied" ? 1 : 0;
  v.total = quantiles(totals);
  for (const auto& [p, ms] : per_phase) v.phases[p] = quantiles(ms);
  return v;
}

}  // namespace

Result<TelemetrySummary> telemetry_summarize(const std::vector<std::string>& files) {
  TelemetrySummary s;
  std::vector<TelemetryRow> rows;
  for (const auto& f : files) AIRLOCK_CHECK(read_export(f, rows), "telemetry summarize");
  s.files = static_cast<std::int64_t>(files.size());
  std::set<std::pair<std::string, std::string>> seen;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const TelemetryRow*>> groups;
  for (const auto& r : rows) {
    if (!seen.insert({r.site, r.run}).second) {
      ++s.duplicates;
      continue;
    }
    ++s.rows;
    groups[{r.product, r.to, r.channel}].push_back(&r);
  }
  for (const auto& [key, g] : groups) s.versions.push_back(summarize_group(g));
  return s;
}

json telemetry_summary_json(const TelemetrySummary& s) {
  json versions = json::array();
  for (const auto& v : s.versions) {
    json phases = json::object();
    for (const auto& [p, q] : v.phases) phases[p] = {{"median_ms", q.median_ms}, {"p95_ms", q.p95_ms}};
    versions.push_back({{"product", v.product},
                        {"version", v.version},
                        {"channel", v.channel},
                        {"runs", v.runs},
                        {"sites", v.sites},
                        {"first_attempt_ok", v.first_attempt_ok},
                        {"first_attempt_success_rate", v.first_attempt_rate()},
                        {"rollbacks", v.rollbacks},
                        {"rollback_checks", v.rollback_checks},
                        {"duration", {{"median_ms", v.total.median_ms}, {"p95_ms", v.total.p95_ms}}},
                        {"phases", phases}});
  }
  return {{"files", s.files}, {"runs", s.rows}, {"duplicates", s.duplicates}, {"versions", versions}};
}

std::string telemetry_summary_text(const TelemetrySummary& s, const std::string& version) {
  std::string out = std::to_string(s.rows) + " runs from " + std::to_string(s.files) + " export(s), " +
                    std::to_string(s.duplicates) + " duplicate(s) dropped\n";
  for (const auto& v : s.versions) {
    if (!version.empty() && v.version != version) continue;
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f%%", 100.0 * v.first_attempt_rate());
    out += v.product + " " + v.version + " (" + v.channel + "): " + std::to_string(v.runs) + " runs at " +
           std::to_string(v.sites) + " site(s); first attempt succeeded at " + std::to_string(v.first_attempt_ok) +
           " of " + std::to_string(v.sites) + " (" + rate + ")\n";
    out += "  rollbacks: " + std::to_string(v.rollbacks);
    for (const auto& [check, n] : v.rollback_checks) out += "; " + check + " x" + std::to_string(n);
    out += "\n  duration: median " + std::to_string(v.total.median_ms) + " ms, p95 " + std::to_string(v.total.p95_ms) +
           " ms\n";
  }
  return out;
}

}  // namespace airlock::applier

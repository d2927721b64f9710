// Opt-in telemetry (docs/telemetry.md) on real sites and real applies: nothing is kept while it is
// off or before consent; a row holds exactly the documented fields and nothing of the site's paths,
// names or check messages; exports are not repeated unless --all; summaries drop duplicates.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "applier/telemetry.hpp"
#include "core/crypto/hash.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;
using nlohmann::json;

constexpr const char* kOn = "\n[telemetry]\nenabled = true\n";

std::int64_t telemetry_rows(const std::string& state) {
  auto d = db::Database::open(state + "/state.db", db::OpenMode::read_only);
  auto r = d->query("SELECT count(*) FROM telemetry");
  return std::get<std::int64_t>((*r)[0][0]);
}

std::string kv(const std::string& state, const std::string& key) {
  auto d = db::Database::open(state + "/state.db", db::OpenMode::read_only);
  auto r = d->query("SELECT value FROM kv WHERE key = ?", {key});
  return r->empty() ? "" : std::get<std::string>((*r)[0][0]);
}

std::vector<json> lines_of(const fs::path& file) {
  std::vector<json> out;
  std::istringstream in(slurp(file));
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

applier::TelemetryExport exported(const std::string& site, const fs::path& out, bool all = false) {
  auto r = applier::telemetry_export(site, out.string(), all, quiet_env());
  EXPECT_TRUE(r) << r.error().what();
  return r ? *r : applier::TelemetryExport{};
}

TEST(Telemetry, OffKeepsNothing) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(telemetry_rows(s.state), 0);
  EXPECT_EQ(kv(s.state, "telemetry_site_id"), "") << "no consent, no site id";
  EXPECT_EQ(kv(s.state, "telemetry_consent_at"), "");
  auto e = exported(s.site, s.dir / "out.jsonl", true);
  EXPECT_EQ(e.rows, 0);
  EXPECT_EQ(e.site_id, "");
  EXPECT_EQ(slurp(s.dir / "out.jsonl"), "");
}

TEST(Telemetry, OutcomesBeforeConsentNeverAppear) {
  SiteDir s;
  auto before = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(before) << before.error().what();
  const std::string first_run = applier::history(s.site)->back().run_id;
  spit(s.site, slurp(s.site) + kOn);
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_FALSE(kv(s.state, "telemetry_consent_at").empty()) << "consent recorded when first seen enabled";
  auto e = exported(s.site, s.dir / "all.jsonl", true);
  ASSERT_EQ(e.rows, 1);
  auto rows = lines_of(s.dir / "all.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["to"], "1.2.0");
  EXPECT_EQ(rows[0]["outcome"], "rolled_back");
  EXPECT_NE(rows[0]["run"], first_run);
  EXPECT_EQ(slurp(s.dir / "all.jsonl").find(first_run), std::string::npos);
  bool consent = false;
  const auto log = applier::audit_export(s.site);
  ASSERT_TRUE(log) << log.error().what();
  for (const auto& a : log->entries) consent |= a.kind == "telemetry-consent";
  EXPECT_TRUE(consent) << "the consent is in the audit log";
}

// A site whose folder, name, database, config, bundle path, check names and check messages all hold
// a marker: an export never carries it.
struct MarkedSite {
  static constexpr const char* kMarker = "ZQXMARKER";
  TempDir t;
  fs::path dir = t / "site-ZQXMARKER-folder";
  std::string site = (dir / "site.toml").string(), state = (dir / "state-ZQXMARKER").string();
  std::string v110 = (dir / "ZQXMARKER-1.1.0.tar.zst").string(), v120 = (dir / "ZQXMARKER-1.2.0.tar.zst").string();

  explicit MarkedSite(bool check_names = false) {
    fs::create_directories(dir);
    fs::copy_file(repo("keys/trust.toml"), dir / "trust-ZQXMARKER.toml");
    fs::copy_file(bundles().v110, v110);
    fs::copy_file(bundles().v120, v120);
    spit(dir / "topology-ZQXMARKER.toml", kTopology);
    { auto d = db::Database::open((dir / "main-ZQXMARKER.db").string(), db::OpenMode::create); }
    spit(site,
         std::string("[site]\nname = \"ZQXMARKER-site\"\nproduct = \"demo\"\nstate_dir = \"state-ZQXMARKER\"\n"
                     "trust_root = \"trust-ZQXMARKER.toml\"\n\n"
                     "[databases]\nmain = \"main-ZQXMARKER.db\"\n\n[config]\ntopology = \"topology-ZQXMARKER.toml\"\n\n"
                     "[[checks]]\nname = \"items-ZQXMARKER\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
                     "query = \"SELECT count(*) FROM items -- ZQXMARKER\"\nexpect = 3\n\n"
                     "[[checks]]\nname = \"soft-ZQXMARKER\"\nkind = \"exec\"\nhard = false\n"
                     "run = \"echo ZQXMARKER-message; exit 3\"\n") +
             kOn + (check_names ? "check_names = true\n" : ""));
  }
};

const std::set<std::string> kRowFields = {"schema", "site",    "run",     "date",           "product", "from",
                                          "to",     "channel", "outcome", "failing_checks", "phases",  "airlock"};

TEST(Telemetry, ExportHoldsExactlyTheDocumentedFieldsAndNothingOfTheSite) {
  MarkedSite m;
  ASSERT_TRUE(applier::apply(m.site, m.v110, quiet_env()));
  auto r = applier::apply(m.site, m.v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  // The marker is everywhere in the site's own records...
  EXPECT_NE(applier::history(m.site)->back().detail.find(MarkedSite::kMarker), std::string::npos);
  auto e = exported(m.site, m.t / "export.jsonl");
  ASSERT_EQ(e.rows, 2);
  const std::string text = slurp(m.t / "export.jsonl");
  // ...and nowhere in the export.
  EXPECT_EQ(text.find(MarkedSite::kMarker), std::string::npos) << text;
  EXPECT_EQ(text.find(m.dir.string()), std::string::npos);
  const std::string site_id = kv(m.state, "telemetry_site_id");
  ASSERT_TRUE(std::regex_match(site_id, std::regex("[0-9a-f]{32}"))) << site_id;
  EXPECT_EQ(e.site_id, site_id);
  auto rows = lines_of(m.t / "export.jsonl");
  for (const auto& row : rows) {
    std::set<std::string> keys;
    for (const auto& [k, v] : row.items()) keys.insert(k);
    EXPECT_EQ(keys, kRowFields) << row.dump();
    EXPECT_EQ(row["schema"], applier::kTelemetrySchema);
    EXPECT_EQ(row["site"], site_id);
    EXPECT_EQ(row["product"], "demo");
    EXPECT_EQ(row["channel"], "recommended");
    EXPECT_FALSE(row["airlock"].get<std::string>().empty());
    for (const auto& p : row["phases"]) EXPECT_EQ(p.size(), 2u) << "phase and ms only: " << p.dump();
    for (const auto& c : row["failing_checks"]) EXPECT_EQ(c.size(), 3u) << c.dump();
    EXPECT_TRUE(applier::parse_telemetry_row(row.dump())) << "the reader takes what the site writes";
  }
  EXPECT_EQ(rows[0]["outcome"], "applied");
  EXPECT_EQ(rows[0]["from"], "");
  EXPECT_EQ(rows[1]["outcome"], "rolled_back");
  EXPECT_EQ(rows[1]["from"], "1.1.0");
  EXPECT_EQ(rows[1]["to"], "1.2.0");
  // The failing checks by hashed name and kind.
  std::set<std::string> kinds;
  for (const auto& c : rows[1]["failing_checks"]) {
    EXPECT_TRUE(c["hashed"].get<bool>());
    EXPECT_TRUE(std::regex_match(c["check"].get<std::string>(), std::regex("[0-9a-f]{32}"))) << c.dump();
    kinds.insert(c["kind"].get<std::string>());
  }
  EXPECT_TRUE(kinds.count("sqlite")) << "the hard failure that rolled it back";
  // The documented hash: BLAKE2b-512 over site id, a zero byte and the name, first 16 bytes.
  Blake2b512 h;
  h.update(site_id);
  h.update(std::string_view("\0", 1));
  h.update("items-ZQXMARKER");
  auto d = h.finish();
  const std::string want = to_hex(std::span<const std::uint8_t>(d.data(), 16));
  EXPECT_NE(text.find(want), std::string::npos) << text;
  // The file's sha256 is in the audit log.
  bool audited = false;
  const auto log = applier::audit_export(m.site);
  ASSERT_TRUE(log) << log.error().what();
  for (const auto& a : log->entries)
    if (a.kind == "telemetry-export") audited |= json::parse(a.data)["sha256"] == to_hex(sha256(text));
  EXPECT_TRUE(audited);
  EXPECT_EQ(e.sha256, to_hex(sha256(text)));
}

TEST(Telemetry, CheckNamesInClearOnlyWhenAllowed) {
  MarkedSite m(true);
  ASSERT_TRUE(applier::apply(m.site, m.v110, quiet_env()));
  auto e = exported(m.site, m.t / "export.jsonl");
  ASSERT_EQ(e.rows, 1);
  auto rows = lines_of(m.t / "export.jsonl");
  ASSERT_EQ(rows[0]["failing_checks"].size(), 1u);
  EXPECT_EQ(rows[0]["failing_checks"][0]["check"], "soft-ZQXMARKER");
  EXPECT_FALSE(rows[0]["failing_checks"][0]["hashed"].get<bool>());
  EXPECT_EQ(slurp(m.t / "export.jsonl").find("ZQXMARKER-message"), std::string::npos) << "never the message";
}

TEST(Telemetry, ExportTwiceExportsNothingNewUnlessAll) {
  SiteDir s(SiteDir::kItemsCheck, std::string(kOn) + "\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  EXPECT_EQ(exported(s.site, s.dir / "a.jsonl").rows, 1);
  EXPECT_EQ(exported(s.site, s.dir / "b.jsonl").rows, 0);
  EXPECT_EQ(slurp(s.dir / "b.jsonl"), "");
  ASSERT_TRUE(applier::apply(s.site, bundles().v120, quiet_env()));
  EXPECT_EQ(exported(s.site, s.dir / "c.jsonl").rows, 1);
  EXPECT_EQ(lines_of(s.dir / "c.jsonl")[0]["to"], "1.2.0");
  EXPECT_EQ(exported(s.site, s.dir / "d.jsonl", true).rows, 2);
  // An existing file is never overwritten, and nothing is marked.
  auto again = applier::telemetry_export(s.site, (s.dir / "a.jsonl").string(), true, quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::usage);
  EXPECT_EQ(lines_of(s.dir / "a.jsonl").size(), 1u);
  EXPECT_TRUE(applier::audit_verify(s.site));
}

TEST(Telemetry, SummarizeDropsDuplicatesAcrossThreeExports) {
  SiteDir a(SiteDir::kItemsCheck, std::string(kOn) + "\n"), b(SiteDir::kItemsCheck, std::string(kOn) + "\n");
  ASSERT_TRUE(applier::apply(a.site, bundles().v110, quiet_env()));
  ASSERT_TRUE(applier::apply(a.site, bundles().v120, quiet_env()));  // rolled back: items fails
  ASSERT_TRUE(applier::apply(b.site, bundles().v110, quiet_env()));
  const auto e1 = a.dir / "a1.jsonl", e2 = b.dir / "b.jsonl", e3 = a.dir / "a2.jsonl";
  ASSERT_EQ(exported(a.site, e1).rows, 2);
  ASSERT_EQ(exported(b.site, e2).rows, 1);
  ASSERT_EQ(exported(a.site, e3, true).rows, 2);  // the same two rows carried back again
  EXPECT_NE(kv(a.state, "telemetry_site_id"), kv(b.state, "telemetry_site_id"));

  auto s = applier::telemetry_summarize({e1.string(), e2.string(), e3.string()});
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->files, 3);
  EXPECT_EQ(s->rows, 3);
  EXPECT_EQ(s->duplicates, 2);
  ASSERT_EQ(s->versions.size(), 2u);
  const auto& v110 = s->versions[0];
  EXPECT_EQ(v110.version, "1.1.0");
  EXPECT_EQ(v110.channel, "recommended");
  EXPECT_EQ(v110.runs, 2);
  EXPECT_EQ(v110.sites, 2);
  EXPECT_EQ(v110.first_attempt_ok, 2);
  EXPECT_DOUBLE_EQ(v110.first_attempt_rate(), 1.0);
  EXPECT_EQ(v110.rollbacks, 0);
  EXPECT_GT(v110.total.median_ms, 0);
  EXPECT_GE(v110.total.p95_ms, v110.total.median_ms);
  const auto& v120 = s->versions[1];
  EXPECT_EQ(v120.version, "1.2.0");
  EXPECT_EQ(v120.runs, 1);
  EXPECT_EQ(v120.first_attempt_ok, 0);
  EXPECT_EQ(v120.rollbacks, 1);
  ASSERT_EQ(v120.rollback_checks.size(), 1u);
  EXPECT_NE(v120.rollback_checks.begin()->first.find("(sqlite)"), std::string::npos);
  EXPECT_NE(applier::telemetry_summary_text(*s).find("first attempt succeeded at 2 of 2 (100.0%)"), std::string::npos)
      << applier::telemetry_summary_text(*s);
}

TEST(Telemetry, MalformedLineIsNamedByFileAndLine) {
  SiteDir s(SiteDir::kItemsCheck, std::string(kOn) + "\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  const auto good = s.dir / "good.jsonl", badf = s.dir / "bad.jsonl";
  exported(s.site, good);
  auto row = lines_of(good)[0];
  auto extra = row;
  extra["hostname"] = "leak";
  spit(badf, row.dump() + "\n" + extra.dump() + "\n");
  auto r = applier::telemetry_summarize({good.string(), badf.string()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed);
  EXPECT_NE(r.error().what().find(badf.string() + "' line 2"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("hostname"), std::string::npos) << r.error().what();
  for (const char* broken : {"{", "[]", "{\"schema\":\"airlock-telemetry/2\"}"}) {
    spit(badf, std::string(broken) + "\n");
    auto b = applier::telemetry_summarize({badf.string()});
    ASSERT_FALSE(b) << broken;
    EXPECT_EQ(b.error().cls(), ErrorClass::malformed);
    EXPECT_NE(b.error().what().find("line 1"), std::string::npos) << b.error().what();
  }
}

}  // namespace
}  // namespace airlock::test

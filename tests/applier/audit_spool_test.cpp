// The audit spool: a page action that meets a site held by a run is kept on disk, not in a
// server's memory, and the next command to open the site records it, in order, with the time it
// happened, never twice, and never dropping a damaged line without a word.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "applier/audit_spool.hpp"
#include "applier/channel.hpp"
#include "applier/lock.hpp"
#include "applier/site.hpp"
#include "applier/state_db.hpp"
#include "core/sys/sys.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using nlohmann::json;

// The page entries of the chain: (action, at).
std::vector<std::pair<std::string, std::string>> page_entries(const std::string& site) {
  auto log = applier::audit_export(site);
  EXPECT_TRUE(log) << (log ? "" : log.error().what());
  std::vector<std::pair<std::string, std::string>> out;
  if (!log) return out;
  for (const auto& e : log->entries)
    if (e.kind == "page") out.emplace_back(json::parse(e.data)["action"].get<std::string>(), e.at);
  return out;
}

applier::Env at(const std::string& rfc3339) {
  applier::Env e = quiet_env();
  e.now = [t = *parse_rfc3339(rfc3339)] { return t; };
  return e;
}

TEST(AuditSpool, AnEntryForABusySiteIsSpooledAndRecordedByTheNextCommandWithItsOwnTime) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  {
    auto held = applier::SiteLock::acquire(s.state);  // a run holds the site
    ASSERT_TRUE(held) << held.error().what();
    auto r = applier::audit_page_action(s.site, "login", "from 127.0.0.1", at("2026-03-01T10:00:00Z"));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(*r, "");  // spooled, not recorded
    r = applier::audit_page_action(s.site, "logout", "", at("2026-03-01T10:05:00Z"));
    ASSERT_TRUE(r) << r.error().what();
    // The audit commands read beside the run: the entries wait, and the export says so.
    auto log = applier::audit_export(s.site);
    ASSERT_TRUE(log) << log.error().what();
    EXPECT_EQ(log->spooled, 2);
    EXPECT_TRUE(page_entries(s.site).empty());
  }
  // The run is over: the next command records them before anything of its own.
  auto r = applier::audit_page_action(s.site, "upload", "x.tar.zst", at("2026-03-01T11:00:00Z"));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_NE(*r, "");
  auto entries = page_entries(s.site);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], std::make_pair(std::string("login"), std::string("2026-03-01T10:00:00Z")));
  EXPECT_EQ(entries[1], std::make_pair(std::string("logout"), std::string("2026-03-01T10:05:00Z")));
  EXPECT_EQ(entries[2].first, "upload");
  EXPECT_EQ(slurp(s.state + "/audit-spool"), "");
  auto verified = applier::audit_verify(s.site);
  ASSERT_TRUE(verified) << verified.error().what();
  EXPECT_EQ(verified->spooled, 0);
}

// The audit commands only read (beside a run, or on a copied state folder): they count what
// waits; the next command that opens the site records it.
TEST(AuditSpool, AuditCommandsOnlyCountTheSpoolAndTheNextCommandRecordsIt) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto site = applier::load_site(s.site);
  ASSERT_TRUE(site) << site.error().what();
  ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:00:00Z", "page",
                                         R"({"action":"login","detail":"","via":"page"})"));
  const std::string before = slurp(s.state + "/audit-spool");
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(log->spooled, 1);
  EXPECT_EQ(slurp(s.state + "/audit-spool"), before);
  EXPECT_TRUE(page_entries(s.site).empty());
  ASSERT_TRUE(applier::recover(s.site, quiet_env()));
  EXPECT_EQ(page_entries(s.site).size(), 1u);
  log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(log->spooled, 0);
}

// Only the page spools, and only its own entries: a line claiming another kind (an apply, an ack)
// is recorded as damage, never as that kind; so is a header cut short by a crash.
TEST(AuditSpool, ALineThatIsNotThePagesIsRecordedAsDamageNotAsWhatItClaims) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  const std::string spool = s.state + "/audit-spool";
  spit(spool, std::string(applier::kAuditSpoolHeader) + " 00\n" +
                  R"({"at":"2026-03-01T10:00:00Z","kind":"ack","data":"{\"note\":\"x\",\"via\":\"page\"}"})" + "\n" +
                  R"({"at":"2026-03-01T10:00:00Z","kind":"page","data":"{\"action\":\"login\"}"})" + "\n");
  ASSERT_TRUE(applier::record_spooled_audit(s.site, quiet_env()));
  auto log = applier::audit_export(s.site);
  ASSERT_TRUE(log) << log.error().what();
  int damaged = 0;
  for (const auto& e : log->entries) {
    EXPECT_NE(e.kind, "ack");
    if (e.kind == "spool") ++damaged;
  }
  EXPECT_EQ(damaged, 2);  // another kind; a page entry without "via": "page"
  EXPECT_TRUE(page_entries(s.site).empty());

  spit(spool, "airlock-au");  // the first append cut inside the header
  ASSERT_TRUE(applier::record_spooled_audit(s.site, quiet_env()));
  EXPECT_EQ(slurp(spool), "");
  auto again = applier::audit_export(s.site);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->entries.back().kind, "spool");
  EXPECT_NE(again->entries.back().data.find("cut short"), std::string::npos) << again->entries.back().data;
}

// An append that fails part-way (the disk full) leaves the file as it was: the next entry is
// not glued onto a fragment.
TEST(AuditSpool, AFailedAppendLeavesTheSpoolAsItWas) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto site = applier::load_site(s.site);
  ASSERT_TRUE(site) << site.error().what();
  std::uint64_t write_call = 0;  // the index of the append's write among its mutating calls
  {
    sys::ArmedFault count({0, 0, false});
    ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:00:00Z", "page", R"({"action":"a","via":"page"})"));
    const auto ops = count.ops();
    for (std::size_t i = 0; i < ops.size() && !write_call; ++i)
      if (ops[i] == "write") write_call = i + 1;
  }
  ASSERT_GT(write_call, 0u);
  const std::string before = slurp(s.state + "/audit-spool");
  {
    sys::ArmedFault fault({ENOSPC, write_call, false});
    EXPECT_FALSE(applier::spool_audit_entry(*site, "2026-03-01T10:01:00Z", "page", R"({"action":"b","via":"page"})"));
    EXPECT_TRUE(fault.fired());
  }
  EXPECT_EQ(slurp(s.state + "/audit-spool"), before);
  ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:02:00Z", "page", R"({"action":"c","via":"page"})"));
  ASSERT_TRUE(applier::record_spooled_audit(s.site, quiet_env()));
  auto entries = page_entries(s.site);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "a");
  EXPECT_EQ(entries[1].first, "c");
}

// The entries and the mark of what was drained commit together; the file is emptied after. A
// failure there (a crash, here a failed ftruncate) leaves the drained lines in the file: the next
// drain knows them by the mark and records only what came after.
TEST(AuditSpool, ADrainCutShortAfterItsCommitRecordsNothingTwice) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto site = applier::load_site(s.site);
  ASSERT_TRUE(site) << site.error().what();
  ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:00:00Z", "page", R"({"action":"a","via":"page"})"));
  ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:01:00Z", "page", R"({"action":"b","via":"page"})"));
  // The index of the drain's ftruncate among its mutating calls, counted on a twin of the site.
  std::uint64_t truncate_call = 0;
  {
    SiteDir probe;
    ASSERT_TRUE(applier::apply(probe.site, bundles().v110, quiet_env()));
    auto psite = applier::load_site(probe.site);
    ASSERT_TRUE(applier::spool_audit_entry(*psite, "2026-03-01T10:00:00Z", "page", R"({"action":"a","via":"page"})"));
    ASSERT_TRUE(applier::spool_audit_entry(*psite, "2026-03-01T10:01:00Z", "page", R"({"action":"b","via":"page"})"));
    auto st = applier::StateDb::open(probe.state);
    ASSERT_TRUE(st);
    sys::ArmedFault count({0, 0, false});
    ASSERT_TRUE(applier::drain_audit_spool(*psite, *st, "2026-03-01T12:00:00Z"));
    const auto ops = count.ops();
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (ops[i] == "ftruncate") truncate_call = i + 1;
  }
  ASSERT_GT(truncate_call, 0u);
  {
    auto st = applier::StateDb::open(s.state);
    ASSERT_TRUE(st) << st.error().what();
    sys::ArmedFault fault({EIO, truncate_call, false});
    auto n = applier::drain_audit_spool(*site, *st, "2026-03-01T12:00:00Z");
    EXPECT_FALSE(n);
    EXPECT_TRUE(fault.fired());
  }
  EXPECT_NE(slurp(s.state + "/audit-spool"), "");  // the drained lines are still there
  ASSERT_TRUE(applier::spool_audit_entry(*site, "2026-03-01T10:02:00Z", "page", R"({"action":"c","via":"page"})"));
  ASSERT_TRUE(applier::record_spooled_audit(s.site, quiet_env()));
  auto entries = page_entries(s.site);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].first, "a");
  EXPECT_EQ(entries[1].first, "b");
  EXPECT_EQ(entries[2].first, "c");
  auto verified = applier::audit_verify(s.site);
  EXPECT_TRUE(verified) << verified.error().what();
}

TEST(AuditSpool, ALineCutShortIsRecordedAsDamageAndAForeignSpoolIsLeftAlone) {
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  const std::string spool = s.state + "/audit-spool";
  spit(spool, std::string(applier::kAuditSpoolHeader) + " 00\n" +
                  R"({"at":"2026-03-01T10:00:00Z","kind":"page","data":"{\"via\":\"page\"}"})" + "\n" +
                  R"({"at":"2026-03-0)");
  ASSERT_TRUE(applier::record_spooled_audit(s.site, quiet_env()));
  auto log = applier::audit_export(s.site);
  ASSERT_TRUE(log) << log.error().what();
  int damaged = 0;
  for (const auto& e : log->entries)
    if (e.kind == "spool") {
      ++damaged;
      EXPECT_NE(e.data.find("cut short"), std::string::npos) << e.data;
    }
  EXPECT_EQ(damaged, 1);
  EXPECT_EQ(slurp(spool), "");

  // A spool of another version: kept for whoever can read it, and every command still works.
  spit(spool, "airlock-audit-spool/2\n{}\n");
  auto r = applier::audit_page_action(s.site, "login", "", quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(slurp(spool), "airlock-audit-spool/2\n{}\n");
  log = applier::audit_export(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(log->spooled, 1);
}

}  // namespace
}  // namespace airlock::test

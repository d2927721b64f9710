// The audit log is held to more than its own chain: a head record {count, hash} written with every
// append, history and the release table (an entry for every run), and the notify hook gets the head
// as an external anchor. Each tamper below leaves a valid chain and is still caught.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

class AuditAnchor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
    ASSERT_TRUE(applier::apply(s.site, bundles().v120, quiet_env()));  // rolled back
    ASSERT_TRUE(applier::snapshot_create(s.site, quiet_env()));
    auto ok = applier::audit_verify(s.site);
    ASSERT_TRUE(ok) << ok.error().what();
    ASSERT_EQ(ok->entries.size(), 3u);
  }
  db::Database state() const { return std::move(*db::Database::open(s.state + "/state.db", db::OpenMode::read_write)); }
  void sql(const std::string& q) { ASSERT_TRUE(state().exec(q)); }
  // Recomputes every link and hash the way airlock does: the chain is valid again afterwards.
  void rechain() {
    auto d = state();
    auto rows = d.query("SELECT seq, at, kind, data FROM audit ORDER BY seq");
    ASSERT_TRUE(rows);
    std::string prev;
    for (const auto& r : *rows) {
      const auto seq = std::get<std::int64_t>(r[0]);
      const auto& at = std::get<std::string>(r[1]);
      const auto& kind = std::get<std::string>(r[2]);
      const auto& data = std::get<std::string>(r[3]);
      const std::string h = to_hex(
          sha256("airlock-audit/1\n" + std::to_string(seq) + "\n" + at + "\n" + kind + "\n" + data + "\n" + prev));
      ASSERT_TRUE(d.query("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", {prev, h, seq}));
      prev = h;
    }
  }
  std::string head_record() {
    auto rows = state().query("SELECT value FROM kv WHERE key = 'audit_head'");
    return rows && !rows->empty() ? std::get<std::string>((*rows)[0][0]) : "";
  }
  void expect_broken(const std::string& needle) {
    auto r = applier::audit_verify(s.site);
    ASSERT_FALSE(r) << "audit verify passed";
    EXPECT_EQ(r.error().cls(), ErrorClass::audit_broken) << r.error().what();
    EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
  }
  SiteDir s;
};

TEST_F(AuditAnchor, HeadRecordFollowsEveryAppend) {
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log);
  EXPECT_EQ(head_record(), "3 " + log->head);
  EXPECT_EQ(applier::status(s.site)->audit_head, log->head);
}

TEST_F(AuditAnchor, DeletingTheNewestEntry) {
  sql("DELETE FROM audit WHERE seq = 3");
  expect_broken("head record says 3 ");
}

TEST_F(AuditAnchor, DeletingEveryEntry) {
  sql("DELETE FROM audit");
  expect_broken("head record");
}

TEST_F(AuditAnchor, DeletingEveryEntryAndTheHeadRecord) {
  sql("DELETE FROM audit; DELETE FROM kv WHERE key = 'audit_head'");
  expect_broken("has no audit entry");
}

TEST_F(AuditAnchor, EditingAnEntryAndRecomputingTheChain) {
  sql("UPDATE audit SET data = replace(data, 'rolled_back', 'applied') WHERE seq = 2");
  rechain();
  expect_broken("head record");
}

TEST_F(AuditAnchor, EditingAnEntryRecomputingTheChainAndTheHeadRecord) {
  sql("UPDATE audit SET data = replace(data, 'rolled_back', 'applied') WHERE seq = 2");
  rechain();
  auto d = state();
  auto rows = d.query("SELECT count(*), (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) FROM audit");
  ASSERT_TRUE(rows);
  const std::string rec =
      std::to_string(std::get<std::int64_t>((*rows)[0][0])) + " " + std::get<std::string>((*rows)[0][1]);
  ASSERT_TRUE(d.query("UPDATE kv SET value = ? WHERE key = 'audit_head'", {rec}));
  expect_broken("unlike history run");
}

TEST_F(AuditAnchor, DeletingTheRunEntriesOfAReleaseAndRecomputingEverything) {
  // History removed too: the release table still names 1.1.0.
  sql("DELETE FROM audit WHERE seq IN (1, 2); DELETE FROM history; UPDATE audit SET seq = 1");
  rechain();
  auto d = state();
  auto rows = d.query("SELECT hash FROM audit");
  ASSERT_TRUE(rows && rows->size() == 1u);
  ASSERT_TRUE(
      d.query("UPDATE kv SET value = ? WHERE key = 'audit_head'", {"1 " + std::get<std::string>((*rows)[0][0])}));
  expect_broken("release 1.1.0");
}

TEST(AuditHook, NotifyHookSeesTheHead) {
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\nnotify = { run = \"printf %s \\\"$AIRLOCK_AUDIT_HEAD\\\" > notified\" }\n\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(slurp(s.dir / "notified"), "1 " + log->head);
}

}  // namespace
}  // namespace airlock::test

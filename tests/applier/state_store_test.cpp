// The state store across airlock versions: a state folder written by an earlier airlock (schema
// version 1 and 3, kept under tests/fixtures/state-v1 and state-v3) opens, upgrades and keeps working; a state.db
// newer than this build is refused by name instead of misread.
#include <gtest/gtest.h>

#include <regex>

#include "applier/applier.hpp"
#include "applier/schedule.hpp"
#include "applier/state_db.hpp"
#include "applier/telemetry.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

// The fixture was made at this path by the airlock of the time (tests/fixtures/state-v1/README.md).
constexpr const char* kMadeAt = "/tmp/airlock-state-v1";

std::int64_t user_version(const std::string& path) {
  auto d = db::Database::open(path, db::OpenMode::read_only);
  auto r = d->query("PRAGMA user_version");
  return std::get<std::int64_t>((*r)[0][0]);
}

// A copy of the fixture `name` (made at `made_at`) in `dir`. Snapshots name the files they hold by
// absolute path: those are moved to the copy's folder, and each snapshot sealed again over its
// moved meta.json.
void copy_fixture(const fs::path& dir, const std::string& name = "state-v1", const std::string& made_at = kMadeAt) {
  fs::copy(repo("tests/fixtures/" + name), dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  for (const auto& e : fs::directory_iterator(dir / "state/snapshots")) {
    std::string meta = slurp(e.path() / "meta.json");
    meta = std::regex_replace(meta, std::regex(made_at), dir.string());
    spit(e.path() / "meta.json", meta);
    spit(e.path() / "SEALED", to_hex(sha256(meta)) + "\n");
  }
}

TEST(StateStore, OpensAStateFolderWrittenBySchemaVersion1) {
  TempDir t;
  copy_fixture(t / "site");
  std::string site = (t / "site/site.toml").string(), state_db = (t / "site/state/state.db").string();
  ASSERT_EQ(user_version(state_db), 0) << "the fixture is a state.db of the first layout";

  auto st = applier::status(site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->installed, "1.2.0");
  EXPECT_EQ(st->pointer, "releases/1.2.0");
  ASSERT_EQ(st->images.size(), 1u);
  EXPECT_NE(st->images[0].find("api:1.2.0@"), std::string::npos);
  EXPECT_FALSE(st->pending_phase);
  EXPECT_EQ(user_version(state_db), applier::kStateSchemaVersion) << "upgraded when opened";
  auto h = applier::history(site);
  ASSERT_TRUE(h) << h.error().what();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].to_version, "1.1.0");
  EXPECT_EQ((*h)[1].to_version, "1.2.0");
  EXPECT_EQ((*h)[1].outcome, "applied");
  EXPECT_TRUE(applier::audit_verify(site));

  // The release rows of schema 1 do not say which migrations each release applied: 1.2.0 applied
  // what its kept manifest lists beyond 1.1.0's (kept inside the payload folder, as then).
  auto r = applier::rollback(site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->to_version, "1.1.0");
  auto d = db::Database::open((t / "site/main.db").string(), db::OpenMode::read_only);
  auto items = d->query("SELECT count(*) FROM items");
  ASSERT_TRUE(items) << "0003's reverse renamed items_v2 back";
  EXPECT_EQ(std::get<std::int64_t>((*items)[0][0]), 3);
  EXPECT_EQ(applier::status(site)->installed, "1.1.0");
  EXPECT_EQ(applier::status(site)->pointer, "releases/1.1.0");
  auto again = applier::rollback(site, quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::usage);
  // And it applies forward again.
  auto up = applier::apply(site, bundles().v120, quiet_env());
  ASSERT_TRUE(up) << up.error().what();
  EXPECT_EQ(up->outcome, applier::Outcome::applied);
}

// Schema 3 (tests/fixtures/state-v3, written by the airlock before scheduled jobs) opens, is
// upgraded to schema 4, keeps its history, skip and staged release, and takes a scheduled job.
TEST(StateStore, OpensAStateFolderWrittenBySchemaVersion3) {
  TempDir t;
  copy_fixture(t / "site", "state-v3", "/tmp/airlock-state-v3");
  std::string site = (t / "site/site.toml").string(), state_db = (t / "site/state/state.db").string();
  ASSERT_EQ(user_version(state_db), 3) << "the fixture is a state.db of schema 3";
  auto st = applier::status(site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->installed, "1.2.0");
  EXPECT_EQ(user_version(state_db), applier::kStateSchemaVersion) << "upgraded when opened";
  auto h = applier::history(site);
  ASSERT_TRUE(h) << h.error().what();
  std::vector<std::string> outcomes;
  for (const auto& e : *h) outcomes.push_back(e.outcome);
  EXPECT_EQ(outcomes, (std::vector<std::string>{"applied", "applied", "skipped"}));
  EXPECT_TRUE(applier::audit_verify(site));
  auto jobs = applier::schedule_list(site);
  ASSERT_TRUE(jobs) << jobs.error().what();
  EXPECT_TRUE(jobs->empty());
  // Back to 1.1.0, then 1.2.0 scheduled and carried out on the upgraded store.
  ASSERT_TRUE(applier::rollback(site, quiet_env()));
  auto env = quiet_env();
  const std::int64_t now = now_utc().unix_seconds;
  env.now = [&now] { return Timestamp{now, 0, 0}; };
  applier::ScheduleRequest req;
  req.bundle = bundles().v120;
  req.at = format_rfc3339(Timestamp{now + 60, 0, 0});
  auto added = applier::schedule_add(site, req, env);
  ASSERT_TRUE(added) << added.error().what();
  EXPECT_EQ(added->job.expect_installed, "1.1.0");
  const std::int64_t later = now + 60;
  env.now = [later] { return Timestamp{later, 0, 0}; };
  auto due = applier::run_due(site, env);
  ASSERT_TRUE(due) << due.error().what();
  ASSERT_TRUE(due->run);
  EXPECT_EQ(due->run->outcome, applier::Outcome::applied);
  EXPECT_EQ(applier::status(site)->installed, "1.2.0");
  EXPECT_TRUE(applier::audit_verify(site));
}

// Schema 4 (tests/fixtures/state-v4, written by the airlock before telemetry) opens, is upgraded,
// keeps its pending scheduled job, and with telemetry enabled keeps the rows of later runs only.
TEST(StateStore, OpensAStateFolderWrittenBySchemaVersion4) {
  TempDir t;
  copy_fixture(t / "site", "state-v4", "/tmp/airlock-state-v4");
  std::string site = (t / "site/site.toml").string(), state_db = (t / "site/state/state.db").string();
  ASSERT_EQ(user_version(state_db), 4) << "the fixture is a state.db of schema 4";
  auto st = applier::status(site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->installed, "1.1.0");
  EXPECT_EQ(user_version(state_db), applier::kStateSchemaVersion) << "upgraded when opened";
  EXPECT_TRUE(applier::audit_verify(site));
  auto jobs = applier::schedule_list(site);
  ASSERT_TRUE(jobs) << jobs.error().what();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job.state, "pending");
  EXPECT_EQ((*jobs)[0].job.version, "1.2.0");
  // The job carried out on the upgraded store, telemetry enabled since: its row alone is kept.
  spit(t / "site/site.toml", slurp(t / "site/site.toml") + "\n[telemetry]\nenabled = true\n");
  ASSERT_TRUE(applier::schedule_cancel(site, (*jobs)[0].job.id, quiet_env()));
  auto up = applier::apply(site, bundles().v120, quiet_env());
  ASSERT_TRUE(up) << up.error().what();
  EXPECT_EQ(up->outcome, applier::Outcome::applied);
  auto e = applier::telemetry_export(site, (t / "export.jsonl").string(), true, quiet_env());
  ASSERT_TRUE(e) << e.error().what();
  EXPECT_EQ(e->rows, 1);
  EXPECT_NE(slurp(t / "export.jsonl").find("\"to\":\"1.2.0\""), std::string::npos);
  EXPECT_TRUE(applier::audit_verify(site));
}

TEST(StateStore, NewerSchemaIsRefusedByName) {
  SiteDir s;
  ASSERT_TRUE(applier::status(s.site));
  std::string path = s.state + "/state.db";
  EXPECT_EQ(user_version(path), applier::kStateSchemaVersion);
  {
    auto d = db::Database::open(path, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("PRAGMA user_version = 99"));
  }
  auto st = applier::status(s.site);
  auto ap = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(st);
  ASSERT_FALSE(ap);
  for (const Error& e : {st.error(), ap.error()}) {
    EXPECT_EQ(e.cls(), ErrorClass::io);
    EXPECT_NE(e.what().find(path), std::string::npos) << e.what();
    EXPECT_NE(e.what().find("schema version 99"), std::string::npos) << e.what();
    EXPECT_NE(e.what().find("(" + std::to_string(applier::kStateSchemaVersion) + ")"), std::string::npos) << e.what();
  }
  EXPECT_EQ(user_version(path), 99) << "refused, not rewritten";
}

// History rows keep the words the airlock of their time wrote (schema 1 and 2 rows are never
// rewritten); they are read as today's outcome words.
TEST(StateStore, HistoryRowsOfOlderBuildsShowTodaysOutcomeWords) {
  TempDir t;
  copy_fixture(t / "site");
  std::string site = (t / "site/site.toml").string(), state_db = (t / "site/state/state.db").string();
  const std::vector<std::pair<std::string, std::string>> words = {{"auto-rollback", "rolled_back"},
                                                                  {"manual-rollback", "reverted"},
                                                                  {"snapshot-restore", "restored"},
                                                                  {"rollback-failed", "degraded"},
                                                                  {"crash-recovered", "recovered_old"},
                                                                  {"discarded-run", "discarded"},
                                                                  {"aborted", "aborted"},
                                                                  {"refused", "refused"}};
  {
    auto d = db::Database::open(state_db, db::OpenMode::read_write);
    ASSERT_TRUE(d);
    for (const auto& [old_word, _] : words)
      ASSERT_TRUE(
          d->query("INSERT INTO history(run_id, started_at, finished_at, from_version, to_version, outcome, "
                   "detail, steps, started_by) VALUES('r', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', "
                   "'1.1.0', '1.2.0', ?, '', '[]', 'cli')",
                   {old_word}));
  }
  auto h = applier::history(site);
  ASSERT_TRUE(h) << h.error().what();
  ASSERT_EQ(h->size(), 2 + words.size());
  for (std::size_t i = 0; i < words.size(); ++i) EXPECT_EQ((*h)[2 + i].outcome, words[i].second) << words[i].first;
  auto d = db::Database::open(state_db, db::OpenMode::read_only);
  auto stored = d->query("SELECT outcome FROM history WHERE id = 3");
  ASSERT_TRUE(stored);
  EXPECT_EQ(std::get<std::string>((*stored)[0][0]), "auto-rollback") << "read as today's word, not rewritten";
}

}  // namespace
}  // namespace airlock::test

namespace airlock::test {

// A release met again keeps the first time it was met; `critical` is only ever raised; a skip may
// come before the meeting, which then records its time.
TEST(StateStore, SeenReleaseKeepsTheFirstMeetingAndRaisesCriticalOnly) {
  TempDir t;
  auto st = applier::StateDb::open((t / "state").string());
  ASSERT_TRUE(st) << st.error().what();
  ASSERT_TRUE(st->set_skip("2.0.0", "2026-01-01T00:00:00Z"));
  auto row = st->seen_release("2.0.0");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->first_seen, "");
  ASSERT_TRUE(st->mark_seen("2.0.0", "2026-01-02T00:00:00Z", true));
  ASSERT_TRUE(st->mark_seen("2.0.0", "2026-01-03T00:00:00Z", false));
  row = st->seen_release("2.0.0");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->first_seen, "2026-01-02T00:00:00Z");
  EXPECT_TRUE((*row)->critical);
  EXPECT_EQ((*row)->skipped_at, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(st->set_delay("2.0.0", "2026-01-05T00:00:00Z"));
  auto all = st->seen_releases();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].delayed_until, "2026-01-05T00:00:00Z");
}

}  // namespace airlock::test

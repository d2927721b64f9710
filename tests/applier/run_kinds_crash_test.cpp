// The crash-point matrix for the operator's runs: a manual rollback and a snapshot restore are
// killed (_exit at a named point, in a forked child) at every point of every phase they pass;
// `recover` must then leave the databases, config file and pointer exactly as before the command
// or exactly as after it, with status and history agreeing, and a second recover finding nothing.
#include <gtest/gtest.h>

#include <functional>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

enum class Want { before, after };

const char* kNoItemsCheck = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";
const char* kHooks =
    "[hooks]\ndrain = { run = \"true\", timeout = \"5s\" }\nresume = { run = \"true\", timeout = \"5s\" }\n\n";

// A 1.2.0 the site finds healthy, with a reversible migration.
std::string healthy_120(const TempDir& dir) {
  std::string recipe = write_recipe(dir, "ok", "min_installed = \"1.1.0\"\n", "1.2.0",
                                    "[[migrations]]\nid = \"0003_rename\"\ndatabase = \"main\"\nup = \"m/up.sql\"\n"
                                    "down = \"m/down.sql\"\nfixture = \"m/main.sql\"\n",
                                    {{"m/up.sql", "ALTER TABLE items RENAME TO items_v2;\n"},
                                     {"m/down.sql", "ALTER TABLE items_v2 RENAME TO items;\n"},
                                     {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
  return build_bundle(recipe, (dir / "ok.tar.zst").string());
}

struct Observed {
  std::string files, installed;
};

Observed observe(const SiteDir& s) { return {s.observable(), applier::status(s.site)->installed}; }

// `prepare` brings a fresh site to the state the command starts from; `command` runs it.
struct Matrix {
  std::string name;
  std::function<void(SiteDir&)> prepare;
  std::function<bool(SiteDir&)> command;
  std::vector<std::pair<std::string, Want>> points;
};

void expect_state(const SiteDir& s, const Observed& want, const std::string& label) {
  EXPECT_EQ(s.observable(), want.files) << label;
  EXPECT_TRUE(s.integrity_ok()) << label;
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << label;
  EXPECT_FALSE(st->pending_phase) << label;
  EXPECT_EQ(st->installed, want.installed) << label;
  EXPECT_TRUE(applier::audit_verify(s.site)) << label;
}

void run_matrix(const Matrix& m) {
  Observed before, after;
  {
    SiteDir ref(kNoItemsCheck, kHooks);
    m.prepare(ref);
    before = observe(ref);
    ASSERT_TRUE(m.command(ref)) << m.name << ": the reference run failed";
    after = observe(ref);
    ASSERT_NE(before.files, after.files) << m.name << ": the command must change something";
  }
  for (const auto& [point, want] : m.points) {
    const std::string label = m.name + " @ " + point;
    SiteDir s(kNoItemsCheck, kHooks);
    m.prepare(s);
    ASSERT_EQ(in_child(point, [&] { return m.command(s); }), 99) << label << ": the crash point was not reached";
    auto rec = applier::recover(s.site, quiet_env());
    ASSERT_TRUE(rec) << label << ": " << rec.error().what();
    EXPECT_EQ(rec->outcome == Outcome::nothing_to_do, point == "after_record") << label;
    if (point != "after_record") {
      EXPECT_EQ(rec->outcome, want == Want::before ? Outcome::recovered_old : Outcome::recovered_new) << label;
      EXPECT_NE(applier::history(s.site)->back().detail.find("crashed during"), std::string::npos) << label;
    }
    expect_state(s, want == Want::before ? before : after, label);
    auto again = applier::recover(s.site, quiet_env());
    ASSERT_TRUE(again) << label;
    EXPECT_EQ(again->outcome, Outcome::nothing_to_do) << label;
    expect_state(s, want == Want::before ? before : after, label + " (second recover)");
  }
}

TEST(RunKindsCrash, ManualRollbackAtEveryPoint) {
  TempDir b;
  const std::string v120 = healthy_120(b);
  run_matrix({"rollback 1.2.0 -> 1.1.0",
              [&](SiteDir& s) {
                ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
                ASSERT_TRUE(applier::apply(s.site, v120, quiet_env()));
              },
              [](SiteDir& s) {
                auto r = applier::rollback(s.site, quiet_env());
                return r && r->outcome == Outcome::reverted;
              },
              {{"after_preflight", Want::before},
               {"mid_snapshot", Want::before},
               {"after_snapshot", Want::before},
               {"after_drain", Want::before},
               {"mid_rollback", Want::before},
               {"after_rollback", Want::before},
               {"after_checks", Want::before},
               {"before_record", Want::after},
               {"after_record", Want::after}}});
}

TEST(RunKindsCrash, SnapshotRestoreAtEveryPoint) {
  run_matrix({"restore a snapshot of 1.1.0",
              [](SiteDir& s) {
                ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
                ASSERT_TRUE(applier::snapshot_create(s.site, quiet_env()));
                auto d = db::Database::open(s.db, db::OpenMode::read_write);
                ASSERT_TRUE(d->exec("INSERT INTO items(name) VALUES ('later')"));
                spit(s.topology, "mode = \"edited later\"\n");
              },
              [](SiteDir& s) {
                auto list = applier::snapshot_list(s.site);
                std::string id;
                for (const auto& i : *list)
                  if (i.id.rfind("manual-", 0) == 0) id = i.id;
                return bool(applier::snapshot_restore(s.site, id, applier::Force::yes, quiet_env()));
              },
              {{"after_preflight", Want::before},
               {"mid_snapshot", Want::before},
               {"after_snapshot", Want::before},
               {"after_drain", Want::before},
               {"recover_mid_restore", Want::before},
               {"after_restore", Want::before},
               {"before_record", Want::after},
               {"after_record", Want::after}}});
}

}  // namespace
}  // namespace airlock::test

// The migration sandbox through a real apply: a bundle signed by a trusted key (made by hand, since
// `airlock build` refuses these migrations) whose migration tries an escape. The site must refuse
// the migration, name the reason, and leave its database and every other file as they were.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "tests/applier/crafted_bundle.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

struct Escape {
  const char* name;
  const char* sql;     // VICTIM is replaced by a database file outside the site
  const char* reason;  // part of the error
};

class SandboxApply : public ::testing::TestWithParam<Escape> {};

TEST_P(SandboxApply, MigrationIsRefusedAndNothingChanges) {
  SiteDir s("");
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(d->exec("CREATE TABLE items(id INTEGER PRIMARY KEY); INSERT INTO items VALUES (1), (2);"));
  }
  TempDir other;
  std::string victim = (other / "victim.db").string();
  {
    auto v = db::Database::open(victim, db::OpenMode::create);
    ASSERT_TRUE(v->exec("CREATE TABLE secrets(x); INSERT INTO secrets VALUES ('keep');"));
  }
  std::string victim_before = slurp(victim);
  std::string sql = GetParam().sql;
  if (auto at = sql.find("VICTIM"); at != std::string::npos) sql.replace(at, 6, victim);
  std::string before = s.dump();

  auto r = applier::apply(s.site, crafted_migration_bundle(other, "1.0.0", "0001_evil", sql, "SELECT 1;"), quiet_env());
  // A failed migration is either the run's error or the signal that rolled it back.
  std::string why = r ? "" : r.error().what();
  if (r) {
    EXPECT_NE(r->outcome, applier::Outcome::applied);
    for (const auto& f : r->failing_signals) why += f + "\n";
  }
  EXPECT_NE(why.find(GetParam().reason), std::string::npos) << why;
  EXPECT_EQ(s.dump(), before);
  EXPECT_TRUE(slurp(victim) == victim_before) << "the victim file changed";
}

INSTANTIATE_TEST_SUITE_P(
    Escapes, SandboxApply,
    ::testing::Values(Escape{"fts3_tokenizer_leak", "CREATE TABLE leak AS SELECT hex(fts3_tokenizer('simple')) AS p;",
                             "fts3_tokenizer"},
                      Escape{"attach_and_delete", "ATTACH 'VICTIM' AS v; DELETE FROM v.secrets;", "ATTACH"},
                      Escape{"vacuum_into_after_semicolon", "; VACUUM INTO 'VICTIM';", "VACUUM"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace airlock::test

// The migration sandbox through a real apply: a bundle signed by a trusted key (made by hand, since
// `airlock build` refuses these migrations) whose migration tries an escape. The site must refuse
// the migration, name the reason, and leave its database and every other file as they were.
#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"
#include "tests/support/craft.hpp"

namespace airlock::test {
namespace {

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

// Release 1.0.0 of the demo product with one migration `up`, signed by the demo key the site trusts.
std::string evil_bundle(const TempDir& dir, const std::string& up) {
  craft::BundleSpec spec;
  spec.product = "demo";
  spec.version = "1.0.0";
  spec.files = {{"notes/en.md", "# 1.0.0\n", false},
                {"migrations/0001.up.sql", up, false},
                {"migrations/0001.down.sql", "SELECT 1;", false}};
  spec.extra_toml =
      "\n[[migrations]]\nid = \"0001_evil\"\ndatabase = \"main\"\nup = \"migrations/0001.up.sql\"\n"
      "down = \"migrations/0001.down.sql\"\n";
  craft::Key key{"demo-hq", demo_key()};
  auto path = dir / "evil-1.0.0.tar.zst";
  craft::good_bundle(spec, {&key}).write(path);
  return path.string();
}

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

  auto r = applier::apply(s.site, evil_bundle(other, sql), quiet_env());
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

// [databases] of site.toml names each database's kind (core/db/target.hpp): a path is an SQLite
// file, a table says its kind; an unknown kind is refused at parse time naming the kinds there are.
#include <gtest/gtest.h>

#include <string>

#include "applier/site.hpp"

namespace airlock::applier {
namespace {

const std::string kHead = "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t.toml\"\n";

TEST(SiteDatabases, APathIsAnSqliteFileAndATableNamesItsKind) {
  auto s = parse_site(kHead + "[databases]\nmain = \"m.db\"\nlogs = { kind = \"sqlite\", path = \"l.db\" }\n",
                      "/srv/site/site.toml");
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->databases.at("main").kind, "sqlite");
  EXPECT_EQ(s->databases.at("main").location, "/srv/site/m.db");
  EXPECT_EQ(s->databases.at("main").name, "main");
  EXPECT_EQ(s->databases.at("logs").kind, "sqlite");
  EXPECT_EQ(s->databases.at("logs").location, "/srv/site/l.db");
}

TEST(SiteDatabases, UnknownKindIsRefusedNamingTheKinds) {
  auto s = parse_site(kHead + "[databases.main]\nkind = \"oracle\"\npath = \"m.db\"\n", "/srv/site/site.toml");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().cls(), ErrorClass::usage);
  EXPECT_NE(s.error().what().find("databases.main.kind: unknown kind 'oracle' (sqlite, postgres)"), std::string::npos)
      << s.error().what();
}

TEST(SiteDatabases, EntryKeysAreChecked) {
  for (const std::string body : {"[databases.main]\nkind = \"sqlite\"\n",                          // no path
                                 "[databases.main]\npath = \"m.db\"\n",                            // no kind
                                 "[databases.main]\nkind = \"sqlite\"\npath = \"m.db\"\nx = 1\n",  // unknown key
                                 "[databases]\nmain = 3\n"}) {
    auto s = parse_site(kHead + body, "/srv/site/site.toml");
    ASSERT_FALSE(s) << body;
    EXPECT_EQ(s.error().cls(), ErrorClass::usage) << s.error().what();
    EXPECT_NE(s.error().what().find("databases.main"), std::string::npos) << s.error().what();
  }
}

TEST(SiteDatabases, APostgresEntryNamesItsConnectionAndTimeouts) {
  auto s = parse_site(kHead +
                          "[databases.main]\nkind = \"postgres\"\nconnection = \"host=/run/postgresql dbname=app\"\n"
                          "statement_timeout = \"2m\"\nlock_timeout = \"3s\"\n",
                      "/srv/site/site.toml");
  ASSERT_TRUE(s) << s.error().what();
  const auto& d = s->databases.at("main");
  EXPECT_EQ(d.kind, "postgres");
  EXPECT_EQ(d.location, "host=/run/postgresql dbname=app") << "a conninfo is no path: never resolved";
  EXPECT_EQ(d.statement_timeout_ms, 120000);
  EXPECT_EQ(d.lock_timeout_ms, 3000);
  EXPECT_FALSE(d.allow_superuser);
  auto su = parse_site(kHead +
                           "[databases.main]\nkind = \"postgres\"\nconnection = \"dbname=app\"\n"
                           "allow_superuser = true\n",
                       "/srv/site/site.toml");
  ASSERT_TRUE(su) << su.error().what();
  EXPECT_TRUE(su->databases.at("main").allow_superuser);
}

TEST(SiteDatabases, APasswordInAPostgresConnectionIsRefusedNamingTheKey) {
  for (const std::string conn :
       {"host=/run/postgresql dbname=app password=hunter2", "postgresql://app:hunter2@db.example/app"}) {
    auto s = parse_site(kHead + "[databases.main]\nkind = \"postgres\"\nconnection = \"" + conn + "\"\n",
                        "/srv/site/site.toml");
    ASSERT_FALSE(s) << conn;
    EXPECT_EQ(s.error().cls(), ErrorClass::usage);
    EXPECT_NE(s.error().what().find("databases.main.connection"), std::string::npos) << s.error().what();
    EXPECT_NE(s.error().what().find("PGPASSFILE"), std::string::npos) << s.error().what();
    EXPECT_EQ(s.error().what().find("hunter2"), std::string::npos) << "the secret is not repeated";
  }
  auto path_key = parse_site(kHead + "[databases.main]\nkind = \"postgres\"\npath = \"m.db\"\n", "/srv/site/site.toml");
  ASSERT_FALSE(path_key);
  EXPECT_EQ(path_key.error().cls(), ErrorClass::usage);
}

TEST(SiteDatabases, APostgresCheckNamesAPostgresDatabase) {
  const std::string dbs =
      "[databases]\nfiles = \"f.db\"\n[databases.main]\nkind = \"postgres\"\nconnection = \"dbname=app\"\n";
  auto ok = parse_site(kHead + dbs + "[[checks]]\nname = \"w\"\nkind = \"postgres\"\ndatabase = \"main\"\n",
                       "/srv/site/site.toml");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->checks.at(0).kind, CheckKind::postgres);
  EXPECT_TRUE(ok->checks.at(0).query.empty()) << "no query: the write test";
  EXPECT_TRUE(ok->checks.at(0).retry) << "a server still starting is asked again until `within`";
  auto sqlite_db = parse_site(kHead + dbs + "[[checks]]\nname = \"w\"\nkind = \"postgres\"\ndatabase = \"files\"\n",
                              "/srv/site/site.toml");
  ASSERT_FALSE(sqlite_db);
  EXPECT_NE(sqlite_db.error().what().find("'files' is not a postgres database"), std::string::npos)
      << sqlite_db.error().what();
}

}  // namespace
}  // namespace airlock::applier

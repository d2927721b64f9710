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
  EXPECT_NE(s.error().what().find("databases.main.kind: unknown kind 'oracle' (sqlite)"), std::string::npos)
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

}  // namespace
}  // namespace airlock::applier

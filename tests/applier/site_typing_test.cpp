// site.toml is typed (docs/site.md): a value of the wrong type, out of range, or meant for another
// check kind is a usage error at parse time naming the check and the key, never a default in its
// place; and the file goes through core's TOML front door, so hostile nesting is refused cleanly.
#include <gtest/gtest.h>

#include <string>

#include "applier/site.hpp"

namespace airlock::applier {
namespace {

const std::string kHead =
    "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t.toml\"\n"
    "[databases]\nmain = \"m.db\"\n";

Result<Site> with_check(const std::string& body) {
  return parse_site(kHead + "[[checks]]\nname = \"probe\"\n" + body, "/nonexistent/site.toml");
}

void expect_refused(const std::string& body, const std::string& key) {
  auto r = with_check(body);
  ASSERT_FALSE(r) << body;
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("check 'probe'"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find(key), std::string::npos) << r.error().what();
}

TEST(SiteTyping, WrongTypesAreRefusedNotDefaulted) {
  expect_refused("kind = \"exec\"\nrun = \"true\"\nhard = \"false\"\n", "checks[0].hard: expected a boolean");
  expect_refused("kind = \"cert\"\npath = \"c.pem\"\nmin_days = \"30\"\n", "checks[0].min_days: expected an integer");
  expect_refused("kind = \"http\"\nurl = \"http://127.0.0.1:8080/\"\nexpect_status = \"201\"\n",
                 "checks[0].expect_status: expected an integer");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nsamples = 3.0\n", "checks[0].samples");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nmax_increase_percent = \"20\"\n",
                 "checks[0].max_increase_percent: expected a number");
  expect_refused("kind = \"disk_free\"\npath = \".\"\nmin_free_bytes = \"10\"\n", "checks[0].min_free_bytes");
  expect_refused("kind = \"sqlite\"\ndatabase = \"main\"\nquery = \"SELECT 1\"\nexpect = true\n", "checks[0].expect");
  expect_refused("kind = \"exec\"\nrun = [\"true\", 1]\n", "checks[0].run");
  expect_refused("kind = \"exec\"\nrun = \"true\"\ntimeout = true\n", "checks[0].timeout");
}

TEST(SiteTyping, OutOfRangeValuesAreRefused) {
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nmax_increase_percent = -5\n",
                 "max_increase_percent");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nmax_increase_percent = nan\n",
                 "max_increase_percent");
  expect_refused("kind = \"http\"\nurl = \"http://127.0.0.1:8080/\"\nexpect_status = 99999\n", "expect_status");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nsamples = 0\n", "samples");
  expect_refused("kind = \"disk_free\"\npath = \".\"\nmin_free_bytes = -1\n", "min_free_bytes");
  expect_refused("kind = \"cert\"\npath = \"c.pem\"\nmin_days = -3\n", "min_days");
}

TEST(SiteTyping, KeysOfAnotherKindAreRefused) {
  expect_refused("kind = \"tcp\"\naddress = \"127.0.0.1:5432\"\nurl = \"http://127.0.0.1/\"\n", "checks[0].url");
  expect_refused("kind = \"http\"\nurl = \"http://127.0.0.1/\"\nsamples = 3\n", "checks[0].samples");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nexpect = 1\n", "checks[0].expect");
  expect_refused("kind = \"sqlite\"\ndatabase = \"main\"\nquery = \"SELECT 1\"\nexpect = 1\npath = \".\"\n",
                 "checks[0].path");
}

TEST(SiteTyping, AddressesAreCheckedAtParseTime) {
  expect_refused("kind = \"http\"\nurl = \"http://10.0.0.1:8080/\"\n", "not a loopback address");
  expect_refused("kind = \"http\"\nurl = \"http://example.com/\"\n", "not a loopback address");
  expect_refused("kind = \"http\"\nurl = \"https://127.0.0.1/\"\n", "only http://");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:99999/\"\n", "port");
  expect_refused("kind = \"tcp\"\naddress = \"127.0.0.1\"\n", "has no port");
  expect_refused("kind = \"tcp\"\naddress = \"192.168.1.1:22\"\n", "not a loopback address");
  expect_refused("kind = \"tcp\"\naddress = \"127.0.0.1:0\"\n", "port");
  for (const char* ok : {"address = \"127.0.0.1:5432\"", "address = \"localhost:1\"", "address = \"[::1]:65535\"",
                         "address = \"127.1.2.3:80\""}) {
    auto r = with_check(std::string("kind = \"tcp\"\n") + ok + "\n");
    EXPECT_TRUE(r) << ok << ": " << r.error().what();
  }
  for (const char* ok : {"http://127.0.0.1/", "http://localhost:8080/health", "http://[::1]:80/x"}) {
    auto r = with_check(std::string("kind = \"http\"\nurl = \"") + ok + "\"\n");
    EXPECT_TRUE(r) << ok << ": " << r.error().what();
  }
}

TEST(SiteTyping, ControlCharactersInNamesAreRefused) {
  auto r = parse_site(kHead + "[[checks]]\nname = \"a\\u001b[2Jb\"\nkind = \"exec\"\nrun = \"true\"\n",
                      "/nonexistent/site.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("checks[0].name"), std::string::npos) << r.error().what();
}

TEST(SiteTyping, WrongTypesInSiteTableAreRefused) {
  for (const std::string& bad :
       {std::string("[site]\nname = 1\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\n"),
        std::string("[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\nchannel = 2\n"),
        std::string("[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\n[databases]\n"
                    "main = 3\n"),
        std::string("site = 1\n")}) {
    auto r = parse_site(bad, "/nonexistent/site.toml");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  }
}

// toml++ recurses once per nesting level; without the front door's guard these overflowed the
// stack (a segfault of every command that reads site.toml).
TEST(SiteTyping, DeeplyNestedDocumentsAreAUsageErrorNotACrash) {
  std::string header = "[a";
  for (int i = 0; i < 40000; ++i) header += ".a";
  std::string inline_tables, arrays;
  for (int i = 0; i < 40000; ++i) inline_tables += "{a=";
  for (int i = 0; i < 40000; ++i) arrays += "[";
  for (const std::string& deep :
       {kHead + header + "]\n", kHead + "x = " + inline_tables + "1\n", kHead + "x = " + arrays + "\n"}) {
    auto r = parse_site(deep, "/nonexistent/site.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
    EXPECT_NE(r.error().what().find("nested too deeply"), std::string::npos) << r.error().what();
  }
}

}  // namespace
}  // namespace airlock::applier

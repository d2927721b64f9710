// The health model's keys in site.toml (within, first_attempt, when, [[check_groups]], the
// systemd, restarts and cert keys) are typed like every other key: a fault is a usage error at
// parse time naming the check (or group) and the key.
#include <gtest/gtest.h>

#include <string>

#include "applier/site.hpp"

namespace airlock::applier {
namespace {

const std::string kHead =
    "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t.toml\"\n"
    "[databases]\nmain = \"m.db\"\n[config]\ntopology = \"topology.toml\"\n";

Result<Site> parse(const std::string& body) { return parse_site(kHead + body, "/nonexistent/site.toml"); }

Result<Site> with_check(const std::string& body) { return parse("[[checks]]\nname = \"probe\"\n" + body); }

void expect_refused(const std::string& body, const std::string& key) {
  auto r = with_check(body);
  ASSERT_FALSE(r) << body;
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("check 'probe'"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find(key), std::string::npos) << r.error().what();
}

constexpr const char* kHttp = "kind = \"http\"\nurl = \"http://127.0.0.1:8080/\"\n";

TEST(HealthTyping, WithinAndFirstAttempt) {
  expect_refused(std::string(kHttp) + "within = \"16m\"\n", "checks[0].within: is longer than the limit of 15m");
  expect_refused(std::string(kHttp) + "within = \"soon\"\n", "checks[0].within");
  expect_refused(std::string(kHttp) + "within = true\n", "checks[0].within");
  expect_refused(std::string(kHttp) + "first_attempt = \"yes\"\n", "checks[0].first_attempt: expected a boolean");
  expect_refused("kind = \"systemd\"\nunit = \"a.service\"\nfirst_attempt = true\n", "checks[0].first_attempt");
  auto ok = with_check(std::string(kHttp) + "within = \"5m\"\ntimeout = \"2s\"\n");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->checks[0].within_ms, 300000);
  EXPECT_EQ(ok->checks[0].timeout_ms, 2000);
  EXPECT_TRUE(ok->checks[0].retry);  // a service may still be starting
  auto once = with_check(std::string(kHttp) + "first_attempt = true\n");
  ASSERT_TRUE(once);
  EXPECT_FALSE(once->checks[0].retry);
  EXPECT_EQ(once->checks[0].within_ms, kDefaultWithinMs);
  auto exec = with_check("kind = \"exec\"\nrun = \"true\"\n");
  ASSERT_TRUE(exec);
  EXPECT_FALSE(exec->checks[0].retry);  // a smoke-test plan: one try decides
}

TEST(HealthTyping, When) {
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = 1\n", "checks[0].when");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"nope\", key = \"a\", equals = true }\n",
                 "checks[0].when.config: no config 'nope'");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"topology\", key = \"a..b\", equals = 1 }\n",
                 "checks[0].when.key");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"topology\", key = \"a\", equals = [1] }\n",
                 "checks[0].when.equals: expected a boolean, a number or a string, found an array");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"topology\", key = \"a\" }\n",
                 "checks[0].when.equals: required");
  expect_refused("kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"topology\", key = \"a\", equals = 1, x = 2 }\n",
                 "checks[0].when.x: unknown key");
  auto ok = with_check(
      "kind = \"exec\"\nrun = \"true\"\nwhen = { config = \"topology\", key = \"bgp_stress.enabled\", equals = true "
      "}\n");
  ASSERT_TRUE(ok) << ok.error().what();
  ASSERT_TRUE(ok->checks[0].when);
  EXPECT_EQ(ok->checks[0].when->key, "bgp_stress.enabled");
  EXPECT_EQ(std::get<bool>(ok->checks[0].when->equals), true);
}

TEST(HealthTyping, CrashLoopAndCertKeys) {
  expect_refused("kind = \"systemd\"\n", "checks[0].unit: required");
  expect_refused("kind = \"systemd\"\nunit = \"a.service\"\nmax_restarts = -1\n", "checks[0].max_restarts");
  expect_refused("kind = \"systemd\"\nunit = \"a.service\"\nmax_restarts = \"1\"\n", "checks[0].max_restarts");
  expect_refused("kind = \"systemd\"\nunit = \"a.service\"\nrun = \"x\"\n", "checks[0].run: unknown key");
  expect_refused("kind = \"restarts\"\nmax_restarts = 1\n", "checks[0].run: required");
  expect_refused("kind = \"cert\"\npath = \"c.pem\"\nca = 1\n", "checks[0].ca: expected a string");
  expect_refused("kind = \"cert\"\npath = \"c.pem\"\nhost = \"\"\n", "checks[0].host: must not be empty");
  expect_refused("kind = \"latency\"\nurl = \"http://127.0.0.1:8080/\"\nmax_increase_ms = 1.5\n",
                 "checks[0].max_increase_ms");
  auto ok = with_check("kind = \"restarts\"\nrun = [\"cat\", \"n\"]\nmax_restarts = 2\nwithin = \"5m\"\n");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->checks[0].max_restarts, 2);
  EXPECT_EQ(ok->checks[0].kind, CheckKind::restarts);
}

const std::string kThree =
    "[[checks]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n"
    "[[checks]]\nname = \"b\"\nkind = \"tcp\"\naddress = \"127.0.0.1:2\"\n"
    "[[checks]]\nname = \"c\"\nkind = \"tcp\"\naddress = \"127.0.0.1:3\"\n";

void expect_group_refused(const std::string& groups, const std::string& key, const std::string& checks = kThree) {
  auto r = parse(checks + groups);
  ASSERT_FALSE(r) << groups;
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find(key), std::string::npos) << r.error().what();
}

TEST(HealthTyping, CheckGroups) {
  auto ok = parse(kThree +
                  "[[check_groups]]\nname = \"personas\"\nchecks = [\"a\", \"b\", \"c\"]\nmin_pass = 2\n"
                  "hard = false\n");
  ASSERT_TRUE(ok) << ok.error().what();
  ASSERT_EQ(ok->check_groups.size(), 1u);
  EXPECT_FALSE(ok->check_groups[0].hard);
  EXPECT_EQ(ok->checks[1].group, "personas");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\", \"b\", \"c\"]\nmin_pass = 4\n",
                       "check_groups[0].min_pass: 4 is outside 1..3");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\", \"zz\"]\nmin_pass = 1\n",
                       "check_groups[0].checks: no check named 'zz'");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = []\nmin_pass = 1\n", "check_groups[0].checks");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\"]\nmin_pass = \"1\"\n",
                       "check_groups[0].min_pass: expected an integer");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\"]\nmin_pass = 1\nhard = 1\n",
                       "check_groups[0].hard");
  expect_group_refused("[[check_groups]]\nname = \"a\"\nchecks = [\"b\"]\nmin_pass = 1\n", "check_groups[0].name");
  expect_group_refused(
      "[[check_groups]]\nname = \"g\"\nchecks = [\"a\"]\nmin_pass = 1\n"
      "[[check_groups]]\nname = \"h\"\nchecks = [\"a\"]\nmin_pass = 1\n",
      "check_groups[1].checks: check 'a' is already in group 'g'");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\"]\nmin_pass = 1\n", "sets `hard`",
                       "[[checks]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\nhard = false\n");
  expect_group_refused("[[check_groups]]\nname = \"g\"\nchecks = [\"a\"]\nmin_pass = 1\ntypo = 1\n",
                       "check_groups[0].typo");
}

}  // namespace
}  // namespace airlock::applier

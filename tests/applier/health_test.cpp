// Every check kind against real things: a process, an HTTP server and a TCP listener the test
// starts on 127.0.0.1, a SQLite file, the file system, an X.509 certificate made with openssl.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "applier/health.hpp"
#include "applier/site.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::CheckKind;
using applier::CheckSpec;

applier::Site site_with(std::vector<CheckSpec> checks, const TempDir& dir) {
  applier::Site s;
  s.base_dir = dir.str();
  s.databases["main"] = {"main", "sqlite", (dir / "main.db").string(), db::Durability::durable};
  s.checks = std::move(checks);
  return s;
}

CheckSpec spec(const std::string& name, CheckKind k) {
  CheckSpec c;
  c.name = name;
  c.kind = k;
  c.timeout_ms = 5000;
  return c;
}

applier::CheckResult run1(const applier::Site& s, const CheckSpec& c, const applier::Baseline* b = nullptr) {
  std::atomic<bool> cancel{false};
  double ms = -1;
  return applier::run_one_check(s, c, b, cancel, &ms);
}

TEST(Health, Exec) {
  TempDir d;
  auto ok = spec("ok", CheckKind::exec);
  ok.argv = {"/bin/sh", "-c", "exit 0"};
  auto bad = spec("bad", CheckKind::exec);
  bad.argv = {"/bin/sh", "-c", "exit 4"};
  auto slow = spec("slow", CheckKind::exec);
  slow.argv = {"sleep", "30"};
  slow.timeout_ms = 100;
  auto s = site_with({}, d);
  EXPECT_TRUE(run1(s, ok).ok);
  auto b = run1(s, bad);
  EXPECT_FALSE(b.ok);
  EXPECT_NE(b.detail.find("exit code 4"), std::string::npos);
  auto t = run1(s, slow);
  EXPECT_FALSE(t.ok);
  EXPECT_NE(t.detail.find("timed out"), std::string::npos);
}

TEST(Health, HttpAndTcpOnLoopback) {
  TempDir d;
  HttpServer up(200), down(503);
  auto s = site_with({}, d);
  auto h = spec("http", CheckKind::http);
  h.url = up.url();
  EXPECT_TRUE(run1(s, h).ok) << run1(s, h).detail;
  h.url = down.url();
  auto r = run1(s, h);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("503"), std::string::npos) << r.detail;
  auto t = spec("tcp", CheckKind::tcp);
  t.address = "127.0.0.1:" + std::to_string(up.port());
  EXPECT_TRUE(run1(s, t).ok) << run1(s, t).detail;
  // A port nobody listens on (the server's, once closed) fails.
  int closed;
  {
    HttpServer gone(200);
    closed = gone.port();
  }
  t.address = "127.0.0.1:" + std::to_string(closed);
  EXPECT_FALSE(run1(s, t).ok);
  // Only loopback: a site's checks never reach out.
  h.url = "http://192.0.2.1:80/";
  auto far = run1(s, h);
  EXPECT_FALSE(far.ok);
  EXPECT_NE(far.detail.find("loopback"), std::string::npos) << far.detail;
}

TEST(Health, LatencyAgainstBaseline) {
  TempDir d;
  HttpServer up(200);
  auto s = site_with({}, d);
  auto l = spec("lat", CheckKind::latency);
  l.url = up.url();
  l.samples = 3;
  l.max_increase_percent = 50;
  std::atomic<bool> cancel{false};
  double ms = -1;
  auto first = applier::run_one_check(s, l, nullptr, cancel, &ms);
  EXPECT_TRUE(first.ok) << first.detail;
  EXPECT_GE(ms, 0);
  applier::Baseline generous{{"lat", 10000.0}};
  EXPECT_TRUE(run1(s, l, &generous).ok);
  // A baseline far below anything measurable, with no allowance: the median is outside it.
  l.max_increase_percent = 0;
  l.max_increase_ms = 0;
  applier::Baseline tight{{"lat", 0.001}};
  EXPECT_FALSE(run1(s, l, &tight).ok);
}

TEST(Health, SqliteDiskAndCert) {
  TempDir d;
  {
    auto db = db::Database::open((d / "main.db").string(), db::OpenMode::create);
    ASSERT_TRUE(db->exec("CREATE TABLE t(a); INSERT INTO t VALUES (1), (2);"));
  }
  auto s = site_with({}, d);
  auto q = spec("q", CheckKind::sqlite);
  q.database = "main";
  q.query = "SELECT count(*) FROM t";
  q.expect = "2";
  EXPECT_TRUE(run1(s, q).ok);
  q.expect = "3";
  EXPECT_FALSE(run1(s, q).ok);
  q.query = "SELECT count(*) FROM missing";
  EXPECT_FALSE(run1(s, q).ok);

  auto disk = spec("disk", CheckKind::disk_free);
  disk.path = d.str();
  disk.min_free_bytes = 1;
  EXPECT_TRUE(run1(s, disk).ok);
  disk.min_free_bytes = ~0ull;
  EXPECT_FALSE(run1(s, disk).ok);

  auto r = run("openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + (d / "k.pem").string() + "' -out '" +
               (d / "c.pem").string() + "' -days 30 -subj /CN=test");
  if (r.status != 0) GTEST_SKIP() << "openssl cannot make a certificate here: " << r.output;
  auto cert = spec("cert", CheckKind::cert);
  cert.path = (d / "c.pem").string();
  cert.min_days = 10;
  EXPECT_TRUE(run1(s, cert).ok) << run1(s, cert).detail;
  cert.min_days = 60;
  EXPECT_FALSE(run1(s, cert).ok);
}

TEST(Health, SqliteQueryPastItsDeadlineIsInterrupted) {
  TempDir d;
  { auto db = db::Database::open((d / "main.db").string(), db::OpenMode::create); }
  auto s = site_with({}, d);
  auto q = spec("runaway", CheckKind::sqlite);
  q.database = "main";
  q.query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  q.expect = "1";
  q.timeout_ms = 200;
  auto r = run1(s, q);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("interrupt"), std::string::npos) << r.detail;
}

TEST(Health, FirstHardFailureDecidesWithoutWaiting) {
  TempDir d;
  auto fast_fail = spec("fails", CheckKind::exec);
  fast_fail.argv = {"/bin/sh", "-c", "exit 1"};
  auto slow = spec("slow", CheckKind::exec);
  slow.argv = {"sleep", "60"};
  slow.timeout_ms = 120000;
  auto soft = spec("soft", CheckKind::exec);
  soft.hard = false;
  soft.argv = {"/bin/sh", "-c", "exit 1"};
  auto run = applier::run_checks(site_with({slow, fast_fail}, d), nullptr);
  EXPECT_TRUE(run.hard_failed);
  EXPECT_TRUE(run.hard_fail_at);
  // The slow check was cancelled, not waited for: it has no result.
  for (const auto& r : run.results) EXPECT_NE(r.name, "slow");
  // Soft failures never decide.
  auto run2 = applier::run_checks(site_with({soft}, d), nullptr);
  EXPECT_FALSE(run2.hard_failed);
  ASSERT_EQ(run2.signals.size(), 1u);
}

TEST(Health, SiteFileParsesEveryKind) {
  TempDir d;
  spit(d / "site.toml",
       "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t.toml\"\n"
       "[databases]\nmain = \"m.db\"\n"
       "[[checks]]\nname = \"a\"\nkind = \"exec\"\nrun = [\"true\"]\n"
       "[[checks]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\nexpect_status = 204\nhard = false\n"
       "[[checks]]\nname = \"c\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\ntimeout = \"2s\"\n"
       "[[checks]]\nname = \"d\"\nkind = \"sqlite\"\ndatabase = \"main\"\nquery = \"SELECT 1\"\nexpect = 1\n"
       "[[checks]]\nname = \"e\"\nkind = \"disk_free\"\npath = \".\"\nmin_free_bytes = 10\n"
       "[[checks]]\nname = \"f\"\nkind = \"cert\"\npath = \"c.pem\"\nmin_days = 3\n"
       "[[checks]]\nname = \"g\"\nkind = \"latency\"\nurl = \"http://127.0.0.1:1/\"\nsamples = 3\nmax_increase_percent "
       "= 20\n");
  auto s = applier::load_site((d / "site.toml").string());
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_EQ(s->checks.size(), 7u);
  EXPECT_EQ(s->state_dir, (d / "st").string());
  EXPECT_FALSE(s->checks[1].hard);
  EXPECT_EQ(s->checks[1].expect_status, 204);
  EXPECT_EQ(s->checks[2].timeout_ms, 2000);
  EXPECT_EQ(s->checks[3].expect, "1");

  spit(d / "bad.toml", "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\ntypo = 1\n");
  auto bad = applier::load_site((d / "bad.toml").string());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().cls(), ErrorClass::usage);
  EXPECT_NE(bad.error().what().find("typo"), std::string::npos);
  spit(d / "bad2.toml",
       "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\n"
       "[[checks]]\nname = \"q\"\nkind = \"sqlite\"\ndatabase = \"nope\"\nquery = \"x\"\nexpect = 1\n");
  auto bad2 = applier::load_site((d / "bad2.toml").string());
  ASSERT_FALSE(bad2);
  EXPECT_NE(bad2.error().what().find("nope"), std::string::npos);
}

}  // namespace
}  // namespace airlock::test

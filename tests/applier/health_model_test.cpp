// The health model against real things: checks that wait for a service, deadlines that cut a
// hanging check, quorum groups, conditions, crash-loop counters (a counter file, a stand-in
// systemctl on PATH) and certificate chains made here with OpenSSL. Timing assertions are generous
// bounds only.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "applier/health.hpp"
#include "applier/site.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::CheckKind;
using applier::CheckSpec;
using Clock = std::chrono::steady_clock;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

applier::Site site_with(std::vector<CheckSpec> checks, const TempDir& dir) {
  applier::Site s;
  s.base_dir = dir.str();
  s.configs["topology"] = (dir / "topology.toml").string();
  s.checks = std::move(checks);
  return s;
}

CheckSpec spec(const std::string& name, CheckKind k) {
  CheckSpec c;
  c.name = name;
  c.kind = k;
  c.timeout_ms = 2000;
  return c;
}

// A port nobody listens on: one a server had, once closed.
int closed_port() {
  HttpServer gone(200);
  return gone.port();
}

// Listens on `port` once `trigger` exists plus `delay` (a service that takes a while to start).
class LateServer {
 public:
  LateServer(std::string trigger, std::chrono::milliseconds delay) {
    port_ = closed_port();
    thread_ = std::thread([this, trigger, delay] {
      while (!stop_ && !fs::exists(trigger)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const auto at = Clock::now() + delay;
      while (!stop_ && Clock::now() < at) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (stop_) return;
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(port_));
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) return;
      fd_ = fd;
      while (!stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) continue;
        char buf[2048];
        (void)::recv(c, buf, sizeof buf, 0);
        const std::string resp = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~LateServer() {
    stop_ = true;
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/health"; }

 private:
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(HealthModel, ServiceListeningThreeSecondsAfterResumePassesWithin60s) {
  TempDir pre;
  const std::string marker = (pre / "resumed").string();
  LateServer late(marker, std::chrono::seconds(3));
  SiteDir s(std::string(SiteDir::kItemsCheck) + "\n[[checks]]\nname = \"dashboard\"\nkind = \"http\"\nurl = \"" +
                late.url() + "\"\nwithin = \"60s\"\ntimeout = \"2s\"\n",
            "[hooks]\nresume = { run = \"touch '" + marker + "'\" }\n\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::applied);
  ASSERT_TRUE(r->health_ms);
  // It waited for the service (about 3 s), not for its whole minute.
  EXPECT_GE(*r->health_ms, 2500);
  EXPECT_LT(*r->health_ms, 45000);
  bool seen = false;
  for (const auto& c : r->checks)
    if (c.name == "dashboard") seen = c.ok;
  EXPECT_TRUE(seen);
}

TEST(HealthModel, ServiceThatNeverListensFailsAtItsDeadlineAndRollsBack) {
  SiteDir s(std::string(SiteDir::kItemsCheck) + "\n[[checks]]\nname = \"dashboard\"\nkind = \"http\"\nurl = " +
            "\"http://127.0.0.1:" + std::to_string(closed_port()) + "/\"\nwithin = \"2s\"\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::rolled_back);
  ASSERT_TRUE(r->first_hard_failure_ms);
  EXPECT_GE(*r->first_hard_failure_ms, 1900);  // it kept trying until its deadline
  EXPECT_LT(*r->first_hard_failure_ms, 20000);
  ASSERT_FALSE(r->failing_signals.empty());
  EXPECT_NE(r->failing_signals.front().find("not passing within 2 s"), std::string::npos) << r->failing_signals.front();
}

TEST(HealthModel, HangingHardCheckIsCutAtTheDecisionDeadlineAndTheTimesAreTrue) {
  // Its own timeout is ten minutes; its deadline is two seconds.
  SiteDir s(
      std::string(SiteDir::kItemsCheck) +
      "\n[[checks]]\nname = \"smoke\"\nkind = \"exec\"\nrun = \"sleep 600\"\ntimeout = \"10m\"\nwithin = \"2s\"\n");
  const auto t0 = Clock::now();
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  const auto wall = ms_since(t0);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::rolled_back);
  ASSERT_TRUE(r->health_ms && r->first_hard_failure_ms && r->rollback_start_ms && r->signal_to_rollback_ms);
  EXPECT_GE(*r->first_hard_failure_ms, 1900);
  EXPECT_LT(*r->first_hard_failure_ms, 20000);
  EXPECT_GE(*r->rollback_start_ms, *r->first_hard_failure_ms);
  EXPECT_LT(*r->rollback_start_ms, 20000);  // far before the attempt's own ten minutes
  EXPECT_GE(*r->health_ms, *r->first_hard_failure_ms);
  // The whole apply (preflight measures the check once too, also cut at two seconds) is bounded.
  EXPECT_LT(wall, 60000);
  EXPECT_NE(r->failing_signals.front().find("cut at the check's deadline"), std::string::npos)
      << r->failing_signals.front();
}

CheckSpec endpoint(const std::string& name, const std::string& url) {
  auto c = spec(name, CheckKind::http);
  c.url = url;
  c.group = "personas";
  c.hard = false;
  return c;
}

applier::CheckResult find(const applier::CheckRun& run, const std::string& name) {
  for (const auto& r : run.results)
    if (r.name == name) return r;
  ADD_FAILURE() << "no result for " << name;
  return {};
}

TEST(HealthModel, TwoOfThreeGroupOneDownIsASoftWarningTwoDownFailsAtItsSeverity) {
  TempDir d;
  HttpServer a(200), b(200);
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto site = site_with({endpoint("p1", a.url()), endpoint("p2", b.url()), endpoint("p3", down)}, d);
  site.check_groups.push_back({"personas", {"p1", "p2", "p3"}, 2, true});
  auto one_down = applier::run_checks(site, nullptr);
  EXPECT_FALSE(one_down.hard_failed);
  EXPECT_TRUE(find(one_down, "personas").ok);
  ASSERT_EQ(one_down.signals.size(), 1u);  // the warning for p3
  EXPECT_NE(one_down.signals[0].find("p3"), std::string::npos);
  EXPECT_FALSE(find(one_down, "p3").hard);

  site.checks[1].url = down;
  auto two_down = applier::run_checks(site, nullptr);
  EXPECT_TRUE(two_down.hard_failed);
  EXPECT_FALSE(find(two_down, "personas").ok);
  EXPECT_NE(two_down.decided_by.find("group 'personas'"), std::string::npos) << two_down.decided_by;

  site.check_groups[0].hard = false;  // a soft group: the same failure only warns
  auto soft = applier::run_checks(site, nullptr);
  EXPECT_FALSE(soft.hard_failed);
  EXPECT_FALSE(find(soft, "personas").ok);
}

TEST(HealthModel, GroupFailsAsSoonAsItsQuorumIsOutOfReach) {
  TempDir d;
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto slow = spec("slow", CheckKind::exec);
  slow.argv = {"sleep", "60"};
  slow.timeout_ms = 120000;
  slow.group = "g";
  auto site = site_with({endpoint("x", down), endpoint("y", down), slow}, d);
  site.checks[0].group = site.checks[1].group = "g";
  site.check_groups.push_back({"g", {"x", "y", "slow"}, 2, true});
  const auto t0 = Clock::now();
  auto run = applier::run_checks(site, nullptr);
  EXPECT_TRUE(run.hard_failed);
  EXPECT_LT(ms_since(t0), 30000);  // the sleeping member was not waited for
}

TEST(HealthModel, ConditionalCheckSkippedWhenFalseRunWhenTrue) {
  TempDir d;
  auto bgp = spec("bgp", CheckKind::exec);
  bgp.argv = {"/bin/sh", "-c", "exit 1"};
  bgp.when = applier::Condition{"topology", "bgp_stress.enabled", true, "true"};
  auto site = site_with({bgp}, d);
  spit(d / "topology.toml", "[bgp_stress]\nenabled = false\n");
  auto off = applier::run_checks(site, nullptr);
  EXPECT_FALSE(off.hard_failed);
  auto r = find(off, "bgp");
  EXPECT_TRUE(r.skipped);
  EXPECT_NE(r.detail.find("skipped: topology: bgp_stress.enabled is false"), std::string::npos) << r.detail;

  spit(d / "topology.toml", "mode = \"safe\"\n");  // a missing key is false
  auto missing = applier::run_checks(site, nullptr);
  EXPECT_FALSE(missing.hard_failed);
  EXPECT_NE(find(missing, "bgp").detail.find("is not set"), std::string::npos);

  spit(d / "topology.toml", "[bgp_stress]\nenabled = true\n");
  auto on = applier::run_checks(site, nullptr);
  EXPECT_TRUE(on.hard_failed);
  EXPECT_FALSE(find(on, "bgp").skipped);
}

TEST(HealthModel, ConditionIsReadAfterTheConfigDelta) {
  // The demo's 1.1.0 delta sets mode = "fast" in the topology (was "safe").
  SiteDir s(std::string(SiteDir::kItemsCheck) +
            "\n[[checks]]\nname = \"fast-only\"\nkind = \"exec\"\nrun = \"exit 1\"\n"
            "when = { config = \"topology\", key = \"mode\", equals = \"safe\" }\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::applied);
  bool skipped = false;
  for (const auto& c : r->checks)
    if (c.name == "fast-only") skipped = c.skipped;
  EXPECT_TRUE(skipped);
}

TEST(HealthModel, RestartCounterThatGrowsFails) {
  TempDir d;
  const auto counter = d / "restarts";
  spit(counter, "4\n");
  auto c = spec("pods", CheckKind::restarts);
  c.argv = {"cat", counter.string()};
  c.max_restarts = 1;
  c.within_ms = 5000;
  auto site = site_with({c}, d);
  std::thread bump([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    spit(counter, "5\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    spit(counter, "6\n");
  });
  const auto t0 = Clock::now();
  auto run = applier::run_checks(site, nullptr);
  bump.join();
  EXPECT_TRUE(run.hard_failed);
  EXPECT_NE(run.decided_by.find("restarted 2 times"), std::string::npos) << run.decided_by;
  EXPECT_LT(ms_since(t0), 4800);  // as soon as it grew, not at the end of the window

  auto steady = applier::run_checks(site, nullptr);  // 6 throughout: passes at the end of its window
  EXPECT_FALSE(steady.hard_failed) << (steady.signals.empty() ? "" : steady.signals[0]);
  spit(counter, "many\n");
  auto garbage = applier::run_checks(site, nullptr);
  EXPECT_TRUE(garbage.hard_failed);
  EXPECT_NE(garbage.decided_by.find("no counter"), std::string::npos) << garbage.decided_by;
}

// A stand-in systemctl first on PATH: prints what `systemctl show -p ActiveState,NRestarts` would.
class FakeSystemctl {
 public:
  explicit FakeSystemctl(const TempDir& d) : dir_(d / "bin"), state_(d / "unit.state"), count_(d / "unit.restarts") {
    fs::create_directories(dir_);
    spit(dir_ / "systemctl",
         "#!/bin/sh\n[ \"$1 $2 $3\" = \"show -p ActiveState,NRestarts\" ] || exit 9\n"
         "echo \"NRestarts=$(cat '" +
             count_.string() +
             "')\"\n"
             "echo \"ActiveState=$(cat '" +
             state_.string() + "')\"\n");
    fs::permissions(dir_ / "systemctl", fs::perms::owner_all);
    set("active", 0);
    const char* p = std::getenv("PATH");
    old_ = p ? p : "";
    ::setenv("PATH", (dir_.string() + ":" + old_).c_str(), 1);
  }
  ~FakeSystemctl() { ::setenv("PATH", old_.c_str(), 1); }
  void set(const std::string& state, int restarts) const {
    spit(state_, state + "\n");
    spit(count_, std::to_string(restarts) + "\n");
  }

 private:
  fs::path dir_, state_, count_;
  std::string old_;
};

TEST(HealthModel, SystemdUnitActiveWithoutRestartsPassesCrashLoopFails) {
  TempDir d;
  FakeSystemctl fake(d);
  auto c = spec("api-unit", CheckKind::systemd);
  c.unit = "demo-api.service";
  c.within_ms = 1500;
  auto site = site_with({c}, d);
  // Preflight reads once: it does not watch a window (here a minute long).
  site.checks[0].within_ms = 60000;
  const auto t0 = Clock::now();
  auto pre = applier::run_checks(site, nullptr, nullptr, applier::CheckMode::measure);
  EXPECT_FALSE(pre.hard_failed) << (pre.signals.empty() ? "" : pre.signals[0]);
  EXPECT_LT(ms_since(t0), 20000);
  site.checks[0].within_ms = 1500;
  auto ok = applier::run_checks(site, nullptr);
  EXPECT_FALSE(ok.hard_failed) << (ok.signals.empty() ? "" : ok.signals[0]);
  EXPECT_NE(find(ok, "api-unit").detail.find("active"), std::string::npos);

  std::thread loop([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    fake.set("activating", 1);
  });
  auto looping = applier::run_checks(site, nullptr);
  loop.join();
  EXPECT_TRUE(looping.hard_failed);
  EXPECT_NE(looping.decided_by.find("demo-api.service"), std::string::npos) << looping.decided_by;

  fake.set("failed", 1);
  auto failed = applier::run_checks(site, nullptr);
  EXPECT_TRUE(failed.hard_failed);
  EXPECT_NE(failed.decided_by.find("is failed"), std::string::npos) << failed.decided_by;
}

// Certificates made here: a CA, a leaf it signs for a host, with chosen validity.
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr new_key() { return KeyPtr(EVP_EC_gen("P-256"), EVP_PKEY_free); }

CertPtr make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long from_days,
                  long to_days, bool ca, const std::string& dns = "") {
  CertPtr x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), std::rand() + 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), to_days * 86400);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!dns.empty()) add(NID_subject_alt_name, ("DNS:" + dns).c_str());
  X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return x;
}

void write_pem(const fs::path& p, X509* x) {
  FILE* f = std::fopen(p.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
}

TEST(HealthModel, CertificateChainValidityAndHost) {
  TempDir d;
  auto ca_key = new_key(), other_key = new_key(), leaf_key = new_key();
  auto ca = make_cert("Site CA", ca_key.get(), nullptr, nullptr, -10, 3650, true);
  auto other = make_cert("Other CA", other_key.get(), nullptr, nullptr, -10, 3650, true);
  write_pem(d / "ca.pem", ca.get());
  write_pem(d / "other.pem", other.get());
  auto leaf_with = [&](const std::string& file, long from, long to) {
    auto x = make_cert("svc", leaf_key.get(), ca.get(), ca_key.get(), from, to, false, "svc.site.local");
    write_pem(d / file, x.get());
    return (d / file).string();
  };
  auto c = spec("tls", CheckKind::cert);
  c.ca = (d / "ca.pem").string();
  c.host = "svc.site.local";
  c.min_days = 30;
  auto site = site_with({}, d);
  auto check = [&](const std::string& path) {
    c.path = path;
    std::atomic<bool> cancel{false};
    double ms = -1;
    return applier::run_one_check(site, c, nullptr, cancel, &ms);
  };
  auto good = check(leaf_with("good.pem", -1, 365));
  EXPECT_TRUE(good.ok) << good.detail;
  EXPECT_NE(good.detail.find("chain verified"), std::string::npos) << good.detail;

  auto soon = check(leaf_with("soon.pem", -1, 10));  // valid, but fewer than 30 days left
  EXPECT_FALSE(soon.ok) << soon.detail;

  c.ca = (d / "other.pem").string();  // an unknown CA
  auto unknown = check(leaf_with("good2.pem", -1, 365));
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.detail.find("local issuer"), std::string::npos) << unknown.detail;
  c.ca = (d / "ca.pem").string();

  auto future = check(leaf_with("future.pem", 5, 365));
  EXPECT_FALSE(future.ok);
  EXPECT_NE(future.detail.find("not yet valid"), std::string::npos) << future.detail;

  auto expired = check(leaf_with("expired.pem", -30, -1));
  EXPECT_FALSE(expired.ok);
  EXPECT_NE(expired.detail.find("expired"), std::string::npos) << expired.detail;

  c.host = "other.site.local";
  auto wrong = check(leaf_with("good3.pem", -1, 365));
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.detail.find("mismatch"), std::string::npos) << wrong.detail;

  // Without a CA bundle validity and name are still checked.
  c.ca.clear();
  auto alone_expired = check(leaf_with("expired2.pem", -30, -1));
  EXPECT_FALSE(alone_expired.ok);
  EXPECT_NE(alone_expired.detail.find("expired"), std::string::npos) << alone_expired.detail;
  auto alone_host = check(leaf_with("good4.pem", -1, 365));
  EXPECT_FALSE(alone_host.ok);
  EXPECT_NE(alone_host.detail.find("not valid for host"), std::string::npos) << alone_host.detail;
}

TEST(HealthModel, LatencyBaselineIsTakenInPreflightEvenWhenAnotherCheckFails) {
  TempDir d;
  HttpServer up(200);
  auto lat = spec("lat", CheckKind::latency);
  lat.url = up.url();
  lat.samples = 3;
  auto broken = spec("broken", CheckKind::exec);
  broken.argv = {"/bin/sh", "-c", "exit 1"};
  auto site = site_with({broken, lat}, d);
  auto pre = applier::run_checks(site, nullptr, nullptr, applier::CheckMode::measure);
  EXPECT_TRUE(pre.hard_failed);
  EXPECT_EQ(pre.measured.count("lat"), 1u);  // measured anyway

  // No baseline: the check says so and is skipped, never a warning of its own.
  applier::Baseline none;
  site.checks = {lat};
  auto after = applier::run_checks(site, &none);
  EXPECT_FALSE(after.hard_failed);
  EXPECT_TRUE(after.signals.empty());
  EXPECT_TRUE(find(after, "lat").skipped);
  EXPECT_NE(find(after, "lat").detail.find("no baseline: skipped"), std::string::npos);

  // A sub-millisecond baseline: relative growth alone would flag loopback noise, the absolute
  // allowance does not.
  site.checks[0].max_increase_percent = 20;
  applier::Baseline tiny{{"lat", 0.01}};
  auto noisy = applier::run_checks(site, &tiny);
  EXPECT_TRUE(noisy.signals.empty()) << noisy.signals[0];
}

}  // namespace
}  // namespace airlock::test

namespace airlock::test {
namespace {

TEST(HealthModel, SoftFailuresNeverRollBackAndNotifyGetsEverySignal) {
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  SiteDir s(
      std::string(SiteDir::kItemsCheck) + "\n[[checks]]\nname = \"persona-1\"\nkind = \"http\"\nurl = \"" + down +
          "\"\nfirst_attempt = true\n"
          "\n[[checks]]\nname = \"cert-days\"\nkind = \"exec\"\nrun = \"echo 12 days left; exit 1\"\nhard = false\n"
          "\n[[check_groups]]\nname = \"personas\"\nchecks = [\"persona-1\"]\nmin_pass = 1\nhard = false\n",
      "[hooks]\nnotify = { run = \"printf %s \\\"$AIRLOCK_SIGNALS\\\" > signals.json\" }\n\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::applied);
  auto j = nlohmann::json::parse(slurp(s.dir / "signals.json"), nullptr, false);
  ASSERT_TRUE(j.is_array()) << slurp(s.dir / "signals.json");
  std::string all = j.dump();
  EXPECT_NE(all.find("check 'persona-1' (http, in group 'personas')"), std::string::npos) << all;
  EXPECT_NE(all.find("group 'personas'"), std::string::npos) << all;
  EXPECT_NE(all.find("12 days left"), std::string::npos) << all;
}

}  // namespace
}  // namespace airlock::test

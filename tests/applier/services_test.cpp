// [[services]] in site.toml: parsed into dependency order (every fault a configuration error
// naming it), replaced by a real apply and restored by a manual rollback in reverse order; and the
// DEGRADED mark in state.db.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "applier/state_db.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

const std::string kHead =
    "[site]\nname = \"s\"\nproduct = \"demo\"\nstate_dir = \"state\"\ntrust_root = \"trust.toml\"\n"
    "[databases]\nmain = \"main.db\"\n"
    "[[checks]]\nname = \"up\"\nkind = \"tcp\"\naddress = \"127.0.0.1:8080\"\ntimeout = \"2s\"\n";

Result<applier::Site> parse(const std::string& services) {
  return applier::parse_site(kHead + services, "/srv/site/site.toml");
}

std::string error_of(const std::string& services) {
  auto s = parse(services);
  if (s) return "(parsed)";
  EXPECT_EQ(s.error().cls(), ErrorClass::usage) << s.error().what();
  return s.error().what();
}

std::vector<std::string> names(const applier::Site& s) {
  std::vector<std::string> out;
  for (const auto& sv : s.services) out.push_back(sv.name);
  return out;
}

TEST(ServicesParse, DependencyOrderThenFileOrder) {
  auto s = parse(
      "[[services]]\nname = \"personas\"\nrestart = \"true\"\nafter = [\"agents\", \"dashboard\"]\n"
      "[[services]]\nname = \"agents\"\nrolling = [\"/bin/true\"]\nafter = [\"orchestrator\"]\n"
      "[[services]]\nname = \"metrics\"\nrestart = \"true\"\n"
      "[[services]]\nname = \"orchestrator\"\nrestart = \"true\"\nafter = [\"dashboard\"]\n"
      "[[services]]\nname = \"dashboard\"\nrestart = \"true\"\nrollback = \"false\"\nready = \"up\"\n");
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(names(*s), (std::vector<std::string>{"metrics", "dashboard", "orchestrator", "agents", "personas"}));
  const auto& agents = s->services[3];
  EXPECT_EQ(agents.mode, applier::ServiceMode::rolling);
  EXPECT_EQ(agents.command, std::vector<std::string>{"/bin/true"});
  EXPECT_FALSE(agents.rollback);
  const auto& dashboard = s->services[1];
  ASSERT_TRUE(dashboard.ready);
  EXPECT_EQ(dashboard.ready->kind, applier::CheckKind::tcp);
  EXPECT_EQ(dashboard.ready->address, "127.0.0.1:8080");
  EXPECT_EQ(dashboard.ready_within_ms, 60000);
  EXPECT_EQ(dashboard.timeout_ms, 300000);
  ASSERT_TRUE(dashboard.rollback);
}

TEST(ServicesParse, InlineReadinessCheck) {
  auto s = parse(
      "[[services]]\nname = \"web\"\nrestart = \"true\"\nready_within = \"2m\"\ntimeout = \"10s\"\n"
      "ready = { kind = \"http\", url = \"http://127.0.0.1:9/health\", timeout = \"1s\" }\n");
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_TRUE(s->services[0].ready);
  EXPECT_EQ(s->services[0].ready->name, "web ready");
  EXPECT_EQ(s->services[0].ready->timeout_ms, 1000);
  EXPECT_EQ(s->services[0].ready_within_ms, 120000);
  EXPECT_EQ(s->services[0].timeout_ms, 10000);
}

TEST(ServicesParse, CyclesAndUnknownNamesAreNamed) {
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"true\"\nafter = [\"a\"]\n").find("cycle: 'a' after 'a'"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"true\"\nafter = [\"b\"]\n"
                     "[[services]]\nname = \"b\"\nrestart = \"true\"\nafter = [\"a\"]\n"
                     "[[services]]\nname = \"c\"\nrestart = \"true\"\n")
                .find("cycle: 'a' after 'b' after 'a'"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"true\"\nafter = [\"ghost\"]\n")
                .find("service 'a': after = ['ghost'] names no [[services]] entry"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"true\"\n[[services]]\nname = \"a\"\nrestart = \"true\"\n")
                .find("duplicate service name 'a'"),
            std::string::npos);
}

TEST(ServicesParse, MalformedEntriesAreRefused) {
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\n").find("exactly one of 'restart' and 'rolling'"), std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nrolling = \"y\"\n").find("exactly one"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nready = \"nope\"\n")
                .find("no [[checks]] entry is named 'nope'"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nready = { kind = \"latency\", url = "
                     "\"http://127.0.0.1:9/\" }\n")
                .find("a latency check cannot tell"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nready = { kind = \"tcp\", address = "
                     "\"10.0.0.1:80\" }\n")
                .find("not a loopback address"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nready_within = \"16m\"\n").find("limit of 15m"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nafter = \"b\"\n").find("expected an array"),
            std::string::npos);
  EXPECT_NE(error_of("[[services]]\nname = \"a\"\nrestart = \"x\"\nwait = 1\n").find("wait"), std::string::npos);
}

// A manual rollback leaves the release the services were replaced for: every service is restored,
// last first, with its rollback command where it has one.
TEST(Services, ManualRollbackRestoresEveryServiceInReverse) {
  SiteDir s("",
            "[[services]]\nname = \"b\"\nrestart = \"echo restart b >> order.txt\"\nafter = [\"a\"]\n"
            "[[services]]\nname = \"a\"\nrestart = \"echo restart a >> order.txt\"\n"
            "rollback = \"echo rollback a >> order.txt\"\n"
            "ready = { kind = \"exec\", run = \"test -s order.txt\" }\n\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, applier::Outcome::applied);
  r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::reverted);
  EXPECT_EQ(slurp(s.dir / "order.txt"), "restart a\nrestart b\nrestart a\nrestart b\nrestart b\nrollback a\n");
}

// A service command that cannot start is found in preflight, before anything changed.
TEST(Services, UnrunnableCommandFailsPreflight) {
  SiteDir s(SiteDir::kItemsCheck, "[[services]]\nname = \"a\"\nrestart = [\"./missing-script\"]\n\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find("service 'a' restart cannot run"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.pointer(), "");
}

// A free loopback port: bound, read back and released (a listener takes it again later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The service starts listening 1.5 s after its restart returned: readiness (tcp, on a real socket)
// is tried until then, and the apply succeeds.
TEST(Services, ReadinessWaitsForAServiceThatListensLate) {
  const int port = free_port();
  SiteDir s("",
            "[[services]]\nname = \"web\"\nrestart = \"true\"\nready_within = \"30s\"\n"
            "ready = { kind = \"tcp\", address = \"127.0.0.1:" +
                std::to_string(port) + "\", timeout = \"1s\" }\n\n");
  std::atomic<bool> done{false};
  std::thread listener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::listen(fd, 16);
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(fd);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  listener.join();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::applied);
  EXPECT_GE(ms, 1500);
  auto h = applier::history(s.site);
  ASSERT_TRUE(h);
  EXPECT_NE(h->back().steps_json.find("\"action\":\"ready\""), std::string::npos) << h->back().steps_json;
}

// The repairs stay allowed on a degraded site and do not clear the mark; apply waits for `ack`.
TEST(DegradedMark, ManualRollbackStaysAllowedAndApplyWaitsForAck) {
  SiteDir s("");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  ASSERT_TRUE(applier::apply(s.site, bundles().v120, quiet_env()));
  {
    auto st = applier::StateDb::open(s.state);
    ASSERT_TRUE(st && st->mark_degraded("2026-03-01T10:00:00Z"));
  }
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::reverted);
  EXPECT_TRUE(applier::status(s.site)->degraded);
  auto refused = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cls(), ErrorClass::preflight);
  EXPECT_NE(refused.error().what().find("site degraded since 2026-03-01T10:00:00Z: run `airlock ack --site " + s.site +
                                        "` after repair"),
            std::string::npos)
      << refused.error().what();
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  auto a = applier::ack(s.site, "rolled back by hand", quiet_env());
  ASSERT_TRUE(a) << a.error().what();
  EXPECT_EQ(a->degraded_since, "2026-03-01T10:00:00Z");
  EXPECT_FALSE(applier::status(s.site)->degraded);
  r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, applier::Outcome::applied);
  ASSERT_TRUE(applier::audit_verify(s.site));
  auto again = applier::ack(s.site, "", quiet_env());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cls(), ErrorClass::usage);
}

TEST(DegradedMark, KeepsTheFirstTimeUntilCleared) {
  TempDir d;
  auto st = applier::StateDb::open(d.path().string());
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_FALSE(*st->degraded_since());
  ASSERT_TRUE(st->mark_degraded("2026-03-01T10:00:00Z"));
  ASSERT_TRUE(st->mark_degraded("2026-03-02T10:00:00Z"));
  EXPECT_EQ(st->degraded_since()->value_or("?"), "2026-03-01T10:00:00Z");
  EXPECT_EQ(*st->get("degraded"), "1");  // what an older airlock reads
  ASSERT_TRUE(st->clear_degraded());
  EXPECT_FALSE(*st->degraded_since());
  // Marked by an airlock that kept no time: degraded, since an unknown time.
  ASSERT_TRUE(st->set("degraded", "1"));
  EXPECT_EQ(st->degraded_since()->value_or("?"), "");
}

}  // namespace
}  // namespace airlock::test

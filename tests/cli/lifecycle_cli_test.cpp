// `airlock skip`, `airlock delay`, critical releases and `apply --accept-breaking` through the real
// binary, with bundles built by the real bundler and a copy of the demo site: exit codes of spec §8,
// the first meeting of a release recorded once, history and audit entries, [policy] typing.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;
using nlohmann::json;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;

void replace(std::string& s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  s.replace(at, from.size(), to);
}

// The wall clock `days` from now, RFC 3339.
std::string days_from_now(double days) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days * 86400);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

class LifecycleCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
  }
  // The example release 1.1.0, its manifest marked critical and/or its config delta breaking.
  std::string build(const std::string& name, bool critical, bool breaking) {
    fs::copy(kSrc + "/manifests/example", dir / name, fs::copy_options::recursive);
    std::string recipe = slurp(dir / name / "recipe.toml");
    if (critical) replace(recipe, "channel = \"recommended\"\n", "channel = \"recommended\"\ncritical = true\n");
    if (breaking) replace(recipe, "breaking = false", "breaking = true");
    spit(dir / name / "recipe.toml", recipe);
    const fs::path out = dir / (name + ".tar.zst");
    auto r = run("SOURCE_DATE_EPOCH=1767225600 " + kBin + " build " + q(dir / name / "recipe.toml") + " --key " +
                 q(kSrc + "/keys/demo-hq.key") + " --out " + q(out));
    EXPECT_EQ(r.status, 0) << r.output;
    return q(out);
  }
  std::string site() const { return q(dir / "site/site.toml"); }
  json status() const { return json_of(run(kBin + " status --site " + site() + " --json 2>/dev/null").output); }
  json history() const {
    return json_of(run(kBin + " history --site " + site() + " --json 2>/dev/null").output)["history"];
  }
  json audit() const {
    return json_of(run(kBin + " audit export --site " + site() + " --json 2>/dev/null").output)["entries"];
  }
  bool audited(const std::string& kind, const std::string& version) const {
    for (const auto& e : audit())
      if (e["kind"] == kind && e["data"].is_object() && e["data"].value("version", "") == version) return true;
    return false;
  }
  bool in_history(const std::string& outcome, const std::string& version) const {
    for (const auto& h : history())
      if (h["outcome"] == outcome && h["detail"].get<std::string>().find(" " + version + " ") != std::string::npos)
        return true;
    return false;
  }
  TempDir dir;
};

}  // namespace

TEST_F(LifecycleCli, SkippedReleaseIsRefusedUntilTheSkipIsUndone) {
  const std::string b = build("plain", false, false);
  auto r = run(kBin + " skip 1.1.0 --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " apply " + b + " --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("skipped by operator on"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("airlock skip 1.1.0 --undo"), std::string::npos) << r.output;
  EXPECT_EQ(status()["installed"], "");

  r = run(kBin + " skip 1.1.0 --undo --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["action"], "unskip");
  r = run(kBin + " apply " + b + " --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(in_history("skipped", "1.1.0")) << history().dump();
  EXPECT_TRUE(in_history("unskipped", "1.1.0")) << history().dump();
  EXPECT_TRUE(audited("skip", "1.1.0"));
  EXPECT_TRUE(audited("unskip", "1.1.0"));
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
  // Nothing to undo any more: a usage error.
  EXPECT_EQ(run(kBin + " skip 1.1.0 --undo --site " + site()).status, 2);
}

TEST_F(LifecycleCli, CriticalReleaseIsDelayedWithinTheBoundNeverSkipped) {
  const std::string b = build("critical", true, true);
  // The apply meets it (recorded) and refuses the breaking delta.
  auto r = run(kBin + " apply " + b + " --site " + site());
  ASSERT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("--accept-breaking 1.1.0"), std::string::npos) << r.output;
  json s = status();
  ASSERT_EQ(s["critical"].size(), 1u) << s.dump();
  EXPECT_EQ(s["critical"][0]["version"], "1.1.0");
  EXPECT_TRUE(s["critical"][0]["overdue"].get<bool>());
  const std::string first_seen = s["critical"][0]["first_seen"];
  r = run(kBin + " status --site " + site());
  EXPECT_NE(r.output.find("CRITICAL    release 1.1.0 is OVERDUE"), std::string::npos) << r.output;

  r = run(kBin + " skip 1.1.0 --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("critical and cannot be skipped: it is due by " + first_seen), std::string::npos) << r.output;

  r = run(kBin + " delay 1.1.0 --until " + days_from_now(7.5) + " --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("critical_max_delay"), std::string::npos) << r.output;
  const std::string until = days_from_now(2);
  r = run(kBin + " delay 1.1.0 --until " + until + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["first_seen"], first_seen);
  s = status();
  EXPECT_FALSE(s["critical"][0]["overdue"].get<bool>()) << s.dump();
  EXPECT_EQ(s["critical"][0]["deadline"], until);

  // A wrong version in --accept-breaking accepts nothing; the first meeting stays as recorded.
  r = run(kBin + " apply " + b + " --accept-breaking 1.0.9 --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_EQ(status()["critical"][0]["first_seen"], first_seen);
  r = run(kBin + " apply " + b + " --accept-breaking 1.1.0 --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
  s = status();
  EXPECT_EQ(s["installed"], "1.1.0");
  EXPECT_EQ(s["critical"].size(), 0u) << s.dump();
  EXPECT_TRUE(in_history("delayed", "1.1.0")) << history().dump();
  EXPECT_TRUE(audited("delay", "1.1.0"));
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
}

TEST_F(LifecycleCli, FirstDelayMeetsTheReleaseOnce) {
  const std::string until = days_from_now(1);
  auto r = run(kBin + " delay 2.0.0 --until " + until + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string first = json_of(r.output)["first_seen"];
  ASSERT_FALSE(first.empty());
  r = run(kBin + " delay 2.0.0 --until " + days_from_now(3) + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["first_seen"], first);
}

TEST_F(LifecycleCli, PolicyKeysAreTyped) {
  const std::string base = slurp(dir / "site/site.toml");
  auto with = [&](const std::string& extra) {
    spit(dir / "site/site.toml", base + extra);
    return run(kBin + " status --site " + site());
  };
  auto r = with("\n[policy]\ncritical_max_delay = \"8d\"\n");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("critical_max_delay"), std::string::npos) << r.output;
  r = with("\n[policy]\nauto_apply_overdue_critical = \"yes\"\n");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("auto_apply_overdue_critical"), std::string::npos) << r.output;
  r = with("\n[policy]\nsurprise = 1\n");
  EXPECT_EQ(r.status, 2) << r.output;
  std::string lang = base;
  replace(lang, "channel = \"recommended\"\n", "channel = \"recommended\"\nlanguage = 5\n");
  spit(dir / "site/site.toml", lang);
  r = run(kBin + " status --site " + site());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("language"), std::string::npos) << r.output;

  // A shorter bound is the one delays are held to.
  r = with("\n[policy]\ncritical_max_delay = \"1d\"\nauto_apply_overdue_critical = false\n");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(kBin + " delay 2.0.0 --until " + days_from_now(1.5) + " --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  r = run(kBin + " delay 2.0.0 --until " + days_from_now(0.5) + " --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
}

// Staging is the first half of an apply: a release the operator skipped is refused there too, with
// the same words, and a critical release voids the skip as the apply does.
TEST_F(LifecycleCli, StagingASkippedReleaseIsRefusedUntilTheSkipIsUndone) {
  const std::string b = build("plain", false, false);
  ASSERT_EQ(run(kBin + " skip 1.1.0 --site " + site()).status, 0);
  auto r = run(kBin + " stage " + b + " --site " + site());
  EXPECT_EQ(r.status, 13) << r.output;
  EXPECT_NE(r.output.find("skipped by operator on"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("airlock skip 1.1.0 --undo"), std::string::npos) << r.output;
  EXPECT_EQ(json_of(run(kBin + " staged --site " + site() + " --json").output)["staged"].size(), 0u);

  ASSERT_EQ(run(kBin + " skip 1.1.0 --undo --site " + site()).status, 0);
  r = run(kBin + " stage " + b + " --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(LifecycleCli, StagingACriticalReleaseVoidsASkipRecordedBeforeTheSiteMetIt) {
  const std::string b = build("critical", true, false);
  ASSERT_EQ(run(kBin + " skip 1.1.0 --site " + site()).status, 0);
  auto r = run(kBin + " stage " + b + " --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
}

// A refused skip or delay changes nothing on the site but leaves its trace: a history row and an
// audit entry with the outcome "refused" and the reason.
TEST_F(LifecycleCli, RefusedSkipAndDelayAreRecordedAndChangeNothingElse) {
  const std::string b = build("critical", true, true);
  ASSERT_EQ(run(kBin + " apply " + b + " --site " + site()).status, 13);  // meets it, refuses the breaking delta
  const json before = status()["critical"];
  ASSERT_EQ(before.size(), 1u);
  const std::size_t audit_before = audit().size();

  auto r = run(kBin + " skip 1.1.0 --site " + site());
  ASSERT_EQ(r.status, 13) << r.output;
  r = run(kBin + " delay 1.1.0 --until " + days_from_now(7.5) + " --site " + site());
  ASSERT_EQ(r.status, 13) << r.output;

  const json entries = audit();
  ASSERT_EQ(entries.size(), audit_before + 2) << entries.dump(1);
  const json& skip = entries[audit_before];
  EXPECT_EQ(skip["kind"], "skip") << skip.dump();
  EXPECT_EQ(skip["data"]["outcome"], "refused") << skip.dump();
  EXPECT_EQ(skip["data"]["version"], "1.1.0") << skip.dump();
  EXPECT_NE(skip["data"]["detail"].get<std::string>().find("critical and cannot be skipped"), std::string::npos);
  const json& delay = entries[audit_before + 1];
  EXPECT_EQ(delay["kind"], "delay") << delay.dump();
  EXPECT_EQ(delay["data"]["outcome"], "refused") << delay.dump();
  EXPECT_NE(delay["data"]["detail"].get<std::string>().find("critical_max_delay"), std::string::npos);
  EXPECT_TRUE(in_history("refused", "1.1.0")) << history().dump();
  EXPECT_EQ(status()["critical"], before);
  EXPECT_EQ(run(kBin + " audit verify --site " + site()).status, 0);
}

// With no scheduled job, run-due applies an overdue critical release from its staged bundle
// ([policy] auto_apply_overdue_critical, default true); before its deadline it does nothing.
TEST_F(LifecycleCli, RunDueAppliesAnOverdueCriticalReleaseFromItsStagedBundle) {
  const std::string b = build("critical", true, false);
  ASSERT_EQ(run(kBin + " stage " + b + " --site " + site()).status, 0);
  ASSERT_EQ(run(kBin + " delay 1.1.0 --until " + days_from_now(1) + " --site " + site()).status, 0);
  auto r = run("AIRLOCK_TEST_NOW=" + days_from_now(0.5) + " " + kBin + " run-due --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["action"], "none") << r.output;
  EXPECT_EQ(status()["installed"], "");
  r = run("AIRLOCK_TEST_NOW=" + days_from_now(2) + " " + kBin + " run-due --site " + site());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("critical release 1.1.0 is overdue"), std::string::npos) << r.output;
  EXPECT_EQ(status()["installed"], "1.1.0");
  EXPECT_EQ(history().back()["outcome"], "applied");
  EXPECT_TRUE(status()["critical"].empty()) << status();
}

// An overdue critical release whose config delta is breaking waits for an operator: run-due leaves
// it, status says so, and the operator's apply with --accept-breaking installs it.
TEST_F(LifecycleCli, AnOverdueCriticalReleaseWithABreakingDeltaWaitsForAnOperator) {
  const std::string b = build("critical-breaking", true, true);
  auto r = run(kBin + " stage " + b + " --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string sha = json_of(r.output)["staged"]["sha256"];
  ASSERT_EQ(run(kBin + " delay 1.1.0 --until " + days_from_now(1) + " --site " + site()).status, 0);
  r = run("AIRLOCK_TEST_NOW=" + days_from_now(2) + " " + kBin + " run-due --site " + site() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["action"], "needs_operator") << r.output;
  EXPECT_EQ(status()["installed"], "");
  const json crit = status()["critical"];
  ASSERT_EQ(crit.size(), 1u) << crit;
  EXPECT_EQ(crit[0]["needs_operator"], true) << crit;
  EXPECT_EQ(crit[0]["staged"], sha);
  r = run(kBin + " status --site " + site());
  EXPECT_NE(r.output.find("an operator must apply it"), std::string::npos) << r.output;
  r = run(kBin + " apply --staged " + sha + " --accept-breaking 1.1.0 --site " + site());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(status()["installed"], "1.1.0");
}

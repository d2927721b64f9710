// The notify hook's contract (docs/site.md, "The notify hook"): the AIRLOCK_* variables and the
// JSON notice on stdin, and the example hook in contrib/notify that mails it or appends it to a file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "applier/applier.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;
using nlohmann::json;

std::map<std::string, std::string> env_file(const fs::path& p) {
  std::map<std::string, std::string> vars;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  return vars;
}

TEST(Notice, StdinCarriesTheRunAndTheEnvironmentAgrees) {
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\nnotify = { run = \"cat > notice.json; env > notify.env\" }\n\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto r = applier::apply(s.site, bundles().v120, quiet_env());  // its migration breaks the items check
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);

  auto notice = json::parse(slurp(s.dir / "notice.json"));
  EXPECT_EQ(notice["format"], "airlock-notice/1");
  EXPECT_EQ(notice["site"], "test");
  EXPECT_EQ(notice["kind"], "apply");
  EXPECT_EQ(notice["outcome"], "rolled_back");
  EXPECT_EQ(notice["from"], "1.1.0");
  EXPECT_EQ(notice["to"], "1.2.0");
  EXPECT_GE(notice["duration_ms"].get<std::int64_t>(), 0);
  ASSERT_TRUE(notice["failing_checks"].is_array());
  ASSERT_FALSE(notice["failing_checks"].empty());
  EXPECT_NE(notice["failing_checks"][0].get<std::string>().find("items"), std::string::npos) << notice.dump();
  const std::string history = notice["history"];
  EXPECT_NE(history.find("apply 1.1.0 -> 1.2.0: rolled_back in "), std::string::npos) << history;
  EXPECT_FALSE(notice["started_at"].get<std::string>().empty());
  EXPECT_FALSE(notice["finished_at"].get<std::string>().empty());

  auto env = env_file(s.dir / "notify.env");
  EXPECT_EQ(env["AIRLOCK_OUTCOME"], "rolled_back");
  EXPECT_EQ(env["AIRLOCK_RUN_ID"], notice["run"].get<std::string>());
  EXPECT_EQ(env["AIRLOCK_KIND"], "apply");
  EXPECT_EQ(env["AIRLOCK_HISTORY"], history);
  EXPECT_EQ(env["AIRLOCK_DURATION_MS"], std::to_string(notice["duration_ms"].get<std::int64_t>()));
  EXPECT_EQ(env["AIRLOCK_AUDIT_HEAD"], notice["audit_head"].get<std::string>());
}

// Other hooks keep stdin on /dev/null: only notify gets a notice.
TEST(Notice, OnlyTheNotifyHookGetsOne) {
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\ndrain = { run = \"cat > drain.in\" }\n\n");
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  EXPECT_EQ(slurp(s.dir / "drain.in"), "");
}

// A notify hook that hangs is stopped at its timeout; the run's outcome stands and the failure is
// in the audit log.
TEST(Notice, HangingHookIsBoundedAndChangesNothing) {
  SiteDir s(SiteDir::kItemsCheck, "[hooks]\nnotify = { run = \"sleep 60\", timeout = \"1s\" }\n\n");
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::applied);
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  auto log = applier::audit_verify(s.site);
  ASSERT_TRUE(log) << log.error().what();
  EXPECT_EQ(log->entries.back().kind, "notify-failed");
}

// PATH for the example hook: only the tools it needs, plus `extra` (a folder holding a sendmail).
std::string hook_path(const fs::path& dir, const std::string& extra) {
  fs::create_directories(dir);
  for (const char* tool : {"cat", "tr", "mkdir", "dirname"}) {
    for (const char* where : {"/usr/bin/", "/bin/"})
      if (fs::exists(std::string(where) + tool)) {
        fs::create_symlink(std::string(where) + tool, dir / tool);
        break;
      }
  }
  return (extra.empty() ? "" : extra + ":") + dir.string();
}

std::string example_hook_toml(const std::string& path, const std::string& args) {
  return "[hooks]\nnotify = { run = \"env PATH=" + path + " /bin/sh " + repo("contrib/notify/airlock-notify") + " " +
         args + "\" }\n\n";
}

TEST(Notice, ExampleHookAppendsToAFileWithoutSendmail) {
  TempDir tools;
  const fs::path log = tools / "log/notices.jsonl";
  SiteDir s(SiteDir::kItemsCheck, example_hook_toml(hook_path(tools / "bin", ""), "ops@example.org " + log.string()));
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string text = slurp(log);
  ASSERT_FALSE(text.empty());
  auto notice = json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(notice["outcome"], "applied");
  EXPECT_EQ(notice["to"], "1.1.0");
}

TEST(Notice, ExampleHookMailsWithSendmail) {
  TempDir tools;
  fs::create_directories(tools / "mail");
  // The relay's side of `sendmail -t`: it reads the message, headers first, from stdin.
  spit(tools / "mail/sendmail", "#!/bin/sh\n[ \"$1\" = -t ] || exit 9\ncat > " + (tools / "sent.eml").string() + "\n");
  ::chmod((tools / "mail/sendmail").c_str(), 0755);
  SiteDir s(SiteDir::kItemsCheck, example_hook_toml(hook_path(tools / "bin", (tools / "mail").string()),
                                                    "ops@example.org " + (tools / "unused.jsonl").string()));
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  std::string mail = slurp(tools / "sent.eml");
  EXPECT_EQ(mail.rfind("To: ops@example.org\nSubject: airlock test: applied  -> 1.1.0\n", 0), 0u) << mail;
  EXPECT_NE(mail.find("\"format\":\"airlock-notice/1\""), std::string::npos) << mail;
  EXPECT_FALSE(fs::exists(tools / "unused.jsonl"));
}

}  // namespace
}  // namespace airlock::test

// Hooks through the real binary: a hook's output never reaches airlock's stdout (so `--json` stays
// one JSON document); in human mode it is echoed on stderr with the progress lines.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::run;
using airlock::test::q;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;

class HooksCli : public ::testing::Test {
 protected:
  void SetUp() override {
    airlock::test::copy_demo_site(dir.path());
    auto r = airlock::test::build_example("example", dir / "b110.tar.zst");
    ASSERT_EQ(r.status, 0) << r.output;
    // Every hook talks on both of its outputs.
    std::string text = slurp(dir / "site/site.toml");
    for (const std::string hook : {"drain", "resume", "notify"}) {
      auto at = text.find(hook + " = { run = ");
      ASSERT_NE(at, std::string::npos) << hook;
      auto end = text.find('\n', at);
      text.replace(at, end - at,
                   hook + " = { run = \"echo " + hook + "-says-hello; echo " + hook + "-complains >&2\" }");
    }
    spit(dir / "site/site.toml", text);
  }
  // stdout and stderr of one apply, apart.
  std::pair<int, std::string> apply(const std::string& flags) {
    auto r = run("( " + kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(dir / "site/site.toml") + " " +
                 flags + " 2>" + q(dir / "stderr.txt") + " )");
    return {r.status, r.output};
  }
  TempDir dir;
};

}  // namespace

TEST_F(HooksCli, ApplyJsonStdoutIsOneJsonDocumentWhileHooksEcho) {
  auto [status, out] = apply("--json");
  ASSERT_EQ(status, 0) << out << slurp(dir / "stderr.txt");
  auto j = nlohmann::json::parse(out, nullptr, false);  // the whole of stdout, nothing around it
  ASSERT_FALSE(j.is_discarded()) << "stdout is not one JSON document:\n" << out;
  EXPECT_EQ(j["outcome"], "applied");
  EXPECT_EQ(out.find("says-hello"), std::string::npos);
}

TEST_F(HooksCli, HumanModeEchoesHookOutputOnStderr) {
  auto [status, out] = apply("");
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("says-hello"), std::string::npos) << out;
  std::string err = slurp(dir / "stderr.txt");
  for (const std::string hook : {"drain", "resume", "notify"}) {
    EXPECT_NE(err.find("[" + hook + "] | " + hook + "-says-hello"), std::string::npos) << err;
    EXPECT_NE(err.find("[" + hook + "] | " + hook + "-complains"), std::string::npos) << err;
  }
}

// The `images` hook with a real containerd: a private daemon (its own root, state and socket in a
// temporary folder, started here) and the example hook contrib/images/airlock-images-containerd,
// which streams the site's image store to `ctr images import` as an oci-archive. After the apply,
// `ctr images ls` lists the release's image under its full ref with its manifest digest; a hook
// that cannot reach the daemon fails the apply (and the rollback, which runs it again). Skipped,
// with containerd's own words, where the daemon cannot start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/cli.hpp"
#include "tests/support/oci_layout.hpp"
#include "tests/support/tmpdir.hpp"

extern char** environ;

namespace fs = std::filesystem;
using airlock::test::json_of;
using airlock::test::q;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;
constexpr const char* kRef = "registry.example.org/demo/tools:1.1.0";

// containerd on a socket of its own; nothing of it outside `dir` (the `opt` plugin's folder too).
class Containerd {
 public:
  explicit Containerd(const fs::path& dir) : dir_(dir) {}
  ~Containerd() { stop(); }

  // Empty when the daemon answers; otherwise why it could not start.
  std::string start() {
    if (run("command -v containerd && command -v ctr").status != 0) return "containerd or ctr is not installed";
    const std::string d = dir_.string();
    spit(dir_ / "config.toml", "version = 2\nroot = \"" + d + "/root\"\nstate = \"" + d +
                                   "/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
                                   "[grpc]\n  address = \"" +
                                   socket() +
                                   "\"\n"
                                   "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" +
                                   d + "/opt\"\n");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const std::string config = (dir_ / "config.toml").string();
    char* argv[] = {const_cast<char*>("containerd"), const_cast<char*>("--config"), const_cast<char*>(config.c_str()),
                    nullptr};
    const int rc = posix_spawnp(&pid_, "containerd", &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return "cannot start containerd: " + std::string(std::strerror(rc));
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "containerd exited: " + slurp(dir_ / "log");
      }
      if (run(ctr() + " version").status == 0) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "containerd did not answer on " + socket() + " within 20 s: " + slurp(dir_ / "log");
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::string socket() const { return (dir_ / "c.sock").string(); }
  // ctr on this daemon, in the test's namespace.
  std::string ctr() const { return "ctr -a " + q(socket()) + " -n airlock-test"; }
  // What the hook's environment needs to reach it; `native` where overlayfs cannot unpack.
  std::string env() const {
    const bool overlay = run(ctr() + " plugins ls | grep -E 'overlayfs +linux/[^ ]+ +ok'").status == 0;
    return "CONTAINERD_ADDRESS=" + q(socket()) + " CONTAINERD_NAMESPACE=airlock-test" +
           (overlay ? "" : " CONTAINERD_SNAPSHOTTER=native");
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
};

class ContainerdHook : public ::testing::Test {
 protected:
  void SetUp() override {
    site = airlock::test::copy_demo_site(dir.path());
    fs::copy(kSrc + "/manifests/example", dir / "recipe", fs::copy_options::recursive);
    digest = airlock::test::make_oci_image(dir / "recipe/oci/tools", "1.1.0", {{"tool.txt", "tool\n"}});
    std::string recipe = slurp(dir / "recipe/recipe.toml");
    recipe +=
        "\n[[images]]\nref = \"" + std::string(kRef) + "\"\ndigest = \"" + digest + "\"\nlayout = \"oci/tools\"\n";
    spit(dir / "recipe/recipe.toml", recipe);
    auto r = run(kBin + " build " + q(dir / "recipe/recipe.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") +
                 " --out " + q(dir / "b110.tar.zst"));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The site's images hook: the example script, with `env` before it.
  void hook(const std::string& env) {
    std::string toml = slurp(site);
    const std::string line = "[hooks]\n";
    toml.insert(toml.find(line) + line.size(),
                "images = { run = \"" + env + " " + kSrc +
                    "/contrib/images/airlock-images-containerd\", timeout = \"60s\" }\n");
    spit(site, toml);
  }
  TempDir dir;
  fs::path site;
  std::string digest;
};

}  // namespace

TEST_F(ContainerdHook, TheHookLoadsTheReleasesImageIntoARealContainerd) {
  Containerd daemon(dir / "ctrd");
  fs::create_directories(dir / "ctrd");
  if (const std::string why = daemon.start(); !why.empty()) GTEST_SKIP() << why;
  hook(daemon.env());
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(site) + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(daemon.ctr() + " images ls");
  ASSERT_EQ(r.status, 0) << r.output;
  bool listed = false;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    listed |= line.rfind(std::string(kRef) + " ", 0) == 0 && line.find(" " + digest + " ") != std::string::npos;
  EXPECT_TRUE(listed) << kRef << " with " << digest << " is not in:\n" << r.output;
  // The image is whole in containerd's content store: every blob of it is there.
  r = run(daemon.ctr() + " images check name==" + q(kRef));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("complete"), std::string::npos) << r.output;
}

// The hook fails in the apply and again in the rollback that follows: the site is left degraded.
TEST_F(ContainerdHook, AHookThatCannotReachContainerdFailsTheApplyAndItsRollback) {
  if (run("command -v ctr").status != 0) GTEST_SKIP() << "ctr is not installed";
  hook("CONTAINERD_ADDRESS=" + q(dir / "no-daemon.sock"));
  auto r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(site) + " --json");
  EXPECT_EQ(r.status, 31) << r.output;
  const auto j = json_of(r.output);
  EXPECT_EQ(j["outcome"], "degraded") << r.output;
  EXPECT_NE(r.output.find("images hook failed (exit code 1: ctr: failed to dial"), std::string::npos) << r.output;
}

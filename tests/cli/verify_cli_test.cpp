// `airlock verify` and `apply` through the real binary against hostile inputs and hostile timing:
// a bundle that stalls (a FIFO nobody writes to, or that stops half way) must not keep a
// termination signal from ending the run; a verify --extract killed outright leaves only its
// marked partial folder; a symbolic link named as the folder is never written through; and a
// --clock-skew too large to add to a time is a usage error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/cli.hpp"
#include "tests/support/craft.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
namespace craft = airlock::test::craft;
using airlock::test::run;
using airlock::test::q;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;

// Starts the binary with `args`, its output going to `log`.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(out, 1);
  ::dup2(out, 2);
  std::vector<char*> argv{const_cast<char*>(kBin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(kBin.c_str(), argv.data());
  ::_exit(127);
}

// The wait status, or nullopt when the process is still running after `limit` (it is then killed:
// a test that found a hang must not hang itself).
std::optional<int> wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int st = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &st, WNOHANG) == pid) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  return std::nullopt;
}

// A crafted bundle (tests/support/craft.hpp) and the trust root that accepts it.
struct Crafted {
  TempDir dir;
  craft::Key hq = craft::make_key("hq");
  fs::path trust = dir / "trust.toml";
  fs::path bundle = dir / "bench.tar.zst";

  Crafted() { spit(trust, craft::trust_toml(craft::trust_root({craft::trust_key(hq)}))); }

  // The head in one frame, then every payload entry in a frame of its own (the last with the end
  // marker), so that a reader given a prefix of the stream gets whole files out of it.
  std::vector<std::string> frames(const craft::BundleSpec& s = {}) {
    auto b = craft::good_bundle(s, {&hq});
    std::string head;
    for (const auto& e : b.head) head += craft::tar_entry(e);
    std::vector<std::string> out{craft::zstd_frame(head)};
    for (std::size_t i = 0; i < b.payload.size(); ++i)
      out.push_back(craft::zstd_frame(craft::tar_entry(b.payload[i]) + (i + 1 == b.payload.size() ? craft::end_marker() : "")));
    return out;
  }
  std::string bytes() {
    std::string all;
    for (const auto& f : frames()) all += f;
    return all;
  }
};

// Regular files anywhere under `root`.
std::size_t files_under(const fs::path& root) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) ++n;
  return n;
}

std::vector<std::string> top_level(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(root)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// A stalled source: SIGTERM ends verify at once (it dies of the signal, docs/site.md "Signals"),
// whether the FIFO never gets a writer (verify waits in open) or its writer stops half way (verify
// waits in read), with or without the whole-file digest (read on a thread of its own).
TEST(VerifyCli, SigtermStopsAVerifyWaitingOnAStalledFifo) {
  for (const bool half : {false, true}) {
    for (const bool digest : {false, true}) {
      Crafted c;
      const std::string label = std::string(half ? "writer stalls half way" : "no writer") + (digest ? ", --bundle-sha256" : "");
      const fs::path fifo = c.dir / "stalled.tar.zst";
      ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
      std::vector<std::string> args{"verify", fifo.string(), "--trust", c.trust.string()};
      if (digest) args.push_back("--bundle-sha256");
      const pid_t pid = spawn(args, c.dir / "log");
      int w = -1;
      if (half) {
        w = ::open(fifo.c_str(), O_WRONLY);  // waits for verify to open its end
        ASSERT_GE(w, 0) << label;
        const std::string bytes = c.bytes();
        ASSERT_EQ(::write(w, bytes.data(), bytes.size() / 2), static_cast<ssize_t>(bytes.size() / 2)) << label;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it block
      ASSERT_EQ(::kill(pid, SIGTERM), 0);
      const auto st = wait_for(pid, std::chrono::seconds(20));
      if (w >= 0) ::close(w);
      ASSERT_TRUE(st.has_value()) << label << ": still running long after SIGTERM";
      EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGTERM) << label << ": status " << *st << "\n"
                                                                << slurp(c.dir / "log");
    }
  }
}

// The same for apply, which holds the site lock while it verifies: it stops with 33 (nothing
// changed), and the lock is free again for the next command.
TEST(VerifyCli, SigtermStopsAnApplyWaitingOnAStalledFifoAndFreesTheSite) {
  TempDir dir;
  airlock::test::copy_demo_site(dir.path());
  auto r = airlock::test::build_example("example", dir / "b110.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path fifo = dir / "stalled.tar.zst";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string site = (dir / "site/site.toml").string();
  const pid_t pid = spawn({"apply", fifo.string(), "--site", site}, dir / "log");
  // Signalled once it waits on the FIFO (its handlers are in place long before): a fixed sleep
  // races a slow start (a sanitizer build on a loaded machine).
  for (int i = 0; i < 600 && slurp(dir / "log").find("verifying") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(slurp(dir / "log").find("verifying"), std::string::npos) << slurp(dir / "log");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  const auto st = wait_for(pid, std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value()) << "apply still running long after SIGTERM\n" << slurp(dir / "log");
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 33) << "status " << *st << "\n" << slurp(dir / "log");
  r = run(kBin + " apply " + q(dir / "b110.tar.zst") + " --site " + q(site));
  EXPECT_EQ(r.status, 0) << r.output;
}

// ---------------------------------------------------------------------------------------------
// verify --extract killed outright (SIGKILL: no cleanup runs) while files are being extracted:
// what it wrote is all inside DIR/.airlock-partial, never beside the verified files' place, and
// the next verify into DIR refuses it clearly.
TEST(VerifyCli, ExtractKilledMidwayLeavesOnlyItsPartialFolder) {
  Crafted c;
  // A last file too large for a frame read ahead whole: the reader streams it, so the files before
  // it are extracted while it waits for the rest.
  craft::BundleSpec spec;
  std::string noise(3u << 20, '\0');
  std::uint32_t x = 11;
  for (auto& ch : noise) {
    x = x * 1664525u + 1013904223u;
    ch = static_cast<char>(x >> 24);
  }
  spec.files.push_back({"zz/noise.bin", noise, false});
  const auto frames = c.frames(spec);
  ASSERT_EQ(frames.size(), 5u);
  const fs::path fifo = c.dir / "stick.tar.zst", dest = c.dir / "x";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const pid_t pid = spawn({"verify", fifo.string(), "--trust", c.trust.string(), "--extract", dest.string()}, c.dir / "log");
  const int w = ::open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(w, 0);
  // Everything but the last 100 bytes: three small files whole, the large one begun.
  const std::string some = frames[0] + frames[1] + frames[2] + frames[3] + frames[4].substr(0, frames[4].size() - 100);
  ASSERT_EQ(::write(w, some.data(), some.size()), static_cast<ssize_t>(some.size()));
  for (int i = 0; i < 500 && files_under(dest) < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(files_under(dest), 4u) << "verify never extracted the first files\n" << slurp(c.dir / "log");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ::close(w);
  EXPECT_EQ(top_level(dest), std::vector<std::string>{".airlock-partial"}) << "unverified files outside the partial folder";

  spit(c.bundle, c.bytes());
  auto r = run(kBin + " verify " + q(c.bundle) + " --trust " + q(c.trust) + " --extract " + q(dest));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(".airlock-partial"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("interrupted"), std::string::npos) << r.output;
  fs::remove_all(dest);
  r = run(kBin + " verify " + q(c.bundle) + " --trust " + q(c.trust) + " --extract " + q(dest));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(dest / "notes/en.md"), craft::BundleSpec{}.files[0].content);
  EXPECT_FALSE(fs::exists(dest / ".airlock-partial"));
}

// DIR named as a symbolic link, however spelt (`link`, `link/`, `link/.`): refused (2), nothing
// written where it points.
TEST(VerifyCli, ExtractIntoASymlinkedFolderIsRefusedHoweverItIsSpelt) {
  Crafted c;
  spit(c.bundle, c.bytes());
  const fs::path elsewhere = c.dir / "elsewhere", link = c.dir / "link";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, link);
  for (const std::string& spelt : std::vector<std::string>{link.string(), link.string() + "/", link.string() + "/.",
                                                           link.string() + "/./", link.string() + "/.//./"}) {
    auto r = run(kBin + " verify " + q(c.bundle) + " --trust " + q(c.trust) + " --extract " + q(spelt));
    EXPECT_EQ(r.status, 2) << spelt << ": " << r.output;
    EXPECT_TRUE(fs::is_empty(elsewhere)) << spelt << ": wrote through the link";
  }
  // `..` as the last step names a folder through whatever the step before it is: refused too.
  fs::create_directories(elsewhere / "sub");
  auto r = run(kBin + " verify " + q(c.bundle) + " --trust " + q(c.trust) + " --extract " + q(link.string() + "/sub/.."));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("ends in '..'"), std::string::npos) << r.output;
  EXPECT_EQ(top_level(elsewhere), std::vector<std::string>{"sub"});
}

// ---------------------------------------------------------------------------------------------
// --clock-skew is added to the verification time: a value that would overflow it (or that no
// clock drifts by) is a usage error naming the limit, not a refusal of every bundle.
TEST(VerifyCli, ClockSkewBeyondItsLimitIsAUsageError) {
  Crafted c;
  spit(c.bundle, c.bytes());
  const std::string base = kBin + " verify " + q(c.bundle) + " --trust " + q(c.trust) + " --clock-skew ";
  for (const std::string huge : {"9223372036854775807s", "106751991167300d", "366d", "9000h"}) {
    auto r = run(base + huge);
    EXPECT_EQ(r.status, 2) << huge << ": " << r.output;
    EXPECT_NE(r.output.find("365d"), std::string::npos) << huge << ": " << r.output;
  }
  for (const std::string fine : {"365d", "0s", "10m"}) {
    auto r = run(base + fine);
    EXPECT_EQ(r.status, 0) << fine << ": " << r.output;
  }
}

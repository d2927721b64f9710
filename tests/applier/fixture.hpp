// Test helpers of the applier suite: real bundles built from recipes with the demo key, and a
// site folder (site.toml, trust root, SQLite database, TOML config) in a temporary folder.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "applier/applier.hpp"
#include "bundler/bundler.hpp"
#include "core/crypto/hash.hpp"
#include "core/crypto/minisign.hpp"
#include "core/db/db.hpp"
#include "core/sys/fs.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {

namespace fs = std::filesystem;

inline std::string repo(const std::string& rel) { return std::string(AIRLOCK_SOURCE_DIR) + "/" + rel; }

inline minisign::SecretKey demo_key() {
  auto text = read_file(repo("keys/demo-hq.key"), 4096);
  EXPECT_TRUE(text) << (text ? "" : text.error().what());
  auto k = minisign::parse_secret_key_file(*text, [] { return Result<std::string>(std::string()); });
  EXPECT_TRUE(k) << (k ? "" : k.error().what());
  return *k;
}

// Builds a bundle from a recipe (path) into out; fails the test on error.
inline std::string build_bundle(const std::string& recipe, const std::string& out) {
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.keys = {demo_key()};
  req.out_path = out;
  auto r = bundler::build(req);
  EXPECT_TRUE(r) << "building " << recipe << ": " << (r ? "" : r.error().what());
  return out;
}

// The two demo bundles. ctest runs every test in its own process, so they are cached next to the
// test binary, keyed by the SHA-256 of every input (recipes, their files, the key): builds are
// reproducible, so a cached bundle is the bundle. Written atomically, so parallel tests are safe.
inline std::string inputs_key() {
  Sha256 h;
  for (const char* dir : {"manifests/example", "manifests/example-1.2.0"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(repo(dir)))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) h.update(f.string() + "\n" + slurp(f) + "\n");
  }
  h.update(slurp(repo("keys/demo-hq.key")));
  // The bundler's code is part of the input too: a relinked test binary builds the bundles again.
  h.update(std::to_string(fs::last_write_time("/proc/self/exe").time_since_epoch().count()));
  return to_hex(h.finish()).substr(0, 16);
}

struct DemoBundles {
  std::string v110, v120;
  DemoBundles() {
    fs::path dir = fs::read_symlink("/proc/self/exe").parent_path() / ("applier-test-bundles-" + inputs_key());
    fs::create_directories(dir);
    v110 = cached(dir, "manifests/example/recipe.toml", "demo-1.1.0.tar.zst");
    v120 = cached(dir, "manifests/example-1.2.0/recipe.toml", "demo-1.2.0.tar.zst");
  }
  static std::string cached(const fs::path& dir, const std::string& recipe, const std::string& name) {
    std::string out = (dir / name).string();
    if (!fs::exists(out)) build_bundle(repo(recipe), out);
    return out;
  }
};
inline DemoBundles& bundles() {
  static DemoBundles b;
  return b;
}

inline const char* kTopology = "# the demo topology\nmode = \"safe\"\n\n[legacy]\noption = 1\n";

// A site folder. `checks` is TOML text of [[checks]] tables (default: the demo's item count).
struct SiteDir {
  TempDir dir;
  std::string site;  // site.toml path
  std::string db, topology, state;

  explicit SiteDir(const std::string& checks = kItemsCheck, const std::string& hooks = "") {
    site = (dir / "site.toml").string();
    db = (dir / "main.db").string();
    topology = (dir / "topology.toml").string();
    state = (dir / "state").string();
    fs::copy_file(repo("keys/trust.toml"), dir / "trust.toml");
    spit(topology, kTopology);
    { auto d = db::Database::open(db, db::OpenMode::create); }
    spit(site, std::string("[site]\nname = \"test\"\nproduct = \"demo\"\nstate_dir = \"state\"\n"
                           "trust_root = \"trust.toml\"\nchannel = \"recommended\"\n\n"
                           "[databases]\nmain = \"main.db\"\n\n[config]\ntopology = \"topology.toml\"\n\n") +
                   hooks + checks);
  }
  static constexpr const char* kItemsCheck =
      "[[checks]]\nname = \"items\"\nkind = \"sqlite\"\ndatabase = \"main\"\n"
      "query = \"SELECT count(*) FROM items\"\nexpect = 3\ntimeout = \"5s\"\n";

  std::string dump() const {
    auto d = db::Database::open(db, db::OpenMode::read_only);
    if (!d) return "<no db>";
    auto s = d->full_dump();
    return s ? *s : "<dump failed>";
  }
  bool integrity_ok() const {
    auto d = db::Database::open(db, db::OpenMode::read_only);
    if (!d) return false;
    auto r = d->query("PRAGMA integrity_check");
    return r && !r->empty() && std::get<std::string>((*r)[0][0]) == "ok";
  }
  std::string pointer() const {
    std::error_code ec;
    auto t = fs::read_symlink(state + "/current", ec);
    return ec ? "" : t.string();
  }
  // Everything a crash must leave either "before" or "after".
  std::string observable() const { return dump() + "\n--config--\n" + slurp(topology) + "\n--pointer--\n" + pointer(); }
};

// AIRLOCK_TEST_VERBOSE=1 prints the applier's events with a millisecond clock (debugging aid).
inline applier::Env quiet_env() {
  applier::Env env;
  env.started_by = "test";
  if (std::getenv("AIRLOCK_TEST_VERBOSE")) {
    env.events = [t0 = std::chrono::steady_clock::now()](const applier::SiteEvent& e) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%6lld ms [%s] %s\n", static_cast<long long>(ms), e.phase.c_str(), e.message.c_str());
    };
  }
  return env;
}

// A recipe in a temporary folder: product demo, given version and body (migrations etc.).
inline std::string write_recipe(const TempDir& dir, const std::string& name, const std::string& release_extra,
                                const std::string& version, const std::string& body,
                                const std::map<std::string, std::string>& files) {
  fs::path d = dir / name;
  fs::create_directories(d / "notes");
  spit(d / "notes/en.md", "# " + version + "\n");
  for (const auto& [rel, text] : files) {
    fs::create_directories((d / rel).parent_path());
    spit(d / rel, text);
  }
  spit(d / "recipe.toml", "[release]\nproduct = \"demo\"\nversion = \"" + version +
                              "\"\ncreated = 2026-03-01T00:00:00Z\nchannel = \"recommended\"\n" + release_extra + "\n" +
                              body + "\n[[notes]]\nlang = \"en\"\npath = \"notes/en.md\"\n");
  return (d / "recipe.toml").string();
}

// A tiny HTTP/1.0 server on 127.0.0.1 answering every request with `status`.
class HttpServer {
 public:
  explicit HttpServer(int status) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path = "/health") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[2048];
      (void)::recv(c, buf, sizeof buf, 0);
      std::string resp = "HTTP/1.0 " + std::to_string(status_) + " X\r\nContent-Length: 2\r\n\r\nok";
      (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int status_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The suite runs its temporary folders on tmpfs when there is one: the applier fsyncs every journal
// step, and on a shared disk hundreds of those dominate the run time. What is tested (real files,
// real SQLite, renames, crash points) is the same; AIRLOCK_TEST_TMPDIR overrides the choice.
class TmpfsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (const char* want = std::getenv("AIRLOCK_TEST_TMPDIR")) {
      ::setenv("TMPDIR", want, 1);
    } else if (::access("/dev/shm", W_OK) == 0) {
      ::setenv("TMPDIR", "/dev/shm", 1);
    }
  }
};

// Starts a program (the real binary) with stdout to /dev/null. stderr_fd: where the child's stderr goes (default
// /dev/null); ignore: a signal the child starts with ignored, as under nohup.
inline pid_t spawn(const std::vector<std::string>& args, int stderr_fd = -1, int ignore = 0) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(stderr_fd >= 0 ? stderr_fd : null, 2);
    if (ignore) ::signal(ignore, SIG_IGN);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Runs f in a forked child with AIRLOCK_CRASH_POINT=point; returns the child's exit status (99
// when the point was reached).
template <class F>
int in_child(const std::string& point, F f) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("AIRLOCK_CRASH_POINT", point.c_str(), 1);
    bool ok = f();
    ::_exit(ok ? 0 : 1);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

}  // namespace airlock::test

// Shared fixture of the verifier tests: a trusted key, a fixed verification time, a temp folder
// holding the bundle and (not yet existing) staging folder, and the check every rejection test
// makes: the exact class, and the folder tree exactly as it was before (nothing left in staging,
// nothing written elsewhere).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "bundler/bundler.hpp"
#include "tests/support/craft.hpp"
#include "tests/support/tmpdir.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier::testing {

namespace craft = airlock::test::craft;
namespace fs = std::filesystem;

// path -> "type mode size sha256" for everything under `root` (links not followed).
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    std::string v = std::to_string(st.st_mode);
    if (S_ISREG(st.st_mode)) v += " " + craft::sha256_hex(test::slurp(it->path()));
    if (S_ISLNK(st.st_mode)) v += " -> " + fs::read_symlink(it->path()).string();
    out[fs::relative(it->path(), root).string()] = v;
  }
  return out;
}

class VerifierTest : public ::testing::Test {
 protected:
  craft::Key hq = craft::make_key("hq-2026");
  TrustRoot trust = craft::trust_root({craft::trust_key(hq)});
  std::vector<minisign::KeyId> revoked_keys;  // the consumer's sticky revocations
  Timestamp at = craft::ts("2026-06-01T00:00:00Z");
  Policy policy;
  test::TempDir dir;
  fs::path bundle_path = dir / "bench-4.5.3.tar.zst";
  fs::path staging = dir / "staging";

  craft::Bundle good(const craft::BundleSpec& s = {}) { return craft::good_bundle(s, {&hq}); }

  // The example release (manifests/example) built by our own bundler into bundle_path, signed by
  // `hq`, with the verification time moved inside its validity.
  Result<bundler::BuildReport> build_example() {
    bundler::BuildRequest b;
    b.recipe_path = std::string(AIRLOCK_SOURCE_DIR) + "/manifests/example/recipe.toml";
    b.keys = {hq.sk};
    b.out_path = bundle_path.string();
    at = craft::ts("2026-02-01T00:00:00Z");
    return bundler::build(b);
  }

  Request request(bool with_staging = true) {
    Request r;
    r.bundle_path = bundle_path.string();
    r.trust = trust;
    r.revoked_keys = revoked_keys;
    r.policy = policy;
    if (!r.policy.at) r.policy.at = at;
    if (with_staging) r.staging_dir = staging.string();
    return r;
  }

  Result<Report> run_bytes(const std::string& bytes, bool with_staging = true) {
    test::spit(bundle_path, bytes);
    return verify(request(with_staging));
  }
  Result<Report> run(const craft::Bundle& b, bool with_staging = true) { return run_bytes(b.bytes(), with_staging); }

  // The bundle is refused with `cls` (and the message mentions `needle`), and the temp folder is
  // exactly as it was: no staging folder left, nothing else touched.
  void expect_refused_bytes(const std::string& bytes, ErrorClass cls, const std::string& needle = "") {
    test::spit(bundle_path, bytes);
    const auto before = snapshot(dir.path());
    auto r = verify(request(true));
    ASSERT_FALSE(r.has_value()) << "accepted a bundle that should fail with class " << exit_code(cls);
    EXPECT_EQ(exit_code(r.error().cls()), exit_code(cls)) << r.error().what();
    if (std::getenv("AIRLOCK_SHOW_ERRORS")) std::cerr << "  refused: " << r.error().what() << "\n";
    if (!needle.empty()) {
      EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
    }
    EXPECT_EQ(snapshot(dir.path()), before) << "the folder changed; error was: " << r.error().what();
    EXPECT_FALSE(fs::exists(staging));
  }
  void expect_refused(const craft::Bundle& b, ErrorClass cls, const std::string& needle = "") {
    expect_refused_bytes(b.bytes(), cls, needle);
  }

  void expect_accepted(const craft::Bundle& b) {
    auto r = run(b);
    ASSERT_TRUE(r.has_value()) << r.error().what();
  }
};

}  // namespace airlock::verifier::testing

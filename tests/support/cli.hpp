// Helpers for tests that run the real binary through a shell: quoting a path, finding the one
// JSON document a `--json` command printed, and a copy of the demo site to run it on.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/tmpdir.hpp"

namespace airlock::test {

// Single-quoted for sh (test paths never hold a quote).
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// The JSON object in `out`, or discarded. Parsed with exceptions off: invalid UTF-8 makes it
// discarded too.
inline nlohmann::json json_of(const std::string& out) {
  auto start = out.find('{');
  auto end = out.rfind('}');
  if (start == std::string::npos || end == std::string::npos) return nlohmann::json::value_t::discarded;
  return nlohmann::json::parse(out.substr(start, end - start + 1), nullptr, false);
}

// A copy of the demo site (manifests/demo-site) in `dir`/site, with its data folder and the example
// trust root (or `trust`); returns the path of its site.toml.
inline std::filesystem::path copy_demo_site(const std::filesystem::path& dir, const std::filesystem::path& trust = {}) {
  namespace fs = std::filesystem;
  const fs::path src = AIRLOCK_SOURCE_DIR;
  fs::copy(src / "manifests/demo-site", dir / "site", fs::copy_options::recursive);
  fs::create_directories(dir / "site/data");
  fs::copy_file(trust.empty() ? src / "keys/trust.toml" : trust, dir / "site/trust.toml");
  return dir / "site/site.toml";
}

// The example release manifests/<recipe>/recipe.toml built by the real binary with the demo key into
// `out`, SOURCE_DATE_EPOCH fixed (the same inputs give the same bytes); the run, for the caller to
// assert on.
inline ProcResult build_example(const std::string& recipe, const std::filesystem::path& out) {
  const std::string src = AIRLOCK_SOURCE_DIR;
  return run("SOURCE_DATE_EPOCH=1767225600 " + std::string(AIRLOCK_BIN) + " build " +
             q(src + "/manifests/" + recipe + "/recipe.toml") + " --key " + q(src + "/keys/demo-hq.key") +
             " --out " + q(out));
}

}  // namespace airlock::test

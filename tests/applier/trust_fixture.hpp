// Real bundles for the trust-root tests: the demo keys (A = demo-hq, B = demo-hq2), a release
// built and signed by the bundler that may carry a [trust_update], and the audit log's kinds.
#pragma once

#include <gtest/gtest.h>

#include "applier/applier.hpp"
#include "core/model/trust.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {

inline minisign::SecretKey demo_secret(const std::string& file) {
  auto text = read_file(repo("keys/" + file), 4096);
  EXPECT_TRUE(text);
  auto k = minisign::parse_secret_key_file(*text, [] { return Result<std::string>(std::string()); });
  EXPECT_TRUE(k) << (k ? "" : k.error().what());
  return *k;
}

struct DemoKeys {
  minisign::SecretKey a = demo_secret("demo-hq.key"), b = demo_secret("demo-hq2.key");
};
inline const DemoKeys& demo_keys() {
  static const DemoKeys k;
  return k;
}

// A release of `version` with no migration, optionally carrying `update` as its [trust_update],
// signed by `signers`.
inline std::string trust_release(const TempDir& dir, const std::string& version,
                                 const std::optional<std::string>& update, std::vector<minisign::SecretKey> signers) {
  const std::string name = "r" + version + (update ? "-t" : "");
  std::map<std::string, std::string> files;
  std::string body;
  if (update) {
    files["t/next.toml"] = *update;
    body = "[trust_update]\npath = \"t/next.toml\"\n";
  }
  bundler::BuildRequest req;
  req.recipe_path = write_recipe(dir, name, "", version, body, files);
  req.keys = std::move(signers);
  req.out_path = (dir / (name + ".tar.zst")).string();
  auto r = bundler::build(req);
  EXPECT_TRUE(r) << (r ? "" : r.error().what());
  return req.out_path;
}

inline std::string audit_kinds(const std::string& site) {
  auto log = applier::audit_verify(site);
  if (!log) return "audit verify failed: " + log.error().what();
  std::string kinds;
  for (const auto& e : log->entries) kinds += e.kind + " ";
  return kinds;
}

}  // namespace airlock::test

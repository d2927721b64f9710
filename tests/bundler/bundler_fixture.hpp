// Shared helpers of the bundler tests: demo keys, a scratch recipe folder, quoting for run().
#pragma once

#include <filesystem>
#include <string>

#include "bundler/bundler.hpp"
#include "core/crypto/minisign.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {

inline const std::string kSource = AIRLOCK_SOURCE_DIR;
inline const std::string kExample = kSource + "/manifests/example/recipe.toml";
inline const std::string kExample12 = kSource + "/manifests/example-1.2.0/recipe.toml";

inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// keys/<name>.key: committed, unencrypted (keys/README.md).
inline minisign::SecretKey demo_key(const std::string& name) {
  auto text = slurp(kSource + "/keys/" + name + ".key");
  auto sk = minisign::parse_secret_key_file(
      text, []() -> Result<std::string> { return fail(ErrorClass::usage, "no password expected"); });
  if (!sk) throw std::runtime_error("demo key " + name + ": " + sk.error().what());
  return *sk;
}

inline std::string pub_file(const minisign::SecretKey& k, const std::filesystem::path& where) {
  spit(where, minisign::format_public_key_file(k.public_key()));
  return where.string();
}

inline Result<bundler::BuildReport> build_with(const std::string& recipe, const std::string& out,
                                               std::vector<minisign::SecretKey> keys,
                                               std::optional<std::int64_t> sde = std::nullopt, int workers = 1) {
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.out_path = out;
  req.keys = std::move(keys);
  req.source_date_epoch = sde;
  req.workers = workers;
  return bundler::build(req);
}

// A recipe in its own temporary folder, with its source files.
struct RecipeDir {
  TempDir dir;
  void file(const std::string& rel, const std::string& content) {
    std::filesystem::create_directories((dir / rel).parent_path());
    spit(dir / rel, content);
  }
  // Writes recipe.toml = a minimal valid release + `extra`, and the English notes.
  // `release_extra` goes into [release].
  std::string recipe(const std::string& extra, bool with_en_notes = true, const std::string& release_extra = "") {
    std::string text =
        "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T00:00:00Z\n" + release_extra;
    if (with_en_notes) {
      text += "[[notes]]\nlang = \"en\"\npath = \"en.md\"\n";
      file("en.md", "# notes\n");
    }
    file("recipe.toml", text + extra);
    return (dir / "recipe.toml").string();
  }
  std::string out() const { return (dir / "out.tar.zst").string(); }
};

}  // namespace airlock::test

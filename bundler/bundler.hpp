// The bundler: recipe (TOML, docs/recipe.md) -> signed, reproducible bundle; and `sign`, which
// adds a signature by rewriting only the manifest-and-signatures frames.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::bundler {

struct BuildProgress {
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  std::string current_file;
};

struct BuildRequest {
  std::string recipe_path;
  std::vector<minisign::SecretKey> keys;  // at least one, here or from load_keys
  // Called once, after the recipe passed every check (migrations included), for keys that must not
  // be decrypted before: the command line asks for passwords here. Its keys join `keys`.
  std::function<Result<std::vector<minisign::SecretKey>>()> load_keys;
  std::string out_path;
  std::optional<std::int64_t> source_date_epoch;  // used when the recipe has no `created`
  std::optional<int> level;                       // zstd level (recipe default 3)
  int workers = 0;                                // zstd worker threads (0 = auto)
  std::function<void(const BuildProgress&)> on_progress;
  // Split transport (spec §9, split.hpp): parts of at most this many bytes, out_path.part0001...;
  // sizes of 4 GiB or more only with split_force.
  std::optional<std::uint64_t> split_bytes;
  bool split_force = false;
  // A delta (bundler/delta.hpp) against this full bundle; overrides the recipe's [delta] base.
  std::optional<std::string> base_path;
};

struct DeltaReport {
  std::string base;                  // the base's version, as the manifest's [delta] base says
  std::uint64_t left_out_blobs = 0;  // image blobs the base reaches, not carried
  std::uint64_t saved_bytes = 0;     // their bytes
};

struct BuildReport {
  Manifest manifest;
  std::string manifest_sha256;
  std::vector<std::string> key_ids;
  std::uint64_t payload_bytes = 0;
  std::uint64_t bundle_bytes = 0;
  std::vector<std::string> parts;  // a split build's part paths, in order
  std::optional<DeltaReport> delta;
};

// ErrorClass::build_refused (20) for recipe rule breaches (a [delta] recipe without a base bundle,
// a base that is not a bundle, too), usage (2) for an unreadable/malformed recipe, io (3) for I/O.
// The output appears atomically, only on success.
[[nodiscard]] Result<BuildReport> build(const BuildRequest& req);

struct SignRequest {
  std::string bundle_path;
  std::optional<std::string> out_path;                 // nullopt: in place, atomically
  std::optional<minisign::SecretKey> key;              // sign with this key, or
  std::optional<std::string> signature_file_contents;  // attach this .minisig (made elsewhere)
};

struct SignReport {
  std::string key_id;
  std::vector<std::string> key_ids;  // all signatures now present
};

[[nodiscard]] Result<SignReport> sign(const SignRequest& req);

// The trusted comment writers put in every signature (spec §5).
std::string trusted_comment(const Manifest& m, const std::string& manifest_sha256_hex);

}  // namespace airlock::bundler

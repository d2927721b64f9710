// From a parsed recipe to a build plan: the manifest without its [[files]] hashes, and every
// payload file with its source on disk, in archive order (payload path, byte-wise). make_plan
// applies the release rules that need no database (bundler/migration_check.hpp does the rest);
// each breach is ErrorClass::build_refused naming the recipe, the item and the rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bundler/delta.hpp"
#include "bundler/recipe.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::bundler {

struct PlannedFile {
  std::string payload_path;
  std::string source;  // absolute or relative to the working folder
  bool executable = false;
  std::optional<std::string> content;        // made by the build (an image index), not read
  std::optional<std::string> expect_sha256;  // an image blob: its content must have this hash
  int image_rank = -1;                       // >= 0: a file of the images/ layout (bundler/oci.hpp)
};

struct Plan {
  Manifest manifest;  // files[] empty until hashed
  std::vector<PlannedFile> files;
  std::uint64_t left_out_blobs = 0;  // a delta: image blobs left to the base, and their bytes
  std::uint64_t left_out_bytes = 0;
};

// `source_date_epoch` is used when the recipe has no `created`; with neither, the build is refused
// (ErrorClass::usage): a reproducible build needs a fixed instant. With `base`, the plan is a delta
// against it (bundler/delta.hpp): `[delta] base` is its version.
[[nodiscard]] Result<Plan> make_plan(const Recipe& r, std::optional<std::int64_t> source_date_epoch,
                                     const DeltaBase* base = nullptr);

// Payload paths the recipe's items get (docs/recipe.md).
std::string migration_payload_path(const std::string& source);
std::string config_payload_path(const std::string& target);
std::string notes_payload_path(const std::string& lang);
inline constexpr const char* kTrustUpdatePayloadPath = "trust/trust.toml";

}  // namespace airlock::bundler

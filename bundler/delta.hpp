// Delta bundles (spec §4 `[delta]`): a bundle built against a base bundle leaves out of its
// images/ layout the config and layer blobs reachable from the base's image manifests; oci-layout,
// index.json and every manifest always travel, so a consumer can tell what the images need. The
// manifest's `[delta] base` is the base's version and only informational: a site takes a delta when
// its image store holds, intact, every blob the delta leaves out (applier/image_store.hpp).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "core/error.hpp"

namespace airlock::bundler {

struct DeltaBase {
  std::string path;             // the base bundle as named (--base or the recipe's [delta] base)
  std::string version;          // its release version: the manifest's [delta] base
  std::set<std::string> blobs;  // config and layer digests its image manifests reach
};

// Reads the base bundle in one pass: a strict head, a manifest that parses, the tar stream to its
// end, each image layout's index.json and every manifest it reaches (whose bytes must hash to its
// name). A base that is not such a bundle, or lacks a manifest its index reaches, is
// build_refused (20) naming the base. A base that is itself a delta serves as well: its manifests
// travel, and what they reach is what a site that took it holds.
[[nodiscard]] Result<DeltaBase> read_delta_base(const std::string& path);

}  // namespace airlock::bundler

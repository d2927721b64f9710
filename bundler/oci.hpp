// The recipe's image layouts -> one OCI image layout `images/` in the bundle. Each recipe image
// with a `layout` names a source layout (as skopeo's `oci:DIR:TAG` or umoci writes one); its
// manifest is found in that layout's index.json by the image's full ref or its tag, and must be
// the recipe's `digest`. Only blobs reachable from the named manifests are carried (umoci leaves
// orphans behind), each once across all images; index.json is ours, deterministic, one entry per
// image annotated with its full ref. Archive order inside images/: oci-layout, index.json, then
// manifests, configs and layers, each group by digest, so an importer meets what it needs to
// understand a blob before the blob. Every breach is build_refused (20) naming the image.
#pragma once

#include "bundler/delta.hpp"
#include "bundler/plan.hpp"
#include "bundler/recipe.hpp"
#include "core/error.hpp"

namespace airlock::bundler {

inline constexpr const char* kImagesLayout = "images";

// Adds the images/ files to `p.files` and sets each image's `layout`. Manifests are read and
// checked here; configs' and layers' digests are checked while build streams them. With a delta
// `base`, the configs and layers it reaches are left out (counted in `p.left_out_*`).
[[nodiscard]] Status plan_image_layouts(const Recipe& r, Plan& p, const DeltaBase* base);

// Archive order of payload paths (images/ ranked as above, everything else by path, byte-wise).
bool archive_order(const PlannedFile& a, const PlannedFile& b);

}  // namespace airlock::bundler

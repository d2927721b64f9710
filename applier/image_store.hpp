// The site's image store: one content-addressed OCI image layout, <state_dir>/images, holding the
// blobs of every kept release's images once (core/blob/store.hpp).
//  - import: an apply moves the verified blobs of the bundle's images/ layout from staging into
//    the store (renames, no copy) before the payload is kept; the kept payload keeps
//    images/index.json and images/oci-layout, never images/blobs (nothing is stored twice).
//  - the index: images/index.json is derived from the pointer (`current`) and the kept releases
//    (releases/<v>/images/index.json): the current release's images tagged with their full refs,
//    every other kept release's images as untagged entries; every entry is annotated with its
//    release (kReleaseAnnotation). It is rewritten (temporary, fsync, rename) wherever the pointer
//    changes and when a run closes, so a crash between the two converges once the run is
//    recovered; a rollback re-points it without importing anything.
//  - a [delta] release carries only the blobs its base lacks: image_needs proves, before anything
//    changes, that the store holds the rest intact; the import then takes the carried blobs and
//    reuses the stored ones.
//  - gc removes the blobs no entry of the index reaches: what a rollback can reach is every kept
//    release; a staged or scheduled release holds its own payload, except the blobs a staged
//    delta leaves to the store, which gc keeps too.
// A site whose releases carry no image layout has no store: nothing here creates one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "applier/site.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

inline constexpr const char* kReleaseAnnotation = "io.airlock.release";

std::string image_store_dir(const Site& s);

// Moves the blobs of `staging`/images into the store and removes staging/images/blobs. The
// verifier has proved every blob's bytes against its name; each image the manifest lists must
// then be complete in the store (io naming what is missing, which cannot happen for a bundle that
// verified, unless the store was damaged meanwhile).
[[nodiscard]] Status import_images(const Site& s, const std::string& staging, const Manifest& m);

// "ref@digest ref@digest ..." of the images tagged in the store (the current release's).
std::string current_images_env(const Site& s);

// Rewrites images/index.json from the pointer and the kept releases (no write when unchanged).
[[nodiscard]] Status sync_image_index(const Site& s);

struct StoredImage {
  std::string ref;      // the image's full ref
  std::string digest;   // manifest digest
  std::string release;  // the release that carries it
  bool tagged = false;  // the current release's: tagged in index.json
  std::string media_type;  // the root's, as the release's layout index gives it
  std::uint64_t size = 0;
};
[[nodiscard]] Result<std::vector<StoredImage>> images_list(const std::string& site_toml);

// The current release's images and the store (an OCI image layout) that holds them, for
// `images push`. A site without a store has none.
struct CurrentImages {
  std::string store;
  std::vector<StoredImage> images;  // tagged ones only
};
[[nodiscard]] Result<CurrentImages> current_images(const std::string& site_toml);

struct ImageProblem {
  std::string digest;
  std::string what;
};

// What the images of the verified payload at `staging` need beyond the blobs it carries, checked
// before anything changes. A [delta] release leaves blobs out (spec §4): each must be in the store
// and intact (re-hashed now); every one that is not is listed. A full release must carry every
// blob its images reach: one it lacks is integrity (12), as a damaged bundle is.
[[nodiscard]] Result<std::vector<ImageProblem>> image_needs(const Site& s, const std::string& staging,
                                                            const Manifest& m);
// image_needs as the apply's refusal: preflight (33) listing every missing or damaged blob.
[[nodiscard]] Status check_image_needs(const Site& s, const std::string& staging, const Manifest& m);

struct ImagesVerifyReport {
  std::uint64_t blobs = 0;
  std::vector<ImageProblem> problems;  // empty: every reachable blob is there, intact
};
// Every blob the index reaches, re-hashed. The caller maps problems to integrity (12).
[[nodiscard]] Result<ImagesVerifyReport> images_verify(const std::string& site_toml);

struct ImagesGcReport {
  std::vector<std::string> removed;  // digests (would be removed, with dry_run)
  std::uint64_t bytes = 0;
  std::uint64_t kept = 0;
};
enum class DryRun { no, yes };
// Under the site lock.
[[nodiscard]] Result<ImagesGcReport> images_gc(const std::string& site_toml, DryRun dry_run);
// The gc of a healthy apply, whose caller holds the lock.
[[nodiscard]] Result<ImagesGcReport> gc_image_store(const Site& s, DryRun dry_run);

}  // namespace airlock::applier

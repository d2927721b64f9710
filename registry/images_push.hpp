// push_images: a site's container images, as real images, into a registry the site's nodes pull
// from (k3s/containerd through a registries.yaml mirror). The images come from an OCI image layout
// (the site's verified image store) and go up unchanged, so every digest stays what the release
// names:
//  - per image, every config and layer blob first: HEAD (present: skipped), else a cross-repository
//    mount when this run already placed the blob in another repository, else a chunked upload
//    whose bytes are re-read from the layout and hashed as they are sent (a blob whose bytes are
//    not its name stops before its last byte goes out: integrity, 12);
//  - then the manifests, each child of an index before the index, their bytes as stored, under the
//    media type their descriptor gives; the image's root goes last, under its tag;
//  - then a HEAD by digest (and by tag) must answer the image's digest (12 if not).
// Every manifest is read and checked (size, digest) and every blob's size before anything is sent,
// so a damaged image never gets a manifest in the registry.
// `registry.example.org/a/b:t` goes to `HOST/PREFIX/a/b:t`: the ref's registry host is dropped (a
// k3s mirror rewrites paths, not hosts), Docker Hub's one-part names gain `library/` as containerd
// asks for them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/blob/oci.hpp"
#include "core/error.hpp"
#include "registry/client.hpp"
#include "registry/reference.hpp"

namespace airlock::registry {

struct ImageToPush {
  std::string ref;        // as the release names it: "registry.example.org/a/b:t"
  blob::Descriptor root;  // from the layout's index.json: digest, size, media type
};

// Where an image's ref goes under `prefix`: repository and tag ("latest" for a ref with neither a
// tag nor a digest, as a runtime reads it; empty for `name@digest`, pushed by digest only). A ref
// that names no valid repository or tag is malformed (10).
struct ImageTarget {
  std::string repo;
  std::string tag;
};
[[nodiscard]] Result<ImageTarget> map_image_ref(const std::string& ref, const std::string& prefix);

struct ImagePushResult {
  std::string ref;
  std::string target;  // "HOST/PREFIX/a/b:t" (or "...@digest" without a tag)
  std::string digest;  // the image's manifest digest
  std::size_t blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0;
  std::size_t manifests_pushed = 0;  // children of an index the registry lacked, and the root
  std::uint64_t bytes_uploaded = 0;
  std::optional<Error> error;  // this image failed (the others are still tried)
};

// Progress for the cli: which image, bytes of its blobs done of those it sends.
using ImagesProgress = std::function<void(const std::string& ref, std::uint64_t done, std::uint64_t total)>;

// Checks every ref's mapping first (two refs onto one target with different digests: usage, 2) and
// that the registry answers (network 3, credentials 2) before any image; then pushes each image in
// turn. A failed image is reported in its result and the next one is tried.
[[nodiscard]] Result<std::vector<ImagePushResult>> push_images(const std::string& layout_dir,
                                                               const std::vector<ImageToPush>& images,
                                                               const RegistryRoot& root, ClientOptions opts,
                                                               const ImagesProgress& progress = {});

}  // namespace airlock::registry

// The OCI image layout as airlock reads and writes it (image-spec v1: `oci-layout`, `index.json`,
// `blobs/sha256/<hex>`): descriptors, the deterministic index.json we write, and the walk from
// a set of root descriptors to every blob they reach (index -> manifests -> config and layers).
// Parsing is strict about what the walk needs (digests, sizes, the shape of the descriptor
// arrays) and ignores fields it does not use, as other OCI readers do. Errors are of the class the
// caller names (a recipe's layout is a build refusal, a site's store is malformed or integrity).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace airlock::blob {

inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kOciLayoutText = "{\"imageLayoutVersion\":\"1.0.0\"}";
inline constexpr const char* kManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
// index.json and manifests are read whole: a larger one is refused before it is read.
inline constexpr std::uint64_t kMaxOciJsonBytes = 4ull << 20;

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
  std::map<std::string, std::string> annotations;  // string values only (the spec's type)
};

// What a manifest blob points to: an image index lists manifests; an image manifest a config and
// layers (docker's v2 schema 2 manifests and lists have the same shape).
struct Children {
  std::vector<Descriptor> manifests;
  std::vector<Descriptor> configs;  // zero or one
  std::vector<Descriptor> layers;
};

enum class BlobRole { manifest = 0, config = 1, layer = 2 };

struct ReachableBlob {
  std::string digest;
  std::uint64_t size = 0;
  BlobRole role = BlobRole::layer;
};

// `oci-layout` must declare imageLayoutVersion 1.0.0.
[[nodiscard]] Status check_oci_layout(std::string_view text, ErrorClass cls, const std::string& what);
// The `manifests` of index.json (or of an image index blob).
[[nodiscard]] Result<std::vector<Descriptor>> parse_index(std::string_view json, ErrorClass cls,
                                                          const std::string& what);
[[nodiscard]] Result<Children> parse_children(std::string_view json, ErrorClass cls, const std::string& what);
// index.json for `manifests`, in the order given: compact, keys sorted, so the same list gives the
// same bytes.
std::string render_index(const std::vector<Descriptor>& manifests);

// One manifest blob of the layout at `dir`, read whole (at most kMaxOciJsonBytes) and checked
// against its descriptor's size and digest; any mismatch, or a missing blob, is `cls`.
[[nodiscard]] Result<std::string> read_manifest_blob(const std::string& dir, const Descriptor& d, ErrorClass cls);
// A config or layer blob of the layout at `dir` is a regular file of its descriptor's size; else `cls`.
[[nodiscard]] Status check_blob_size(const std::string& dir, const Descriptor& d, ErrorClass cls);

// Every blob reachable from `roots` in the layout at `dir`, each once, sorted by digest. Manifests
// and indexes are read (at most kMaxOciJsonBytes), checked against their descriptor's size and
// digest, and followed; configs and layers are checked by size only (their digest is checked by
// whoever streams them). A blob reached in two roles keeps the role it was first reached in.
// A missing blob or a size that differs is `cls`; a digest that differs is `cls` too.
[[nodiscard]] Result<std::vector<ReachableBlob>> reachable_blobs(const std::string& dir,
                                                                 const std::vector<Descriptor>& roots, ErrorClass cls);

// A blob of a walk over several layouts, and the first of them that holds it (-1: none).
struct LocatedBlob {
  std::string digest;
  std::uint64_t size = 0;  // as its descriptor says
  BlobRole role = BlobRole::layer;
  int dir = -1;
};

// Every blob reachable from `roots`, each once, sorted by digest, looked up in the layouts `dirs`
// in order (a delta's layout, then the store holding what it leaves out): each is located in the
// first that has `blobs/sha256/<hex>`. A manifest located is read, checked against its descriptor
// (size and digest: else `cls`) and followed; one located nowhere is listed (dir -1), not followed.
// Configs and layers are only located: their sizes and contents are the caller's to check, so that
// a missing or damaged one can be reported with all the others rather than stop the walk.
[[nodiscard]] Result<std::vector<LocatedBlob>> locate_reachable(const std::vector<std::string>& dirs,
                                                                const std::vector<Descriptor>& roots, ErrorClass cls);

}  // namespace airlock::blob

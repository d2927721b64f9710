// A bundle as an OCI artifact: one image manifest whose layers are the bundle's bytes in order.
// Layer 1 is the head (the zstd frames of manifest.toml and the signatures), so that a new
// signature moves only layer 1; the payload follows in layers of `chunk` bytes. Every field of the
// manifest derives from the bundle's bytes and the chunk size, and nlohmann's dump sorts keys and
// adds no space: the same bundle gives the same manifest digest anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace airlock::registry {

inline constexpr std::string_view kArtifactType = "application/vnd.airlock.bundle.v1";
inline constexpr std::string_view kLayerMediaType = "application/vnd.airlock.bundle.part.v1";
inline constexpr std::string_view kImageManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kEmptyConfigType = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kEmptyConfig = "{}";
inline constexpr std::size_t kMaxArtifactManifestBytes = 4 * 1024 * 1024;
inline constexpr std::uint64_t kDefaultChunkBytes = 256ull * 1024 * 1024;
inline constexpr std::size_t kMaxLayers = 9999;  // the part names' four digits

// Annotation keys of the manifest.
inline constexpr const char* kAnnName = "org.opencontainers.image.title";
inline constexpr const char* kAnnVersion = "org.opencontainers.image.version";
inline constexpr const char* kAnnCreated = "org.opencontainers.image.created";
inline constexpr const char* kAnnSha256 = "io.airlock.bundle.sha256";
inline constexpr const char* kAnnSize = "io.airlock.bundle.size";
inline constexpr const char* kAnnChunk = "io.airlock.bundle.chunk";

struct Layer {
  std::uint64_t offset = 0;  // in the bundle
  std::uint64_t size = 0;
  std::string digest;  // sha256:<hex>
};

struct BundleArtifact {
  std::string name;  // "<product>-<version>.tar.zst"
  std::string version;
  std::string created;  // the release's RFC 3339 time
  std::string sha256;   // whole file, lower-case hex
  std::uint64_t size = 0;
  std::uint64_t chunk = kDefaultChunkBytes;
  std::vector<Layer> layers;
};

// Reads the bundle's head (malformed: 10) to find where the payload frames start, then hashes
// every layer and the whole file in one pass. More than kMaxLayers layers is a usage error.
[[nodiscard]] Result<BundleArtifact> describe_bundle(const std::string& path, std::uint64_t chunk);

// The compressed offset where the head frames end (manifest and signatures in frames of their own).
[[nodiscard]] Result<std::uint64_t> head_frames_end(const std::string& path);

std::string render_manifest(const BundleArtifact& a);
std::string empty_config_digest();

// The artifact a manifest describes, or malformed (10): another artifactType or media type, no
// layers or too many, layer sizes that do not add up to the declared size, a bad digest text.
[[nodiscard]] Result<BundleArtifact> parse_artifact_manifest(std::string_view bytes);

}  // namespace airlock::registry

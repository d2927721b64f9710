// A bundle through a registry: push_bundle publishes it as the artifact of registry/artifact.hpp;
// pull_bundle fetches it back into a file, byte for byte, proving each layer and the whole file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "registry/artifact.hpp"
#include "registry/client.hpp"
#include "registry/reference.hpp"

namespace airlock::registry {

// Progress for the cli (libraries never print): which layer, bytes of it done.
using TransferProgress =
    std::function<void(std::size_t layer, std::size_t layers, std::uint64_t done, std::uint64_t total)>;

struct PushResult {
  std::string digest;  // the manifest's
  BundleArtifact artifact;
  std::size_t layers_uploaded = 0;  // the others were present already
  std::uint64_t bytes_uploaded = 0;
};

// ref must name a tag. Layers the repository has (HEAD) are skipped.
[[nodiscard]] Result<PushResult> push_bundle(const std::string& path, const Reference& ref, ClientOptions opts,
                                             std::uint64_t chunk, const TransferProgress& progress = {});

struct PullRequest {
  Reference ref;
  ClientOptions opts;
  std::string out;                    // written through out + ".partial"
  std::optional<std::string> sha256;  // whole-file sha256 the caller requires (lower-case hex)
  // Called with the partial file once it holds exactly layer 1 (the head), before the body is
  // fetched: the caller checks the head (authentic, policy) and may refuse.
  std::function<Status(const std::string& head_file)> check_head;
  TransferProgress progress;
};

struct PullResult {
  std::string digest;  // the manifest's
  BundleArtifact artifact;
  std::uint64_t bytes_reused = 0;  // found in the .partial of an earlier run
  std::uint64_t bytes_fetched = 0;
};

// Network failures (3) keep out + ".partial" for the next run; a verification failure (10, 12)
// or the head check's refusal removes it. `out` appears only when everything matched.
[[nodiscard]] Result<PullResult> pull_bundle(const PullRequest& req);

}  // namespace airlock::registry

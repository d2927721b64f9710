// A distribution-spec v1.1 client for one repository of one registry: ping, blobs (HEAD, GET with
// Range, chunked upload, cross-repository mount) and manifests (PUT, GET with Accept).
//
// Authentication follows the registry's 401 challenge: Basic with the given credentials, or
// Bearer (a token fetched from the named realm with Basic credentials, re-fetched on the next 401).
// The Authorization header goes only to the registry's own origin; a redirect to any other origin
// is followed without it, and libcurl never follows a redirect by itself.
// Network errors and 5xx answers are retried a bounded number of times. Failures classify as
// spec §8: credentials missing or refused 2, network/TLS/HTTP 3; nothing here prints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/blob/stream.hpp"
#include "core/error.hpp"
#include "registry/credentials.hpp"
#include "registry/http.hpp"
#include "registry/reference.hpp"

namespace airlock::registry {

enum class Access { pull, push };

struct ClientOptions {
  TlsOptions tls;
  std::optional<Credentials> creds;
  Access access = Access::pull;
  int attempts = 4;                                 // per request: network errors and 5xx
  std::uint64_t patch_bytes = 32ull * 1024 * 1024;  // one PATCH of a chunked upload
};

// A reader of `len` bytes of a blob from `offset` (an upload resumes from the acknowledged offset).
using OpenRange = std::function<Result<std::unique_ptr<blob::Reader>>(std::uint64_t offset, std::uint64_t len)>;

struct FetchedManifest {
  std::string media_type;  // the response's Content-Type
  std::string bytes;
  std::string digest;  // our own sha256 of `bytes` (a Docker-Content-Digest header is ignored)
};

enum class RangeAnswer { honoured, whole_blob };
struct BlobAnswer {
  RangeAnswer range = RangeAnswer::honoured;
  // The body's end was told by a Content-Length or chunked framing. When false, the connection's
  // close ended it, and a cut connection cannot be told from a complete answer.
  bool framed = true;
};

class Client {
 public:
  [[nodiscard]] static Result<Client> open(const std::string& host, const std::string& repo, ClientOptions opts);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  const std::string& repo() const;
  // GET /v2/: reachable, speaks the API, and (after its challenge) accepts our credentials.
  [[nodiscard]] Status ping();
  // The blob's size when the repository has it, nullopt when not.
  [[nodiscard]] Result<std::optional<std::uint64_t>> blob_size(const std::string& digest);
  // One GET of the blob from byte `offset` into `sink` (no retry: the caller resumes from where it
  // got to). When the registry ignores Range (200), `restart` is called before the first byte,
  // which then is byte 0, and the answer is whole_blob. A 416 to a Range request (the blob ends
  // before `offset`) is integrity.
  [[nodiscard]] Result<BlobAnswer> get_blob(const std::string& digest, std::uint64_t offset, const BodySink& sink,
                                             const std::function<Status()>& restart);
  // Mounts the blob from another repository of the same registry; false when the registry
  // started an upload instead (it is cancelled).
  [[nodiscard]] Result<bool> mount_blob(const std::string& digest, const std::string& from_repo);
  // POST, PATCH every patch_bytes with Content-Range, closing PUT ?digest=. A failed PATCH resumes
  // from the offset the registry acknowledges; a lost session starts the blob again.
  [[nodiscard]] Status upload_blob(const std::string& digest, std::uint64_t size, const OpenRange& open);
  // Returns the manifest's digest (computed here).
  [[nodiscard]] Result<std::string> put_manifest(const std::string& target, const std::string& media_type,
                                                 const std::string& bytes);
  // At most max_bytes (more: malformed, 10); a digest target is checked against the bytes (12).
  [[nodiscard]] Result<FetchedManifest> get_manifest(const std::string& target, const std::string& accept,
                                                     std::size_t max_bytes);
  // HEAD of a manifest: its digest header and size, nullopt when absent.
  [[nodiscard]] Result<std::optional<std::string>> manifest_digest(const std::string& target,
                                                                   const std::string& accept);

  struct Impl;  // registry/client_impl.hpp: shared by the files that implement Client

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A reader over `len` bytes of an open file from `offset` (pread; the fd is not owned).
class FileRangeReader final : public blob::Reader {
 public:
  FileRangeReader(int fd, std::uint64_t offset, std::uint64_t len, std::string name)
      : fd_(fd), pos_(offset), left_(len), name_(std::move(name)) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;

 private:
  int fd_;
  std::uint64_t pos_, left_;
  std::string name_;
};

class StringReader final : public blob::Reader {
 public:
  explicit StringReader(std::string_view s) : s_(s) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;

 private:
  std::string_view s_;
};

}  // namespace airlock::registry

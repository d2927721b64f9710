// BlobStore: a content-addressed blob store over a folder, laid out as an OCI image layout's
// `blobs/sha256/<hex>`. It owns only the blobs (index.json and oci-layout belong to the caller).
//  - Each blob is stored once: putting one that is present keeps the stored copy.
//  - A blob appears complete or not at all: it is written to a temporary file in `<root>/ingest`
//    (outside blobs/sha256, so no reader ever sees a half-written blob under its name), hashed as
//    it is written, fsynced, checked against the expected digest, renamed into place, and the
//    folder fsynced (the crash-safe write of core/sys/fs.hpp, with the name known only at the end).
//  - Stored blobs are trusted by name; verify() re-hashes one on demand.
// Every mutating call goes through the filesystem seam (core/sys/sys.hpp). A failed put leaves no
// temporary behind and no blob under the name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/blob/stream.hpp"
#include "core/error.hpp"

namespace airlock::blob {

class BlobStore {
 public:
  // The store at `root`, its folders created when missing (io when they cannot be).
  [[nodiscard]] static Result<BlobStore> open(const std::string& root);

  const std::string& root() const { return root_; }
  // `<root>/blobs/sha256/<hex>`; `digest` must be a valid digest text (checked by the callers that
  // take one from outside: every public member below refuses a bad one as malformed).
  std::string path_of(std::string_view digest) const;
  [[nodiscard]] Result<bool> has(std::string_view digest) const;

  // Streams `in` into the store, at most `max_bytes` (longer: malformed). With `expected`, a
  // different digest is integrity (12) and nothing is stored. Returns the digest.
  [[nodiscard]] Result<std::string> put(Reader& in, std::optional<std::string_view> expected, std::uint64_t max_bytes);
  [[nodiscard]] Result<std::string> put_bytes(std::string_view data);
  // Moves the file `from` (on the same file system, its digest proved by the caller) into place
  // with one rename, then fsyncs the folder: no byte is copied. When the blob is already stored,
  // `from` is left as it is. Returns whether it moved.
  [[nodiscard]] Result<bool> adopt(const std::string& from, std::string_view digest);
  // Moves `from` (its digest proved by the caller) over whatever the store holds under the name,
  // with one rename: a verified copy takes the place of a stored one that may have been damaged.
  [[nodiscard]] Status replace(const std::string& from, std::string_view digest);
  // Re-hashes a stored blob: integrity (12) when its bytes do not match its name, io when absent.
  [[nodiscard]] Status verify(std::string_view digest) const;
  // Every stored digest, sorted; a file under blobs/sha256 whose name is not 64 lower-case hex
  // digits is malformed (nothing this store writes is named so).
  [[nodiscard]] Result<std::vector<std::string>> list() const;
  // Removes one blob (absent is fine) and fsyncs the folder.
  [[nodiscard]] Status remove(std::string_view digest);

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string blobs_dir() const { return root_ + "/blobs/sha256"; }
  std::string ingest_dir() const { return root_ + "/ingest"; }
  [[nodiscard]] Result<std::string> checked_path(std::string_view digest) const;
  [[nodiscard]] Status place(const std::string& tmp, const std::string& digest);

  std::string root_;
};

}  // namespace airlock::blob

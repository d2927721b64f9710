// The head of a bundle (spec §1-2): frame 1 holds the `manifest.toml` entry, frame 2 the
// `signatures/<KEYID>.minisig` entries sorted by key id. build and sign both write it through
// here, so a signed-again bundle has exactly the layout of a freshly built one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/container/container.hpp"
#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/model/manifest.hpp"

namespace airlock::bundler {

struct SignatureEntry {
  std::string key_id;  // 16 upper-case hex digits
  std::string text;    // the .minisig file
};

std::string signature_entry_path(const std::string& key_id);

// A new signature over the exact manifest bytes, with the trusted comment writers use.
SignatureEntry make_signature(const minisign::SecretKey& key, const Manifest& m, const std::string& manifest_bytes);

// Sorts by key id and refuses (usage) a key id given twice or more than kMaxSignatureEntries.
[[nodiscard]] Status sort_signatures(std::vector<SignatureEntry>& sigs);

// The two head frames: the manifest entry, then the signature entries, each frame stored (raw
// blocks, core/container/container.hpp), so that the head's length follows from the lengths of the manifest
// and the signatures alone: build reserves it before the hashes are known and writes the payload
// frames straight behind it. The same bytes from build and sign make build(A, B) and
// build(A) + sign(B) byte-identical. `mtime` = release.created in whole seconds.
[[nodiscard]] Result<std::string> render_head(const std::string& manifest_bytes,
                                              const std::vector<SignatureEntry>& sigs, std::int64_t mtime);

std::string sha256_hex(const std::string& bytes);

}  // namespace airlock::bundler

// inspect: what a bundle DECLARES — its manifest, signature entries and (optionally) one release
// note — read without checking any signature or hash. Never a substitute for verify().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::verifier {

struct InspectedSignature {
  std::string entry;           // "signatures/<KEYID>.minisig"
  std::string key_id;          // from the signature itself
  std::string trusted_comment;
  bool well_formed = false;
  std::string problem;         // when not well-formed
};

struct Inspection {
  std::string manifest_text;
  std::string manifest_sha256;
  std::optional<Manifest> manifest;   // nullopt when it does not parse
  std::string manifest_problem;
  std::vector<InspectedSignature> signatures;
  std::optional<std::string> notes_lang;  // the language shown (falls back to en)
  std::optional<std::string> notes_text;
  std::string notes_problem;  // why a note the manifest names is not shown (empty otherwise)
  std::uint64_t decompressed_bytes = 0;  // how far into the archive inspect read
};

// Reads the head entries; with `notes_lang`, reads on through the payload until that note (or the
// English one) and returns its text. Errors: io (3) or malformed (10).
[[nodiscard]] Result<Inspection> inspect(const std::string& bundle_path, const std::optional<std::string>& notes_lang);

}  // namespace airlock::verifier

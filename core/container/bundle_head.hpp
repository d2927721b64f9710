// The head of a bundle (spec §2, §7 steps 1-2): entry 1 `manifest.toml`, then the entries
// `signatures/<KEYID>.minisig`. The one reader of them, for every command that reads a head:
// verify and sign read it strictly (every rule of §2, and each signature parsed: §5's table),
// inspect leniently (what a bundle declares, each signature's fault reported instead of refused).
// Both modes check each entry's size and the count from the tar headers before any content is
// read, so a hostile header costs nothing; the limits are those of core/limits.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/container/container.hpp"
#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"

namespace airlock {

struct HeadSignature {
  std::string entry;                       // "signatures/<KEYID>.minisig"
  std::string text;                        // the entry's exact bytes
  std::optional<minisign::Signature> sig;  // always set by a strict read
  std::string problem;                     // lenient read: why `sig` is not set
};

struct BundleHead {
  std::string manifest;                   // the exact bytes of entry 1, not parsed
  std::vector<HeadSignature> signatures;  // in entry order
  std::optional<TarEntry> next;           // the first entry after them (nullopt: the end marker)
  std::uint64_t next_number = 0;          // its entry number (1 = manifest)
  std::uint64_t signatures_end = 0;       // decompressed offset just past the last signature entry

  // The parsed signatures, in entry order (for SignatureCounter, core/crypto/signature_count.hpp).
  std::vector<minisign::Signature> parsed_signatures() const;
};

enum class HeadMode {
  // §2 and §5 to the letter: 1..16 entries named `signatures/<16 upper-case hex>.minisig`, sorted
  // strictly, each at most 4 KiB, the name's id equal to the id inside. Grammar faults are
  // malformed (10); a signature that does not parse is not_authentic (11).
  strict,
  // Every entry under `signatures/` is read (0..16, each at most 4 KiB: beyond those it is
  // malformed, since inspect must stay bounded too); one that does not parse is kept with its
  // problem. Names, order and ids are not checked.
  lenient,
};

// Reads entry 1 and the signature entries; the reader then stands at `next`. Errors name the entry
// by number and path ("entry 2 'signatures/...': ...").
[[nodiscard]] Result<BundleHead> read_bundle_head(TarReader& tar, HeadMode mode);

// Reads the current entry (whose header said `size`) into memory. The caller has checked `size`
// against its limit from the header, before this reads a byte.
[[nodiscard]] Result<std::string> read_entry_bytes(TarReader& tar, std::uint64_t size, const std::string& label);

// "entry 3 'notes/en.md'"
std::string entry_label(std::uint64_t number, const std::string& path);

}  // namespace airlock

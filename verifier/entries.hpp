// Reading the small head entries of a bundle (manifest, signatures) into memory, and the
// signature entries' grammar of spec §2. Private to the verifier.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/container/container.hpp"
#include "core/error.hpp"
#include "core/crypto/minisign.hpp"

namespace airlock::verifier {

inline constexpr std::size_t kMaxSignatureEntries = 16;

// Reads the current entry (whose header said `size`) into memory. The caller has checked `size`
// against its limit from the header, before this reads a byte.
[[nodiscard]] Result<std::string> read_entry_bytes(TarReader& tar, std::uint64_t size, const std::string& label);

// "entry 3 'notes/en.md'"
std::string entry_label(std::uint64_t number, const std::string& path);

struct SignatureEntry {
  std::string entry;  // "signatures/<KEYID>.minisig"
  minisign::Signature sig;
};

struct SignatureBlock {
  std::vector<SignatureEntry> entries;
  std::optional<TarEntry> next;   // the first entry after them (nullopt: the end marker)
  std::uint64_t next_number = 0;  // its entry number (1 = manifest)
};

// Reads the signature entries that follow the manifest (entry 1): count 1..16, names
// `signatures/<16 upper-case hex>.minisig` sorted strictly, each at most 4 KiB, the name's id equal
// to the id inside. Grammar faults are malformed (10); a signature that does not parse is
// not_authentic (11).
[[nodiscard]] Result<SignatureBlock> read_signature_entries(TarReader& tar);

}  // namespace airlock::verifier

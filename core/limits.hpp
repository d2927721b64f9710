// Every limit the bundle format's contract (the spec) sets on an untrusted length or count,
// defined once. Readers check them before they use the value; writers
// refuse to produce what a reader would refuse. A consumer may lower some of them (Policy), never
// raise them. Limits that are an implementation's own choice (inspect's inflation budget, the
// recipe size) stay beside the code they bound.
#pragma once

#include <cstddef>
#include <cstdint>

namespace airlock {

// §1 container.
inline constexpr std::uint64_t kMaxFrameWindow = 1ull << 27;         // a zstd frame's window; readers refuse larger
inline constexpr std::uint64_t kMaxPaxHeaderBytes = 64 * 1024;       // one pax extended header
inline constexpr std::uint64_t kMaxTrailingZeroBytes = 1024 * 1024;  // zero bytes after the end marker

// §2 entry order: the head of a bundle.
inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;  // the manifest.toml entry
inline constexpr std::size_t kMaxSignatureEntries = 16;            // signatures/<KEYID>.minisig entries
inline constexpr std::size_t kMaxSignatureFileBytes = 4096;        // one signature entry (or detached file)

// §3 paths.
inline constexpr std::size_t kMaxPathBytes = 255;

// §4 manifest.
inline constexpr std::size_t kMaxFiles = 30000;                // [[files]] entries
inline constexpr std::uint64_t kMaxTotalPayload = 1ull << 40;  // the sum of file sizes: 1 TiB
// A version names a folder of the site (releases/<version>) and is shown everywhere.
inline constexpr std::size_t kMaxVersionBytes = 64;

// §5 signatures: the text after "untrusted comment: " / "trusted comment: ".
inline constexpr std::size_t kMaxCommentBytes = 1024;

// §6 trust root (also a [trust_update]): the threshold is 1..kMaxThreshold distinct keys.
inline constexpr std::size_t kMaxTrustRootBytes = 64 * 1024;
inline constexpr int kMaxThreshold = 16;

// §9 split transport: parts are numbered .part0001 to .part9999.
inline constexpr std::size_t kMaxParts = 9999;

// §10 release feed: feed.toml; its detached signatures share §2's bounds (kMaxSignatureEntries,
// kMaxSignatureFileBytes).
inline constexpr std::size_t kMaxFeedBytes = 4 * 1024 * 1024;

}  // namespace airlock

// Pieces of the minisign implementation shared between core/crypto/minisign.cpp (public keys,
// signatures) and core/crypto/minisign_keys.cpp (secret keys), plus the scrypt cost knob that tests need:
// writing an encrypted key with minisign's defaults costs ~1 GiB and seconds on purpose, so unit
// tests write theirs with libsodium's minimum cost through format_secret_key_file_with_kdf.
// Not a public interface: only core/minisign*.cpp and tests include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"

namespace airlock::minisign {

struct KdfParams {
  std::uint64_t opslimit;
  std::uint64_t memlimit;
};
// crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE: what `minisign -G` uses.
inline constexpr KdfParams kDefaultKdf{33554432ULL, 1073741824ULL};
// crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_INTERACTIVE: cheap, for tests only.
inline constexpr KdfParams kTestKdf{524288ULL, 16777216ULL};
// A key file names its own cost; refuse absurd ones rather than try to allocate them.
inline constexpr std::uint64_t kMaxKdfMemlimit = 4ULL << 30;
inline constexpr std::uint64_t kMaxKdfOpslimit = 1ULL << 32;

[[nodiscard]] Result<std::string> format_secret_key_file_with_kdf(const SecretKey& sk, const std::string& password,
                                                                  KdfParams kdf);

std::uint64_t le64_load(const std::uint8_t* p);
void le64_store(std::uint8_t* p, std::uint64_t v);

// The two lines of a key file: "untrusted comment: ..." and the base64 line. A final newline is
// optional, and so is a '\r' before each '\n' (key files are local and hand-copied; signature
// files, which travel inside bundles, get no such leniency). Returns the base64 line.
// `what` names the file kind in errors ("public key file").
[[nodiscard]] Result<std::string_view> key_file_base64_line(std::string_view contents, const char* what);

}  // namespace airlock::minisign

// minisign 0.11 key and signature files, byte-compatible with the stock tool.
//   public key file:  "untrusted comment: minisign public key <ID, unpadded>\n" + base64("Ed" keyid[8] pk[32]) + "\n"
//   secret key file:  "untrusted comment: minisign encrypted secret key\n" + base64(
//                     "Ed" kdf_alg[2] ("Sc" scrypt | "\0\0" none) chk_alg "B2" salt[32] opslimit[8 LE]
//                     memlimit[8 LE] keynum_sk[104] ) + "\n"; keynum_sk = keyid[8] sk[64] chk[32]
//                     (chk = BLAKE2b-256 of sigalg ‖ keyid ‖ sk), XOR-encrypted with scrypt output.
//   signature file:   four lines, see spec §5. Prehashed ("ED") = Ed25519 over BLAKE2b-512(message);
//                     global signature = Ed25519 over (signature[64] ‖ trusted comment text).
// Key ids: 8 bytes as stored; `key_id_hex` renders them as spec §2 says (little-endian u64 as 16
// upper-case hex digits) — the same text stock minisign prints.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/limits.hpp"

namespace airlock::minisign {

using KeyId = std::array<std::uint8_t, 8>;

std::string key_id_hex(const KeyId& id);  // e.g. "A1B2C3D4E5F60718"

struct PublicKey {
  KeyId key_id{};
  std::array<std::uint8_t, 32> pk{};
};

struct SecretKey {
  KeyId key_id{};
  std::array<std::uint8_t, 64> sk{};  // libsodium layout: seed ‖ public key
  PublicKey public_key() const;
};

// The base64 line alone ("RWQ..."), as it appears in trust.toml; ErrorClass::usage on failure.
[[nodiscard]] Result<PublicKey> parse_public_key_base64(std::string_view line);
// A whole .pub file (comment line + base64 line); ErrorClass::usage on failure.
[[nodiscard]] Result<PublicKey> parse_public_key_file(std::string_view contents);
std::string public_key_base64(const PublicKey& pk);
std::string format_public_key_file(const PublicKey& pk);

// Stock minisign reads at most PASSWORDMAXBYTES-1 bytes of password and stops at a NUL: a longer
// one would make a key file it cannot open.
inline constexpr std::size_t kMaxPasswordBytes = 1023;

// Asked only when the key file is encrypted. Returns the password or an error (e.g. no TTY).
using PasswordProvider = std::function<Result<std::string>()>;

// A whole secret key file, stock minisign's or ours, encrypted (scrypt) or not (-W).
// Wrong password -> ErrorClass::usage "wrong password for secret key '...'" (checksum mismatch).
[[nodiscard]] Result<SecretKey> parse_secret_key_file(std::string_view contents, const PasswordProvider& password);
// password == nullopt writes an unencrypted key (like `minisign -G -W`).
[[nodiscard]] Result<std::string> format_secret_key_file(const SecretKey& sk,
                                                         const std::optional<std::string>& password);
SecretKey generate_key();

struct Signature {
  std::array<std::uint8_t, 2> algorithm{};  // 'E','D' prehashed; 'E','d' legacy (refused by verify)
  KeyId key_id{};
  std::array<std::uint8_t, 64> signature{};
  std::string untrusted_comment;  // text after "untrusted comment: "
  std::string trusted_comment;    // text after "trusted comment: "
  std::array<std::uint8_t, 64> global_signature{};
};

// Defined with the other limits of the spec (core/limits.hpp).
using airlock::kMaxCommentBytes;
using airlock::kMaxSignatureFileBytes;

// Strict parse of a .minisig file (spec §5): exactly four '\n'-terminated lines (a final newline
// optional on the last line? no: minisign writes one; we accept it present or absent, nothing more),
// strict base64 with exact lengths, algorithm "ED" only, comments at most 1,024 bytes.
// Every fault is ErrorClass::not_authentic with a message naming it.
[[nodiscard]] Result<Signature> parse_signature(std::string_view contents);
std::string format_signature(const Signature& sig);

// Prehashed signature, as `minisign -S -H` / 0.11 default.
Signature sign(const SecretKey& sk, std::string_view message, std::string trusted_comment,
               std::string untrusted_comment = "signature from airlock secret key");

// Both checks: the key id matches, Ed25519 over BLAKE2b-512(message), and the global signature.
bool verify(const PublicKey& pk, const Signature& sig, std::string_view message);

}  // namespace airlock::minisign

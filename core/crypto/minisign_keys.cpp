// minisign 0.11 secret key files, and key generation.
//
// Layout (158 bytes, base64 on the second line), as src/minisign.h SeckeyStruct:
//   sig_alg "Ed" | kdf_alg "Sc" or 00 00 | chk_alg "B2" | salt[32] | opslimit u64le | memlimit u64le
//   | keynum_sk = keyid[8] sk[64] chk[32]
// Encrypted ("Sc"): chk = BLAKE2b-256(sig_alg ‖ keyid ‖ sk), then all of keynum_sk is XORed with
// scrypt(password, salt, opslimit, memlimit) — the key id too. A wrong password shows up only as a
// checksum mismatch.
// Unencrypted (`minisign -G -W`): kdf_alg 00 00 and every other field zero — salt, limits and
// also chk, which minisign neither writes nor checks for such keys. We write the same bytes, and
// on reading check chk only where it is non-zero (another tool may have filled it in).
// Both ways we also check that the secret key's public half matches its seed, which catches a
// corrupted unencrypted key that has no checksum to do so.
#include <sodium.h>

#include <cstring>
#include <vector>

#include "core/crypto/base64.hpp"
#include "core/crypto/crypto_init.hpp"
#include "core/crypto/minisign.hpp"
#include "core/crypto/minisign_internal.hpp"

namespace airlock::minisign {

namespace {

constexpr std::size_t kSaltBytes = crypto_pwhash_scryptsalsa208sha256_SALTBYTES;  // 32
constexpr std::size_t kKeynumSkBytes = 8 + 64 + 32;
constexpr std::size_t kSecretKeyBytes = 2 + 2 + 2 + kSaltBytes + 8 + 8 + kKeynumSkBytes;  // 158
constexpr std::string_view kSecretKeyComment = "untrusted comment: minisign encrypted secret key\n";

// Offsets into the 158-byte structure.
constexpr std::size_t kOffKdf = 2, kOffChkAlg = 4, kOffSalt = 6, kOffOps = 38, kOffMem = 46, kOffKeynum = 54;
constexpr std::size_t kOffSk = kOffKeynum + 8, kOffChk = kOffSk + 64;
static_assert(kOffChk + 32 == kSecretKeyBytes);

// Wipes a buffer holding key material when it goes out of scope, whatever the exit path.
struct Wipe {
  void* p;
  std::size_t n;
  ~Wipe() { sodium_memzero(p, n); }
};

void checksum(const std::uint8_t* raw, std::uint8_t out[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, raw, 2);               // sig_alg
  crypto_generichash_update(&st, raw + kOffKeynum, 8);  // keyid
  crypto_generichash_update(&st, raw + kOffSk, 64);     // sk
  crypto_generichash_final(&st, out, 32);
}

Status xor_with_scrypt(std::uint8_t* raw, const std::string& password) {
  std::uint8_t stream[kKeynumSkBytes];
  Wipe wipe{stream, sizeof stream};
  if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, password.data(), password.size(), raw + kOffSalt,
                                         le64_load(raw + kOffOps), le64_load(raw + kOffMem)) != 0)
    return fail(ErrorClass::io, "scrypt key derivation failed (out of memory?)");
  for (std::size_t i = 0; i < kKeynumSkBytes; ++i) raw[kOffKeynum + i] ^= stream[i];
  return {};
}

Status check_kdf_limits(const std::uint8_t* raw) {
  auto ops = le64_load(raw + kOffOps), mem = le64_load(raw + kOffMem);
  if (ops > kMaxKdfOpslimit || mem > kMaxKdfMemlimit)
    return fail(ErrorClass::usage, "secret key asks for scrypt opslimit " + std::to_string(ops) + " and memlimit " +
                                       std::to_string(mem) + ", over the limits " + std::to_string(kMaxKdfOpslimit) +
                                       " and " + std::to_string(kMaxKdfMemlimit));
  return {};
}

Status decrypt(std::uint8_t* raw, const PasswordProvider& password) {
  AIRLOCK_CHECK(check_kdf_limits(raw), "decrypting secret key");
  if (!password) return fail(ErrorClass::usage, "secret key is encrypted and no password source was given");
  AIRLOCK_TRY(std::string pw, password(), "asking for the secret key's password");
  Wipe wipe_pw{pw.data(), pw.size()};
  AIRLOCK_CHECK(xor_with_scrypt(raw, pw), "decrypting secret key");
  std::uint8_t chk[32];
  checksum(raw, chk);
  if (sodium_memcmp(chk, raw + kOffChk, 32) != 0)
    return fail(ErrorClass::usage, "wrong password for secret key (checksum mismatch)");
  return {};
}

Status check_unencrypted(const std::uint8_t* raw) {
  static const std::uint8_t zero[32] = {};
  if (std::memcmp(raw + kOffChk, zero, 32) == 0) return {};  // minisign -W leaves it zero
  std::uint8_t chk[32];
  checksum(raw, chk);
  if (sodium_memcmp(chk, raw + kOffChk, 32) != 0)
    return fail(ErrorClass::usage, "unencrypted secret key is corrupt (checksum mismatch)");
  return {};
}

Status check_key_pair(const std::uint8_t* sk) {
  std::uint8_t pk[32], sk2[64];
  Wipe wipe{sk2, sizeof sk2};
  crypto_sign_seed_keypair(pk, sk2, sk);
  if (std::memcmp(pk, sk + 32, 32) != 0)
    return fail(ErrorClass::usage, "secret key is corrupt: its public half does not match its seed");
  return {};
}

}  // namespace

PublicKey SecretKey::public_key() const {
  PublicKey pk;
  pk.key_id = key_id;
  std::memcpy(pk.pk.data(), sk.data() + 32, 32);
  return pk;
}

Result<SecretKey> parse_secret_key_file(std::string_view contents, const PasswordProvider& password) {
  crypto::ensure_sodium();
  AIRLOCK_TRY(auto b64, key_file_base64_line(contents, "secret key file"), "parsing secret key file");
  auto decoded = base64_decode_strict(b64);
  if (!decoded || decoded->size() != kSecretKeyBytes)
    return fail(ErrorClass::usage, "secret key file: the key line is not base64 of 158 bytes");
  std::uint8_t* raw = decoded->data();
  Wipe wipe{raw, decoded->size()};
  if (raw[0] != 'E' || raw[1] != 'd')
    return fail(ErrorClass::usage, "secret key file: unsupported signature algorithm (expected \"Ed\")");
  if (raw[kOffChkAlg] != 'B' || raw[kOffChkAlg + 1] != '2')
    return fail(ErrorClass::usage, "secret key file: unsupported checksum algorithm (expected \"B2\")");
  if (raw[kOffKdf] == 'S' && raw[kOffKdf + 1] == 'c') {
    AIRLOCK_CHECK(decrypt(raw, password), "secret key file");
  } else if (raw[kOffKdf] == 0 && raw[kOffKdf + 1] == 0) {
    AIRLOCK_CHECK(check_unencrypted(raw), "secret key file");
  } else {
    return fail(ErrorClass::usage, "secret key file: unsupported key derivation (expected \"Sc\" or none)");
  }
  AIRLOCK_CHECK(check_key_pair(raw + kOffSk), "secret key file");
  SecretKey sk;
  std::memcpy(sk.key_id.data(), raw + kOffKeynum, 8);
  std::memcpy(sk.sk.data(), raw + kOffSk, 64);
  return sk;
}

Result<std::string> format_secret_key_file_with_kdf(const SecretKey& sk, const std::string& password, KdfParams kdf) {
  crypto::ensure_sodium();
  if (password.size() > kMaxPasswordBytes || password.find('\0') != std::string::npos)
    return fail(ErrorClass::usage, "password must be at most " + std::to_string(kMaxPasswordBytes) +
                                       " bytes without NUL (stock minisign could not read the key otherwise)");
  std::uint8_t raw[kSecretKeyBytes] = {};
  Wipe wipe{raw, sizeof raw};
  raw[0] = 'E';
  raw[1] = 'd';
  raw[kOffKdf] = 'S';
  raw[kOffKdf + 1] = 'c';
  raw[kOffChkAlg] = 'B';
  raw[kOffChkAlg + 1] = '2';
  randombytes_buf(raw + kOffSalt, kSaltBytes);
  le64_store(raw + kOffOps, kdf.opslimit);
  le64_store(raw + kOffMem, kdf.memlimit);
  std::memcpy(raw + kOffKeynum, sk.key_id.data(), 8);
  std::memcpy(raw + kOffSk, sk.sk.data(), 64);
  checksum(raw, raw + kOffChk);
  AIRLOCK_CHECK(xor_with_scrypt(raw, password), "encrypting secret key");
  return std::string(kSecretKeyComment) + base64_encode(raw) + "\n";
}

Result<std::string> format_secret_key_file(const SecretKey& sk, const std::optional<std::string>& password) {
  if (password) return format_secret_key_file_with_kdf(sk, *password, kDefaultKdf);
  // Exactly what `minisign -G -W` writes: every field but the algorithm ids, key id and sk zero.
  std::uint8_t raw[kSecretKeyBytes] = {};
  Wipe wipe{raw, sizeof raw};
  raw[0] = 'E';
  raw[1] = 'd';
  raw[kOffChkAlg] = 'B';
  raw[kOffChkAlg + 1] = '2';
  std::memcpy(raw + kOffKeynum, sk.key_id.data(), 8);
  std::memcpy(raw + kOffSk, sk.sk.data(), 64);
  return std::string(kSecretKeyComment) + base64_encode(raw) + "\n";
}

SecretKey generate_key() {
  crypto::ensure_sodium();
  SecretKey sk;
  std::uint8_t pk[32];
  randombytes_buf(sk.key_id.data(), sk.key_id.size());
  crypto_sign_keypair(pk, sk.sk.data());
  return sk;
}

}  // namespace airlock::minisign

#include "core/crypto/password_hash.hpp"

#include <sodium.h>

#include <vector>

#include "core/crypto/crypto_init.hpp"
#include "core/crypto/hash.hpp"

namespace airlock::crypto {

Result<std::string> password_hash(std::string_view password) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return fail(ErrorClass::io, "hashing the password ran out of memory");
  return std::string(out);
}

bool password_matches(const std::string& stored, std::string_view password) {
  ensure_sodium();
  if (stored.empty() || stored.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

std::string random_hex(std::size_t bytes) {
  ensure_sodium();
  std::vector<std::uint8_t> b(bytes);
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

bool equal_secret(std::string_view a, std::string_view b) {
  ensure_sodium();
  return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace airlock::crypto

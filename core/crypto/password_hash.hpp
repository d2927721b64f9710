// Passwords of the local web page (`airlock ui passwd`, `airlock serve`): libsodium's
// crypto_pwhash_str (Argon2id, its own salt and cost parameters inside the string), and random
// tokens for sessions and CSRF. Only core/crypto includes libsodium.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace airlock::crypto {

// The stored form of crypto_pwhash_str ("$argon2id$v=19$m=...") for `password`, at libsodium's
// interactive cost (a login must answer in well under a second). ErrorClass::io when the
// machine lacks the memory.
[[nodiscard]] Result<std::string> password_hash(std::string_view password);
// True when `password` matches `stored` (crypto_pwhash_str_verify); false for any malformed
// `stored` too.
bool password_matches(const std::string& stored, std::string_view password);
// `bytes` random bytes from libsodium's generator, as lower-case hex.
std::string random_hex(std::size_t bytes);
// Equal contents, in a time that depends only on the lengths (sodium_memcmp).
bool equal_secret(std::string_view a, std::string_view b);

}  // namespace airlock::crypto

#include "core/crypto/crypto_init.hpp"

#include <sodium.h>

#include <cstdlib>

namespace airlock::crypto {

void ensure_sodium() {
  // sodium_init() fails only when no random source is available; nothing in airlock can be
  // trusted then (key generation, salts), so this is the one place a library gives up.
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

}  // namespace airlock::crypto

// libsodium must be initialised once before use (it picks CPU-specific implementations and seeds
// its RNG). Every core function that calls libsodium calls ensure_sodium() first; it is cheap after
// the first call (a function-local static, thread-safe by the C++ memory model).
#pragma once

namespace airlock::crypto {

void ensure_sodium();

}  // namespace airlock::crypto

// Streaming hashes: SHA-256 (OpenSSL EVP) for payload files and whole bundles, BLAKE2b-512
// (libsodium) for minisign's prehashed signatures. Hex helpers are lower-case.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace airlock {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Blake2b512Digest = std::array<std::uint8_t, 64>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, std::size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Sha256Digest finish();  // resets for reuse

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Blake2b512 {
 public:
  Blake2b512();
  ~Blake2b512();
  void update(const void* data, std::size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Blake2b512Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Sha256Digest sha256(std::string_view data);
std::string to_hex(std::span<const std::uint8_t> bytes);  // lower-case
// `bytes` bytes from libsodium's CSPRNG, in lower-case hex (tags and names, never keys).
std::string random_hex(std::size_t bytes);
// Strict: exactly 2*N lower-case hex digits.
std::optional<Sha256Digest> sha256_from_hex(std::string_view hex);
bool is_lower_hex(std::string_view s, std::size_t len);

}  // namespace airlock

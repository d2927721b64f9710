// SHA-256 through OpenSSL's EVP interface, BLAKE2b-512 through libsodium's crypto_generichash.
// Allocation failures surface as std::bad_alloc, as they would from operator new.
#include "core/crypto/hash.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <new>
#include <vector>

#include "core/crypto/crypto_init.hpp"

namespace airlock {

namespace {

// The one owner of an EVP_MD_CTX.
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;

void sha256_init(EVP_MD_CTX* c) {
  if (EVP_DigestInit_ex(c, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

}  // namespace

struct Sha256::Impl {
  EvpMdCtxPtr ctx;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx) throw std::bad_alloc();
  sha256_init(impl_->ctx.get());
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t len) {
  if (len == 0) return;
  // EVP_DigestUpdate fails only on a broken context, which the constructor rules out.
  EVP_DigestUpdate(impl_->ctx.get(), data, len);
}

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx.get(), d.data(), &n);
  sha256_init(impl_->ctx.get());
  return d;
}

// crypto_generichash_state is declared 64-byte aligned; C++17 aligned new honours that.
struct Blake2b512::Impl {
  crypto_generichash_state state;
};

Blake2b512::Blake2b512() : impl_(std::make_unique<Impl>()) {
  crypto::ensure_sodium();
  crypto_generichash_init(&impl_->state, nullptr, 0, crypto_generichash_BYTES_MAX);
}
Blake2b512::~Blake2b512() = default;

void Blake2b512::update(const void* data, std::size_t len) {
  crypto_generichash_update(&impl_->state, static_cast<const unsigned char*>(data), len);
}

Blake2b512Digest Blake2b512::finish() {
  static_assert(crypto_generichash_BYTES_MAX == 64);
  Blake2b512Digest d{};
  crypto_generichash_final(&impl_->state, d.data(), d.size());
  crypto_generichash_init(&impl_->state, nullptr, 0, crypto_generichash_BYTES_MAX);
  return d;
}

Sha256Digest sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return to_hex(buf);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool is_lower_hex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<Sha256Digest> sha256_from_hex(std::string_view hex) {
  Sha256Digest d{};
  if (!is_lower_hex(hex, d.size() * 2)) return std::nullopt;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  return d;
}

}  // namespace airlock

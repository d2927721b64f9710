// HashingSource: a Source decorator that hashes (SHA-256) and counts every compressed byte as it
// is read, so the verifier can report the whole bundle's digest without a second pass over it
// (the stick may change between reads: what was hashed is what was verified).
#pragma once

#include <cstdint>
#include <string>

#include "core/container.hpp"
#include "core/hash.hpp"

namespace airlock::verifier {

class HashingSource : public Source {
 public:
  explicit HashingSource(Source& inner) : inner_(inner) {}

  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override {
    auto n = inner_.read(buf, len);
    if (n && *n > 0) {
      sha_.update(buf, *n);
      bytes_ += *n;
    }
    return n;
  }
  std::string name() const override { return inner_.name(); }

  std::uint64_t bytes() const { return bytes_; }
  std::string hex_digest() { return to_hex(sha_.finish()); }

 private:
  Source& inner_;
  Sha256 sha_;
  std::uint64_t bytes_ = 0;
};

}  // namespace airlock::verifier

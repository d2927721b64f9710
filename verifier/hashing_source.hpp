// HashingSource: a Source decorator that counts, and when asked hashes (SHA-256), every compressed
// byte as it is read, so the verifier can report the whole bundle's digest without a second pass over it
// (the stick may change between reads: what was hashed is what was verified).
//
// The reading and hashing run on a thread of their own, a few 1 MiB chunks ahead of the
// decompressing thread: the bundle is still read once, in order, and every byte handed
// out was hashed first. Memory is bounded by kChunks × kChunkBytes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"

namespace airlock::verifier {

class HashingSource : public Source {
 public:
  static constexpr std::size_t kChunks = 4;
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

  // hash_parts (with hash): also each part's SHA-256 when `inner` is a split bundle.
  HashingSource(Source& inner, bool hash, bool hash_parts = false);
  ~HashingSource() override;
  HashingSource(const HashingSource&) = delete;
  HashingSource& operator=(const HashingSource&) = delete;

  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;
  // A whole chunk of the same size is swapped for `buf`, not copied.
  [[nodiscard]] Result<std::size_t> refill(ByteBuffer& buf) override;
  std::string name() const override { return name_; }

  // Valid once read() has returned 0 (the end of the input).
  std::uint64_t bytes();
  std::string hex_digest();  // empty unless constructed with hash = true
  // Each part's digest, in order (an empty part's too); empty unless hash_parts and split.
  std::vector<std::string> part_hex_digests();

 private:
  struct Chunk {
    ByteBuffer data;
    std::size_t len = 0;
    std::size_t pos = 0;  // consumer's position
    bool full = false;    // filled by the reader, not yet used up by the consumer
    bool end = false;     // the input ended here (len == 0)
    std::optional<Error> error;
  };
  void loop();
  void wait_reader_done();

  Source& inner_;
  std::string name_;
  std::vector<Chunk> chunks_;
  std::size_t produce_ = 0, consume_ = 0;  // chunk indexes (mod kChunks)
  std::mutex mu_;
  std::condition_variable filled_cv_, freed_cv_;
  bool stop_ = false;
  bool reader_done_ = false;
  Sha256 sha_;                    // reader thread only, until reader_done_
  std::vector<Sha256> part_sha_;  // likewise
  std::uint64_t bytes_ = 0;       // likewise
  bool hash_;
  std::thread thread_;
};

}  // namespace airlock::verifier

#include "verifier/hashing_source.hpp"

#include <algorithm>
#include <cstring>

namespace airlock::verifier {

HashingSource::HashingSource(Source& inner, bool hash, bool hash_parts)
    : inner_(inner), name_(inner.name()), chunks_(kChunks), hash_(hash) {
  if (hash && hash_parts) part_sha_.resize(inner.part_count());
  for (auto& c : chunks_) c.data.resize(kChunkBytes);
  thread_ = std::thread([this] { loop(); });
}

HashingSource::~HashingSource() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  freed_cv_.notify_all();
  thread_.join();
}

// Reader thread: fill the next free chunk, hash it, publish it; stop after the end or an error.
void HashingSource::loop() {
  for (;;) {
    Chunk* c = nullptr;
    {
      std::unique_lock lock(mu_);
      freed_cv_.wait(lock, [&] { return stop_ || !chunks_[produce_].full; });
      if (stop_) break;
      c = &chunks_[produce_];
    }
    // The chunk is ours until it is marked full: no lock while reading and hashing.
    auto n = inner_.read(c->data.data(), c->data.size());
    bool last = false;
    if (!n) {
      c->error = std::move(n).error();
      c->len = 0;
      last = true;
    } else {
      c->len = *n;
      c->end = *n == 0;
      last = c->end;
      if (*n > 0) {
        if (hash_) sha_.update(c->data.data(), *n);
        if (!part_sha_.empty()) part_sha_.at(inner_.part_index()).update(c->data.data(), *n);
        bytes_ += *n;
      }
    }
    {
      std::lock_guard lock(mu_);
      c->pos = 0;
      c->full = true;
      produce_ = (produce_ + 1) % kChunks;
      if (last) reader_done_ = true;
    }
    filled_cv_.notify_one();
    if (last) break;
  }
  std::lock_guard lock(mu_);
  reader_done_ = true;
  filled_cv_.notify_all();
}

Result<std::size_t> HashingSource::read(void* buf, std::size_t len) {
  std::unique_lock lock(mu_);
  filled_cv_.wait(lock, [&] { return chunks_[consume_].full; });
  Chunk& c = chunks_[consume_];
  lock.unlock();
  // An error or the end stays in place: every later read reports it again, as the inner source
  // would.
  if (c.error) return fail(*c.error);
  if (c.end || len == 0) return std::size_t{0};
  const std::size_t n = std::min(len, c.len - c.pos);
  std::memcpy(buf, c.data.data() + c.pos, n);
  c.pos += n;
  if (c.pos == c.len) {
    lock.lock();
    c.full = false;
    consume_ = (consume_ + 1) % kChunks;
    lock.unlock();
    freed_cv_.notify_one();
  }
  return n;
}

Result<std::size_t> HashingSource::refill(ByteBuffer& buf) {
  std::unique_lock lock(mu_);
  filled_cv_.wait(lock, [&] { return chunks_[consume_].full; });
  Chunk& c = chunks_[consume_];
  if (c.error || c.end || c.pos != 0 || buf.size() != c.data.size()) {
    lock.unlock();
    return read(buf.data(), buf.size());
  }
  // The consumer takes the filled vector; the reader thread fills the one it gave back.
  buf.swap(c.data);
  const std::size_t n = c.len;
  c.full = false;
  consume_ = (consume_ + 1) % kChunks;
  lock.unlock();
  freed_cv_.notify_one();
  return n;
}

void HashingSource::wait_reader_done() {
  std::unique_lock lock(mu_);
  filled_cv_.wait(lock, [&] { return reader_done_; });
}

std::uint64_t HashingSource::bytes() {
  wait_reader_done();
  return bytes_;
}

std::string HashingSource::hex_digest() {
  wait_reader_done();
  return hash_ ? to_hex(sha_.finish()) : std::string();
}

std::vector<std::string> HashingSource::part_hex_digests() {
  wait_reader_done();
  std::vector<std::string> out;
  for (auto& h : part_sha_) out.push_back(to_hex(h.finish()));
  return out;
}

}  // namespace airlock::verifier

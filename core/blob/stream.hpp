// Streaming building blocks for blobs: a pull `Reader` and small decorators that hash, limit and
// count what passes through them (Mender common/io.hpp, sha::Reader). A chain such as
//   FdReader file(fd, path); LimitReader cap(file, max, ...); HashingReader h(cap);
// reads a blob once, refuses one that is longer than its limit before reading past it, and proves
// its digest at the end. Digest texts are OCI's `sha256:<64 lower-case hex>`; nothing else is
// accepted (a blob store is addressed by these names, so a loose parser would be a path hazard).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto/hash.hpp"
#include "core/error.hpp"

namespace airlock::blob {

inline constexpr std::string_view kSha256Prefix = "sha256:";

// The 64 hex digits of a digest text, or nullopt when it is not `sha256:<64 lower-case hex>`.
std::optional<std::string> digest_hex(std::string_view digest);
std::string digest_text(const Sha256Digest& d);  // "sha256:<hex>"

class Reader {
 public:
  virtual ~Reader() = default;
  // Up to `len` bytes into `buf`; 0 only at the end of the stream.
  [[nodiscard]] virtual Result<std::size_t> read(void* buf, std::size_t len) = 0;
};

// A file descriptor it does not own; `name` goes into error messages.
class FdReader final : public Reader {
 public:
  FdReader(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;

 private:
  int fd_;
  std::string name_;
};

// Hashes every byte read through it. check() compares with an expected digest text: integrity
// (12) naming both digests when they differ.
class HashingReader final : public Reader {
 public:
  explicit HashingReader(Reader& in) : in_(in) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;
  // The digest of everything read so far (call once, at the end).
  std::string finish() { return digest_text(h_.finish()); }
  [[nodiscard]] Status check(std::string_view expected, const std::string& what);

 private:
  Reader& in_;
  Sha256 h_;
};

// Passes at most `limit` bytes; a stream that has more fails with `over` naming `what` and the
// limit, without handing the surplus on.
class LimitReader final : public Reader {
 public:
  LimitReader(Reader& in, std::uint64_t limit, ErrorClass over, std::string what)
      : in_(in), left_(limit), limit_(limit), over_(over), what_(std::move(what)) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;

 private:
  Reader& in_;
  std::uint64_t left_, limit_;
  ErrorClass over_;
  std::string what_;
};

class CountingReader final : public Reader {
 public:
  explicit CountingReader(Reader& in) : in_(in) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override;
  std::uint64_t count() const { return count_; }

 private:
  Reader& in_;
  std::uint64_t count_ = 0;
};

// Reads `in` to its end, handing each chunk to `sink`.
[[nodiscard]] Status copy(Reader& in, const std::function<Status(const void*, std::size_t)>& sink);

// The digest text of a whole file (io when unreadable).
[[nodiscard]] Result<std::string> file_digest(const std::string& path);

}  // namespace airlock::blob

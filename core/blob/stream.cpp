#include "core/blob/stream.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"

namespace airlock::blob {

namespace {
inline constexpr std::size_t kChunk = 1 << 20;
}

std::optional<std::string> digest_hex(std::string_view digest) {
  if (digest.substr(0, kSha256Prefix.size()) != kSha256Prefix) return std::nullopt;
  std::string_view hex = digest.substr(kSha256Prefix.size());
  if (!is_lower_hex(hex, 64)) return std::nullopt;
  return std::string(hex);
}

std::string digest_text(const Sha256Digest& d) { return std::string(kSha256Prefix) + to_hex(d); }

Result<std::size_t> FdReader::read(void* buf, std::size_t len) { return read_some(fd_, buf, len, name_); }

Result<std::size_t> HashingReader::read(void* buf, std::size_t len) {
  AIRLOCK_TRY(std::size_t n, in_.read(buf, len), "hashing");
  h_.update(buf, n);
  return n;
}

Status HashingReader::check(std::string_view expected, const std::string& what) {
  std::string got = finish();
  if (got != expected)
    return fail(ErrorClass::integrity, what + ": content has digest " + got + ", expected " + std::string(expected));
  return {};
}

Result<std::size_t> LimitReader::read(void* buf, std::size_t len) {
  if (left_ == 0) {
    // One byte past the limit decides between "exactly the limit" and "too long".
    unsigned char probe = 0;
    AIRLOCK_TRY(std::size_t n, in_.read(&probe, 1), what_);
    if (n != 0) return fail(over_, what_ + ": more than " + std::to_string(limit_) + " bytes");
    return std::size_t{0};
  }
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len, left_));
  AIRLOCK_TRY(std::size_t n, in_.read(buf, want), what_);
  left_ -= n;
  return n;
}

Result<std::size_t> CountingReader::read(void* buf, std::size_t len) {
  AIRLOCK_TRY(std::size_t n, in_.read(buf, len), "counting");
  count_ += n;
  return n;
}

Status copy(Reader& in, const std::function<Status(const void*, std::size_t)>& sink) {
  std::vector<unsigned char> buf(kChunk);
  for (;;) {
    AIRLOCK_TRY(std::size_t n, in.read(buf.data(), buf.size()), "copying");
    if (n == 0) return {};
    AIRLOCK_CHECK(sink(buf.data(), n), "copying");
  }
}

Result<std::string> file_digest(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  FdReader file(fd.get(), path);
  HashingReader h(file);
  AIRLOCK_CHECK(copy(h, [](const void*, std::size_t) -> Status { return {}; }), "hashing '" + path + "'");
  return h.finish();
}

}  // namespace airlock::blob

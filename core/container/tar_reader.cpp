// TarReader: walks the strict tar grammar of spec §1 over a ZstdReader. Header grammar lives in
// core/container/tar_header.cpp; this file is the state machine: header (+ optional pax header), data,
// zero padding, end marker, trailing zeros, end of stream.
//
// It never reads ahead of what the grammar needs (one block, or exactly the entry's data and
// padding), so after an entry's last byte the ZstdReader sits exactly behind its padding: `sign`
// relies on that to see where the signature frame ends.
#include <algorithm>
#include <array>
#include <vector>

#include "core/container/container.hpp"
#include "core/container/tar_header.hpp"

namespace airlock {

using detail::kTarBlock;

namespace {
enum class State { header, data, end, finished, failed };

constexpr std::size_t kScratchBytes = std::size_t{256} << 10;  // skip() and finish() read in these

std::uint64_t padding_of(std::uint64_t size) { return (kTarBlock - size % kTarBlock) % kTarBlock; }
}  // namespace

struct TarReader::Impl {
  ZstdReader& z;
  State state = State::header;
  std::uint64_t off = 0;
  std::uint64_t remaining = 0;
  std::uint64_t size = 0;
  std::string path;  // current entry, or the last one seen (names positions in errors)
  std::vector<unsigned char> scratch;

  explicit Impl(ZstdReader& zr) : z(zr) {}

  std::string after() const { return path.empty() ? " (before the first entry)" : " (after entry '" + path + "')"; }
  std::string block_where(std::uint64_t at) const { return "tar header at offset " + std::to_string(at) + after(); }

  // Reads until n bytes or the clean end of the zstd stream; returns the count.
  Result<std::size_t> read_exact(unsigned char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      auto r = z.read(buf + got, n - got);
      if (!r) return fail(r.error());
      if (*r == 0) break;
      got += *r;
    }
    off += got;
    return got;
  }

  // One header block; `what` says which one for the truncation message.
  Result<std::array<unsigned char, kTarBlock>> read_block(const std::string& what) {
    std::array<unsigned char, kTarBlock> b{};
    const std::uint64_t at = off;
    AIRLOCK_TRY(std::size_t got, read_exact(b.data(), b.size()), "reading " + block_where(at));
    if (got == 0 && what.empty())
      return fail(ErrorClass::malformed,
                  "stream ends before the end-of-archive marker, at offset " + std::to_string(at) + after());
    if (got < kTarBlock)
      return fail(ErrorClass::malformed, "stream ends inside " + (what.empty() ? "a tar header" : what) +
                                             " at offset " + std::to_string(at) + after());
    return b;
  }

  Status check_zero_bytes(std::uint64_t n, const std::string& what) {
    unsigned char buf[kTarBlock];
    AIRLOCK_TRY(std::size_t got, read_exact(buf, static_cast<std::size_t>(n)), "reading " + what);
    if (got < n) return fail(ErrorClass::malformed, "stream ends inside " + what);
    if (!std::all_of(buf, buf + n, [](unsigned char c) { return c == 0; }))
      return fail(ErrorClass::malformed, what + " is not zero bytes");
    return {};
  }

  // The optional pax header: its data (≤ 64 KiB) and padding, then its records.
  Result<detail::PaxRecords> read_pax(const detail::UstarHeader& x, std::uint64_t at) {
    const std::string where = "pax header at offset " + std::to_string(at) + after();
    if (x.size > kMaxPaxHeaderBytes)
      return fail(ErrorClass::malformed, where + ": " + std::to_string(x.size) + " bytes, over the limit of " +
                                             std::to_string(kMaxPaxHeaderBytes));
    std::string data(static_cast<std::size_t>(x.size), '\0');
    AIRLOCK_TRY(std::size_t got, read_exact(reinterpret_cast<unsigned char*>(data.data()), data.size()),
                "reading " + where);
    if (got < data.size()) return fail(ErrorClass::malformed, "stream ends inside the " + where);
    AIRLOCK_CHECK(check_zero_bytes(padding_of(x.size), "the padding of the " + where), "reading tar");
    return detail::parse_pax_records(data, where);
  }

  Result<std::optional<TarEntry>> next() {
    if (state == State::failed) return fail(ErrorClass::internal, "tar reader used after an error");
    if (state == State::end || state == State::finished) return std::optional<TarEntry>{};
    if (state == State::data && remaining > 0)
      return fail(ErrorClass::internal, "tar entry '" + path + "' was not read to its end");
    state = State::failed;  // until this header has been read completely
    const std::uint64_t entry_offset = off;
    AIRLOCK_TRY(auto block, read_block(""), "reading tar");
    if (detail::is_zero_block(block.data())) return end_marker(entry_offset);
    AIRLOCK_TRY(auto h, detail::parse_ustar_header(block.data(), block_where(entry_offset)), "reading tar");
    detail::PaxRecords pax;
    if (h.typeflag == 'x') {
      AIRLOCK_TRY(pax, read_pax(h, entry_offset), "reading tar");
      const std::uint64_t at = off;
      AIRLOCK_TRY(block, read_block("the file header after the pax header"), "reading tar");
      if (detail::is_zero_block(block.data()))
        return fail(ErrorClass::malformed, "pax header at offset " + std::to_string(entry_offset) + after() +
                                               " is not followed by a file entry");
      AIRLOCK_TRY(h, detail::parse_ustar_header(block.data(), block_where(at)), "reading tar");
      if (h.typeflag == 'x') return fail(ErrorClass::malformed, block_where(at) + ": two pax headers in a row");
    }
    AIRLOCK_TRY(size, effective_size(h, pax, entry_offset), "reading tar");
    path = pax.path ? *pax.path : h.path;
    remaining = size;
    state = State::data;
    return TarEntry{path, size, entry_offset};
  }

  // Spec §1: a pax size is authoritative; below 8 GiB it must equal the ustar size field, so that
  // a reader that ignores pax headers still finds the same entry end. From 8 GiB on the field's
  // value is ignored (its syntax was still checked: every numeric field is octal).
  Result<std::uint64_t> effective_size(const detail::UstarHeader& h, const detail::PaxRecords& pax, std::uint64_t at) {
    if (!pax.size) return h.size;
    if (*pax.size < detail::kUstarSizeLimit && *pax.size != h.size)
      return fail(ErrorClass::malformed, block_where(at) + ": pax size " + std::to_string(*pax.size) +
                                             " differs from the ustar size field " + std::to_string(h.size));
    return *pax.size;
  }

  Result<std::optional<TarEntry>> end_marker(std::uint64_t at) {
    AIRLOCK_TRY(auto second, read_block("the end-of-archive marker"), "reading tar");
    if (!detail::is_zero_block(second.data()))
      return fail(ErrorClass::malformed, "lone zero block at offset " + std::to_string(at) + after() +
                                             " (the end-of-archive marker is two zero blocks)");
    state = State::end;
    return std::optional<TarEntry>{};
  }

  // Reads the current entry's next bytes with `get` (a ZstdReader read of at most `want` bytes
  // that returns their count), then checks the padding as soon as the data ends, so that the
  // stream position is past the entry.
  template <typename Get>
  auto read_with(std::size_t want, Get get) -> decltype(get(want)) {
    if (state != State::data) return fail(ErrorClass::internal, "tar read() without a current entry");
    state = State::failed;
    auto r = get(static_cast<std::size_t>(std::min<std::uint64_t>(want, remaining)));
    if (!r) return fail(r.error().with_context("reading tar entry '" + path + "'"));
    const std::size_t n = count(*r);
    if (n == 0)
      return fail(ErrorClass::malformed, "stream ends inside tar entry '" + path + "' (" +
                                             std::to_string(size - remaining) + " of " + std::to_string(size) +
                                             " bytes)");
    off += n;
    remaining -= n;
    if (remaining == 0)
      AIRLOCK_CHECK(check_zero_bytes(padding_of(size), "the padding after entry '" + path + "'"), "reading tar");
    state = State::data;
    return r;
  }
  static std::size_t count(std::size_t n) { return n; }
  static std::size_t count(const ZstdReader::View& v) { return v.len; }

  Result<std::size_t> read(void* buf, std::size_t len) {
    if (state == State::data && (remaining == 0 || len == 0)) return std::size_t{0};
    return read_with(len, [&](std::size_t n) { return z.read(buf, n); });
  }

  Result<ZstdReader::View> read_view(std::size_t max) {
    if (state == State::data && (remaining == 0 || max == 0)) return ZstdReader::View{};
    return read_with(max, [&](std::size_t n) { return z.read_view(n); });
  }

  Status skip() {
    if (scratch.empty()) scratch.resize(kScratchBytes);
    for (;;) {
      AIRLOCK_TRY(std::size_t n, read(scratch.data(), scratch.size()), "skipping tar entry");
      if (n == 0) return {};
    }
  }

  // Spec §1: at most 1 MiB of zero bytes after the end marker, then the clean end of the stream.
  Status finish() {
    if (state == State::finished) return {};
    if (state != State::end) return fail(ErrorClass::internal, "tar finish() before the end-of-archive marker");
    state = State::failed;
    if (scratch.empty()) scratch.resize(kScratchBytes);
    const std::uint64_t marker_end = off;
    for (;;) {
      auto r = z.read(scratch.data(), scratch.size());
      if (!r) return fail(r.error().with_context("reading after the end-of-archive marker"));
      if (*r == 0) break;
      auto nz = std::find_if(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(*r),
                             [](unsigned char c) { return c != 0; });
      if (nz != scratch.begin() + static_cast<std::ptrdiff_t>(*r))
        return fail(ErrorClass::malformed, "non-zero byte at offset " +
                                               std::to_string(off + static_cast<std::uint64_t>(nz - scratch.begin())) +
                                               ", after the end-of-archive marker");
      off += *r;
      if (off - marker_end > kMaxTrailingZeroBytes)
        return fail(ErrorClass::malformed, "more than " + std::to_string(kMaxTrailingZeroBytes) +
                                               " zero bytes after the end-of-archive marker");
    }
    state = State::finished;
    return {};
  }
};

TarReader::TarReader(ZstdReader& z) : impl_(std::make_unique<Impl>(z)) {}
TarReader::~TarReader() = default;

Result<std::optional<TarEntry>> TarReader::next() { return impl_->next(); }
Result<std::size_t> TarReader::read(void* buf, std::size_t len) { return impl_->read(buf, len); }
Result<ZstdReader::View> TarReader::read_view(std::size_t max) { return impl_->read_view(max); }
Status TarReader::skip() { return impl_->skip(); }
Status TarReader::finish() { return impl_->finish(); }
std::uint64_t TarReader::offset() const { return impl_->off; }

}  // namespace airlock

// ZstdReader: strict decompression of concatenated zstd frames (spec §1).
//
// ZSTD_decompressStream alone is too lenient for the contract: it silently skips skippable frames
// and happily starts on whatever follows a frame. So every frame start is inspected here first
// (magic, ZSTD_getFrameHeader, window) before a byte of it goes to libzstd. Decompression writes
// straight into the caller's buffer, and a read never crosses a frame end, so that `sign` can tell
// exactly where the manifest and signature frames stop.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/container.hpp"
#include "core/zstd_handles.hpp"

namespace airlock {
namespace {

constexpr std::uint32_t kZstdMagic = 0xFD2FB528u;
constexpr std::uint32_t kSkippableMask = 0xFFFFFFF0u;
constexpr std::uint32_t kSkippableMagic = 0x184D2A50u;
constexpr std::size_t kInBufferBytes = 1u << 20;  // large reads: 1 MiB per source read

std::uint32_t load_le32(const unsigned char* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

}  // namespace

struct ZstdReader::Impl {
  Source& src;
  detail::DCtxPtr dctx;
  std::vector<unsigned char> in;
  std::size_t in_pos = 0, in_end = 0;
  std::uint64_t in_base = 0;  // source offset of in[0]
  bool src_eof = false;
  bool in_frame = false;
  bool clean_end = false;
  std::uint64_t frames = 0;
  std::uint64_t frame_start = 0;
  std::uint64_t frame_end_offset = 0;
  std::uint64_t produced = 0;
  bool at_frame_end = true;

  explicit Impl(Source& s) : src(s), in(std::max(kInBufferBytes, ZSTD_DStreamInSize())) {}

  std::uint64_t offset() const { return in_base + in_pos; }
  std::string where(std::uint64_t off) const { return src.name() + ": offset " + std::to_string(off); }

  // Reads once from the source into the free tail of `in` (compacting first). Returns bytes added.
  Result<std::size_t> refill() {
    if (in_pos > 0) {
      std::memmove(in.data(), in.data() + in_pos, in_end - in_pos);
      in_base += in_pos;
      in_end -= in_pos;
      in_pos = 0;
    }
    if (src_eof || in_end == in.size()) return std::size_t{0};
    // An empty buffer is handed over whole: a source may swap in one it has filled (no copy).
    auto n = in_end == 0 ? src.refill(in) : src.read(in.data() + in_end, in.size() - in_end);  // errors name the file
    if (!n) return fail(n.error());
    if (*n == 0) src_eof = true;
    in_end += *n;
    return *n;
  }

  Status ensure_context() {
    if (dctx) return {};
    dctx.reset(ZSTD_createDCtx());
    if (!dctx) return fail(ErrorClass::io, "out of memory creating a zstd decompression context");
    // Belt and braces: the header check below already refuses larger windows.
    std::size_t r = ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
    if (ZSTD_isError(r)) return fail(ErrorClass::internal, std::string("zstd windowLogMax: ") + ZSTD_getErrorName(r));
    return {};
  }

  // At a frame boundary: decides between the clean end of input and the start of a valid frame.
  // Returns false at the clean end.
  Result<bool> begin_frame() {
    while (in_end - in_pos < ZSTD_FRAMEHEADERSIZE_MAX && !src_eof) {
      auto n = refill();
      if (!n) return fail(n.error());
    }
    const std::size_t avail = in_end - in_pos;
    const unsigned char* p = in.data() + in_pos;
    if (avail == 0) {
      if (frames == 0) return fail(ErrorClass::malformed, src.name() + ": empty input, not a zstd stream");
      return false;
    }
    if (avail >= 4 && (load_le32(p) & kSkippableMask) == kSkippableMagic)
      return fail(ErrorClass::malformed, "skippable frame at offset " + std::to_string(offset()) + " of " + src.name() +
                                             " (skippable frames are not allowed)");
    if (avail < 4 || load_le32(p) != kZstdMagic) {
      static const unsigned char magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
      if (avail < 4 && std::memcmp(p, magic, avail) == 0)
        return fail(ErrorClass::malformed, "stream ends inside a zstd frame (truncated) at " + where(offset()));
      if (frames == 0) return fail(ErrorClass::malformed, src.name() + " is not a zstd stream (bad magic at offset 0)");
      return fail(ErrorClass::malformed, std::to_string(avail) + (src_eof ? "" : "+") +
                                             " trailing bytes after the last zstd frame at " + where(offset()) +
                                             " (not a zstd frame)");
    }
    ZSTD_frameHeader fh{};
    std::size_t r = ZSTD_getFrameHeader(&fh, p, avail);
    if (ZSTD_isError(r))
      return fail(ErrorClass::malformed,
                  std::string("invalid zstd frame header at ") + where(offset()) + ": " + ZSTD_getErrorName(r));
    if (r > 0) return fail(ErrorClass::malformed, "stream ends inside a zstd frame (truncated) at " + where(offset()));
    if (fh.frameType == ZSTD_skippableFrame)
      return fail(ErrorClass::malformed, "skippable frame at offset " + std::to_string(offset()) + " of " + src.name());
    if (fh.windowSize > kMaxFrameWindow)
      return fail(ErrorClass::malformed, "zstd frame at " + where(offset()) + " has a window of " +
                                             std::to_string(fh.windowSize) + " bytes, over the limit of " +
                                             std::to_string(kMaxFrameWindow) + " (2^27)");
    AIRLOCK_CHECK(ensure_context(), "starting a zstd frame");
    ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_only);
    in_frame = true;
    frame_start = offset();
    ++frames;
    return true;
  }

  // One ZSTD_decompressStream call on what is buffered; returns its hint (0 = frame complete).
  Result<std::size_t> step(ZSTD_outBuffer& out) {
    ZSTD_inBuffer input{in.data(), in_end, in_pos};
    std::size_t r = ZSTD_decompressStream(dctx.get(), &out, &input);
    in_pos = input.pos;
    if (ZSTD_isError(r))
      return fail(ErrorClass::malformed,
                  std::string("corrupt zstd frame starting at ") + where(frame_start) + ": " + ZSTD_getErrorName(r));
    if (r == 0) {
      in_frame = false;
      frame_end_offset = offset();
    }
    return r;
  }

  Result<std::size_t> read(void* buf, std::size_t len) {
    if (clean_end || len == 0) return std::size_t{0};
    ZSTD_outBuffer out{buf, len, 0};
    for (;;) {
      if (!in_frame) {
        auto more = begin_frame();  // its errors name the source and offset already
        if (!more) return fail(more.error());
        if (!*more) {
          clean_end = true;
          return std::size_t{0};
        }
      }
      if (in_pos == in_end) {
        auto n = refill();
        if (!n) return fail(n.error());
        if (*n == 0)
          return fail(ErrorClass::malformed, "stream ends inside a zstd frame (truncated): " + src.name() +
                                                 " ends at offset " + std::to_string(offset()) +
                                                 ", inside the frame starting at offset " +
                                                 std::to_string(frame_start));
      }
      auto r = step(out);
      if (!r) return fail(r.error());
      const std::size_t hint = *r;
      if (hint == 0 && out.pos == 0) continue;                // an empty frame: go on to the next one
      if (hint == 0 || out.pos == out.size) break;            // frame done, or the caller's buffer is full
      if (out.pos > 0 && in_pos == in_end && src_eof) break;  // hand out what we have; the next read reports
    }
    if (in_frame && out.pos == out.size) {
      auto s = probe_frame_end();
      if (!s) return fail(s.error());
    }
    produced += out.pos;
    at_frame_end = !in_frame;
    return out.pos;
  }

  // The caller's buffer ended exactly where the frame's data ends, but libzstd has not yet consumed
  // the frame's tail (last block header, checksum). Let it do so with no output space, so that
  // at_frame_end() is exact. Needs input; reading more from the source here is harmless.
  Status probe_frame_end() {
    for (int i = 0; i < 4 && in_frame; ++i) {
      if (in_pos == in_end) {
        auto n = refill();
        if (!n) return fail(n.error());
        if (*n == 0) return {};  // truncated: the next read reports it
      }
      ZSTD_outBuffer none{nullptr, 0, 0};
      auto r = step(none);
      if (!r) return fail(r.error());
      if (in_pos < in_end) return {};  // blocked on output: more data follows in this frame
    }
    return {};
  }
};

ZstdReader::ZstdReader(Source& src) : impl_(std::make_unique<Impl>(src)) {}
ZstdReader::~ZstdReader() = default;

Result<std::size_t> ZstdReader::read(void* buf, std::size_t len) { return impl_->read(buf, len); }
bool ZstdReader::at_frame_end() const { return impl_->at_frame_end; }
std::uint64_t ZstdReader::compressed_offset_of_frame_end() const { return impl_->frame_end_offset; }
std::uint64_t ZstdReader::decompressed_bytes() const { return impl_->produced; }

}  // namespace airlock

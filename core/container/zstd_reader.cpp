// ZstdReader: strict decompression of concatenated zstd frames (spec §1).
//
// ZSTD_decompressStream alone is too lenient for the contract: it silently skips skippable frames
// and happily starts on whatever follows a frame. So every frame start is inspected here first
// (magic, ZSTD_getFrameHeader, window) before a byte of it goes to libzstd. Decompression writes
// straight into the caller's buffer, and a read never crosses a frame end, so that `sign` can tell
// exactly where the manifest and signature frames stop.
//
// With an OrderedPool, a frame that is whole in the input buffer and decompresses to at
// most kBlockBytes (every payload frame our writer makes) is decompressed in one call, straight
// from the input buffer, on a pool thread, a few frames ahead of the reader, into a Block that
// read_view() hands out without a copy, tagged with the thread whose cache holds it. Any other frame is streamed here,
// on the calling thread, as without a pool, once the frames before it are used up. A frame that
// fails in one call is decompressed again by streaming, on the pool thread, to hand out exactly
// the bytes and the error that streaming would: the pool changes speed, never what is read.
//
// Frames that yield nothing are counted where they are handed out, in stream order, whichever way
// they were read (a streamed frame in step(), a pool frame in next_block()); one past
// kMaxEmptyFrames fails the stream there. A tiny pool frame is tried on this thread before it
// gets a job, so an empty one never costs one.
//
// With a pool, a source that is one regular file is mapped instead of read (Source::mapping(),
// core/sys/mapped_file.hpp): the input buffer is then the whole file, and every touch of it is under
// the SIGBUS guard. The bytes and the errors of a file that stays as it is are the same either
// way, except that a count of trailing bytes is given whenever it is exact, which with a mapping
// is always. A file that changes while it is read differs: a mapping keeps the size it had when
// mapped (bytes appended later are not read), and where a file that shrank reads as truncated
// (malformed), a mapping of it fails with an io error naming the file and both sizes.
//
// A split bundle's parts (spec §9) are mapped the same way, one part after the other
// (Source::next_mapping()): the input is then the current part's mapping, and a frame (or a frame
// header) that a part boundary cuts is copied, with at most kMaxFrameCopy bytes of the next part,
// into a bounce buffer that is the input until it is used up; the next part's mapping follows it.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "core/container/container.hpp"
#include "core/container/zstd_handles.hpp"
#include "core/sys/mapped_file.hpp"
#include "core/sys/ordered_pool.hpp"

namespace airlock {
namespace {

constexpr std::uint32_t kZstdMagic = 0xFD2FB528u;
constexpr std::uint32_t kSkippableMask = 0xFFFFFFF0u;
constexpr std::uint32_t kSkippableMagic = 0x184D2A50u;
constexpr std::size_t kInBufferBytes = 1u << 20;                         // large reads: 1 MiB per source read
constexpr std::size_t kBlockBytes = kWriterFrameBytes;                   // a Block's capacity
constexpr std::size_t kMaxFrameCopy = kBlockBytes + (kBlockBytes >> 4);  // compressed, for a frame to go to the pool
constexpr std::size_t kAhead = 3;           // frames decompressing or decompressed ahead of the reader
constexpr std::size_t kMaxBlocks = 8;       // Blocks in use at once: ahead + held by views + streaming
constexpr std::size_t kMapStep = 8u << 20;  // a mapped input is populated, and released, this much at a time
// A pool frame this small (compressed) is tried on the reading thread first, with no room for
// output: every natural form of an empty frame (9 to 17 bytes) is, and an empty frame then costs
// no pool job, while a frame with data fails the try at its first block.
constexpr std::size_t kTinyFrameBytes = 64;

std::uint32_t load_le32(const unsigned char* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

}  // namespace

// Decompressed bytes of one frame (or, when streaming, of part of one), and what became of it.
struct ZstdReader::Block {
  // The compressed frame (pool frames only): a span of the reader's input buffer (or of the
  // mapped file), kept alive until the reader takes the decompressed block.
  std::shared_ptr<const void> in_buf;
  const unsigned char* in = nullptr;
  std::size_t in_len = 0;
  const MappedFile* in_map = nullptr;  // when `in` lies in a mapping: it, and the offset of `in` in it
  std::uint64_t in_map_off = 0;
  UninitBuffer<char> out;
  std::size_t len = 0;
  int thread = OrderedPool::kAnyThread;
  bool done = false;
  bool held = false;  // its thread is held (OrderedPool::hold) until the block comes back
  bool ends_frame = false;
  std::uint64_t frame_start = 0, frame_end = 0;  // compressed offsets
  std::optional<Error> error;                    // after the `len` bytes, the stream fails with this
};

namespace {

// What the reader and its pool jobs share; it outlives the reader while a job still runs.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;  // a block is done, or one came back free
  std::vector<std::unique_ptr<ZstdReader::Block>> all;
  std::vector<ZstdReader::Block*> free;
  std::vector<detail::DCtxPtr> dctx;  // one per pool thread
  std::string src_name;
  OrderedPool* pool = nullptr;
};

// A SIGBUS met at `off` of the mapping `map` (null: of the input `name`), in words.
std::string unreadable_at(const MappedFile* map, std::uint64_t off, const std::string& name) {
  return map ? map->unreadable(off) : name + ": SIGBUS reading at offset " + std::to_string(off);
}

}  // namespace

struct ZstdReader::Impl {
  Source& src;
  detail::DCtxPtr dctx;
  // With a pool, a source that is one regular file is mapped, not read (mapped_file.hpp): the
  // whole file is then "in the buffer" from the start (in_end = its size, src_eof), and nothing
  // is ever read, compacted or copied. Pages are populated ahead of the reader and released
  // behind it, kMapStep at a time. A split bundle's parts: `map` is the current part's mapping
  // (null while a bounce buffer is the input), `next_map` the part the input continues with, of
  // which the first `next_pos` bytes are in the bounce buffer already.
  bool mapped = false;
  std::shared_ptr<MappedFile> map;
  std::uint64_t populated = 0, released = 0;  // offsets in `map`
  std::size_t parts_left = 0;                 // parts not mapped yet
  std::shared_ptr<MappedFile> next_map;
  std::size_t next_pos = 0;
  std::shared_ptr<ByteBuffer> spare_bounce;  // reused once no job and no input holds it
  // A SIGBUS cut libzstd short in the streaming context: it cannot go on, so every later read
  // fails the same way. (A fault anywhere else changes no state: a retry would meet it again.)
  std::optional<Error> unreadable;
  tl::unexpected<Error> broke(Error e) {
    unreadable = e;
    return tl::unexpected<Error>(std::move(e));
  }
  // The input buffer. Pool frames are decompressed straight from it, so while a pool job still
  // holds it, it is neither compacted nor swapped: what is left moves to a spare one instead.
  std::shared_ptr<ByteBuffer> inp;
  std::vector<std::shared_ptr<ByteBuffer>> spares;
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
  std::uint64_t frame_out = 0;     // bytes the current (streamed) frame has yielded so far
  std::uint64_t empty_frames = 0;  // frames that yielded nothing, counted in stream order

  // With a pool (see the top of this file).
  OrderedPool* pool = nullptr;
  std::shared_ptr<Shared> sh = std::make_shared<Shared>();
  std::deque<std::shared_ptr<Block>> ahead;  // pool frames, in stream order
  std::shared_ptr<Block> cur;                // the block being handed out
  std::size_t cur_pos = 0;
  bool ended = false;  // pump() met the clean end, or an error it queued behind `ahead`

  Impl(Source& s, OrderedPool* p)
      : src(s),
        inp(std::make_shared<ByteBuffer>(p ? 8 * kInBufferBytes : std::max(kInBufferBytes, ZSTD_DStreamInSize()))),
        pool(p) {
    sh->src_name = src.name();
    sh->pool = pool;
    if (pool) sh->dctx.resize(static_cast<std::size_t>(pool->size()));
    if (pool) map = src.mapping();
    if (map) {
      mapped = true;
      in_end = map->size();
      parts_left = src.part_count() > 1 ? src.part_count() - 1 : 0;
      src_eof = parts_left == 0;
    }
  }

  std::uint64_t offset() const { return in_base + in_pos; }
  std::string where(std::uint64_t off) const { return src.name() + ": offset " + std::to_string(off); }

  ByteBuffer& in() { return *inp; }
  const unsigned char* in_data() const { return map ? map->data() : inp->data(); }
  std::shared_ptr<const void> in_owner() const {
    if (map) return map;
    return inp;
  }

  // An input buffer no pool job holds, for what is left of the current one.
  std::shared_ptr<ByteBuffer> spare_input() {
    for (auto& b : spares)
      if (b != inp && b.use_count() == 1) return b;
    spares.push_back(std::make_shared<ByteBuffer>(inp->size()));
    return spares.back();
  }

  // Reads once from the source into the free tail of the input buffer (compacting first). Returns
  // bytes added.
  Result<std::size_t> refill() {
    if (mapped) return next_part();  // a whole file: all of it is there already
    const bool held = inp.use_count() > (std::find(spares.begin(), spares.end(), inp) != spares.end() ? 2 : 1);
    if (held && (in_pos > 0 || in_end == 0)) {
      auto fresh = spare_input();
      std::memcpy(fresh->data(), inp->data() + in_pos, in_end - in_pos);
      if (std::find(spares.begin(), spares.end(), inp) == spares.end()) spares.push_back(inp);
      inp = std::move(fresh);
      in_base += in_pos;
      in_end -= in_pos;
      in_pos = 0;
    } else if (in_pos > 0) {
      std::memmove(in().data(), in().data() + in_pos, in_end - in_pos);
      in_base += in_pos;
      in_end -= in_pos;
      in_pos = 0;
    }
    if (src_eof || in_end == in().size()) return std::size_t{0};
    // An empty buffer is handed over whole: a source may swap in one it has filled (no copy).
    auto n =
        in_end == 0 ? src.refill(in()) : src.read(in().data() + in_end, in().size() - in_end);  // errors name the file
    if (!n) return fail(n.error());
    if (*n == 0) src_eof = true;
    in_end += *n;
    return *n;
  }

  // A mapped split bundle, once what is left of the input does not hold what is needed: the next
  // part's mapping when what is left lies in it (a bounce buffer's tail), a bounce buffer with what
  // is left and the next part's first bytes otherwise. Returns bytes added (0 at the very end).
  Result<std::size_t> next_part() {
    if (src_eof) return std::size_t{0};
    if (!next_map) {
      AIRLOCK_TRY(next_map, src.next_mapping(), "reading ahead");
      if (!next_map) return fail(ErrorClass::io, src.name() + ": a part ended early (it changed while it was read)");
      next_pos = 0;
      --parts_left;
    }
    const std::size_t rest = in_end - in_pos;
    if (rest > next_pos) return bounce(rest);
    in_base += in_end - next_pos;
    map = std::move(next_map);
    in_pos = next_pos - rest;
    in_end = map->size();
    populated = released = in_pos;
    const std::size_t added = in_end - next_pos;
    next_pos = 0;
    src_eof = parts_left == 0;
    return added;
  }

  // A new input of the `rest` bytes left and up to kMaxFrameCopy of the next part's (a pool frame a
  // boundary cuts is then whole in it); pool jobs keep the old input while they use it.
  Result<std::size_t> bounce(std::size_t rest) {
    const std::size_t take = std::min(kMaxFrameCopy, next_map->size() - next_pos);
    const long holders = inp == spare_bounce ? 2 : 1;  // (the input keeps its last bounce buffer)
    if (!spare_bounce || !map || spare_bounce.use_count() > holders || spare_bounce->size() < rest + take)
      spare_bounce = std::make_shared<ByteBuffer>(std::max(rest + take, 2 * kMaxFrameCopy));
    auto b = spare_bounce;
    const unsigned char* from = in_data() + in_pos;
    auto copy_rest = [&] { std::memcpy(b->data(), from, rest); };
    if (!sigbus_guarded(copy_rest)) return fail(ErrorClass::io, unreadable_here());
    auto copy_next = [&] { std::memcpy(b->data() + rest, next_map->data() + next_pos, take); };
    if (!sigbus_guarded(copy_next)) return fail(ErrorClass::io, next_map->unreadable(next_pos));
    in_base += in_pos;
    in_pos = 0;
    in_end = rest + take;
    inp = std::move(b);
    map.reset();
    next_pos += take;
    if (next_pos == next_map->size()) {
      next_map.reset();
      src_eof = parts_left == 0;
    }
    return take;
  }

  // A SIGBUS met at the input's current position, in words.
  std::string unreadable_here() const { return unreadable_at(map.get(), map ? in_pos : offset(), src.name()); }

  Status ensure_context() {
    if (dctx) return {};
    dctx.reset(ZSTD_createDCtx());
    if (!dctx) return fail(ErrorClass::io, "out of memory creating a zstd decompression context");
    // Belt and braces: the header check below already refuses larger windows.
    std::size_t r = ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
    if (ZSTD_isError(r)) return fail(ErrorClass::internal, std::string("zstd windowLogMax: ") + ZSTD_getErrorName(r));
    return {};
  }

  // A mapped input: populates the next kMapStep past where frames are taken (so that a page that
  // cannot be read is an error here rather than a SIGBUS in libzstd), and releases what every
  // frame ahead is done with.
  Status follow_map() {
    if (!map) return {};
    const std::uint64_t here = in_pos;
    if (here + kMaxFrameCopy > populated && populated < map->size()) {
      const std::uint64_t from = std::max(populated, here);
      if (auto st = map->populate(from, kMapStep); !st) return fail(std::move(st).error());
      populated = from + kMapStep;
    }
    // (A frame ahead from an earlier part keeps nothing of this one.)
    const std::uint64_t first = ahead.empty() ? offset() : std::max(ahead.front()->frame_start, in_base);
    const std::uint64_t done = first - in_base;
    if (done >= released + kMapStep) {
      map->release_before(done);
      released = done;
    }
    return {};
  }

  // At a frame boundary: decides between the clean end of input and the start of a valid frame.
  // Returns false at the clean end.
  Result<bool> begin_frame() {
    while (in_end - in_pos < ZSTD_FRAMEHEADERSIZE_MAX && !src_eof) {
      auto n = refill();
      if (!n) return fail(n.error());
    }
    if (auto st = follow_map(); !st) return fail(std::move(st).error());
    const std::size_t avail = in_end - in_pos;
    // The frame header's bytes, copied out (from a mapping, under the SIGBUS guard).
    unsigned char head[ZSTD_FRAMEHEADERSIZE_MAX];
    const std::size_t head_len = std::min(avail, sizeof head);
    auto copy_head = [&] { std::memcpy(head, in_data() + in_pos, head_len); };
    if (!sigbus_guarded(copy_head)) return fail(ErrorClass::io, unreadable_here());
    const unsigned char* p = head;
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
      // (A count only when it is exact: what is buffered depends on the buffer's size.)
      return fail(ErrorClass::malformed,
                  (src_eof ? std::to_string(avail) + " trailing bytes" : std::string("trailing bytes")) +
                      " after the last zstd frame at " + where(offset()) + " (not a zstd frame)");
    }
    ZSTD_frameHeader fh{};
    std::size_t r = ZSTD_getFrameHeader(&fh, p, head_len);
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
    frame_out = 0;
    ++frames;
    return true;
  }

  // A frame starting at `start` ended without a byte: an error past kMaxEmptyFrames of them.
  std::optional<Error> empty_frame(std::uint64_t start) {
    if (++empty_frames <= kMaxEmptyFrames) return std::nullopt;
    return Error(ErrorClass::malformed, "the zstd frame at " + where(start) +
                                            " decompresses to nothing: over the limit of " +
                                            std::to_string(kMaxEmptyFrames) + " empty zstd frames in a stream");
  }

  // One ZSTD_decompressStream call on what is buffered; returns its hint (0 = frame complete).
  Result<std::size_t> step(ZSTD_outBuffer& out) {
    if (auto st = follow_map(); !st) return fail(std::move(st).error());  // a large frame: its windows too
    ZSTD_inBuffer input{in_data(), in_end, in_pos};
    const std::size_t out_before = out.pos;
    std::size_t r = 0;
    if (map) {
      auto call = [&] { r = ZSTD_decompressStream(dctx.get(), &out, &input); };
      if (!sigbus_guarded(call)) {
        return broke(Error(ErrorClass::io, map->unreadable(input.pos)));
      }
    } else {
      r = ZSTD_decompressStream(dctx.get(), &out, &input);
    }
    in_pos = input.pos;
    if (ZSTD_isError(r))
      return fail(ErrorClass::malformed,
                  std::string("corrupt zstd frame starting at ") + where(frame_start) + ": " + ZSTD_getErrorName(r));
    frame_out += out.pos - out_before;
    if (r == 0) {
      in_frame = false;
      frame_end_offset = offset();
      if (frame_out == 0)
        if (auto e = empty_frame(frame_start)) return fail(std::move(*e));
    }
    return r;
  }

  // Streams the next bytes of the current frame (or of the next one) into `buf`.
  Result<std::size_t> read_stream(void* buf, std::size_t len) {
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

  // A free block (there are at most kMaxBlocks); with `wait`, waits for one to come back.
  std::shared_ptr<Block> checkout(bool wait) {
    std::unique_lock lock(sh->mu);
    if (sh->free.empty() && sh->all.size() < kMaxBlocks) {
      sh->all.push_back(std::make_unique<Block>());
      sh->all.back()->out.resize(kBlockBytes);
      sh->free.push_back(sh->all.back().get());
    }
    if (sh->free.empty()) {
      if (!wait) return nullptr;
      sh->cv.wait(lock, [&] { return !sh->free.empty(); });
    }
    Block* b = sh->free.back();
    sh->free.pop_back();
    b->len = 0;
    b->in_buf.reset();
    b->in = nullptr;
    b->in_len = 0;
    b->in_map = nullptr;
    b->thread = OrderedPool::kAnyThread;
    b->done = false;
    b->ends_frame = false;
    b->error.reset();
    return std::shared_ptr<Block>(b, [keep = sh](Block* x) {
      if (x->held) {
        x->held = false;
        keep->pool->release(x->thread);
      }
      {
        std::lock_guard l(keep->mu);
        keep->free.push_back(x);
      }
      keep->cv.notify_all();
    });
  }

  // After begin_frame(): whether the whole frame is in the buffer (reading more if it may fit),
  // no longer than kMaxFrameCopy and decompresses to at most kBlockBytes. Its length in `csize`;
  // `empty` when it was tried here and decompresses, without error, to nothing.
  Result<bool> whole_small_frame(std::size_t& csize, bool& empty) {
    empty = false;
    for (;;) {
      // (No further than a pool frame can go: a mapped input holds the rest of the file.)
      const std::size_t avail = std::min(in_end - in_pos, kMaxFrameCopy);
      const unsigned char* p = in_data() + in_pos;
      std::size_t n = 0;
      unsigned long long bound = 0;
      auto sizes = [&] {
        n = ZSTD_findFrameCompressedSize(p, avail);
        if (ZSTD_isError(n)) return;
        bound = ZSTD_decompressBound(p, n);
        if (bound == 0 || n <= kTinyFrameBytes) {
          char none = 0;  // (a one-shot call between frames: the stream's state is reset at the next)
          empty = ZSTD_decompressDCtx(dctx.get(), &none, 0, p, n) == 0;
        }
      };
      if (!sigbus_guarded(sizes)) return fail(ErrorClass::io, unreadable_here());
      if (!ZSTD_isError(n)) {  // (n <= avail <= kMaxFrameCopy)
        if (bound == ZSTD_CONTENTSIZE_ERROR || bound > kBlockBytes) return false;
        csize = n;
        return true;
      }
      // Not whole yet, or corrupt (streaming will then say how).
      if (avail >= kMaxFrameCopy || src_eof) return false;
      AIRLOCK_TRY(std::size_t got, refill(), "reading ahead");
      if (got == 0) return false;
    }
  }

  // Decompresses a pool frame on pool thread `me`: in one call, or, if that fails, by streaming
  // (the bytes before the fault, then the error read_stream() would give).
  static void decode(Shared& sh, Block& b, int me) {
    auto& d = sh.dctx[static_cast<std::size_t>(me)];
    if (!d) d.reset(ZSTD_createDCtx());
    if (!d) {
      b.error = Error(ErrorClass::io, "out of memory creating a zstd decompression context");
    } else {
      // Only libzstd calls in here: it may be cut short by a SIGBUS on a mapped input.
      std::size_t r = 0, bad = 0;
      ZSTD_outBuffer out{b.out.data(), 0, 0};
      auto work = [&] {
        r = ZSTD_decompressDCtx(d.get(), b.out.data(), b.out.size(), b.in, b.in_len);
        if (!ZSTD_isError(r)) {
          out.pos = r;
          return;
        }
        ZSTD_DCtx_reset(d.get(), ZSTD_reset_session_and_parameters);
        ZSTD_DCtx_setParameter(d.get(), ZSTD_d_windowLogMax, 27);
        // The first call sees only the frame header: given the whole frame and room for it, libzstd
        // would decode it in one pass again and hand out nothing before the fault. Output room is
        // given 64 KiB at a time, as a streaming reader's reads would: a call that fails does not
        // count what it wrote.
        ZSTD_inBuffer input{b.in, std::min<std::size_t>(b.in_len, ZSTD_FRAMEHEADERSIZE_MAX), 0};
        for (;;) {
          out.size = std::min(b.out.size(), out.pos + (std::size_t{64} << 10));
          const std::size_t st = ZSTD_decompressStream(d.get(), &out, &input);
          input.size = b.in_len;
          if (ZSTD_isError(st)) {
            bad = st;
            break;
          }
          if (st == 0) break;  // streaming takes what one call refused: so do we
          if (out.pos == b.out.size() ||
              (input.pos == input.size && out.pos < out.size)) {  // not for a whole, bounded frame
            bad = r;
            break;
          }
        }
        ZSTD_DCtx_reset(d.get(), ZSTD_reset_session_and_parameters);
      };
      if (!sigbus_guarded(work)) {
        ZSTD_DCtx_reset(d.get(), ZSTD_reset_session_and_parameters);
        b.len = 0;
        b.error = Error(ErrorClass::io, unreadable_at(b.in_map, b.in_map_off, sh.src_name));
      } else {
        b.len = out.pos;
        if (bad != 0)
          b.error = Error(ErrorClass::malformed, "corrupt zstd frame starting at " + sh.src_name + ": offset " +
                                                     std::to_string(b.frame_start) + ": " + ZSTD_getErrorName(bad));
      }
    }
    b.thread = me;
    b.held = true;
    sh.pool->hold(me);
    {
      std::lock_guard lock(sh.mu);
      b.done = true;
    }
    sh.cv.notify_all();
  }

  // Hands frames to the pool while fewer than kAhead are ahead; stops at a frame to stream here,
  // at the clean end, at an error (queued as a block, so it comes after the frames before it), or
  // when every block is in use (with `wait`, it first waits for one if none is ahead).
  void pump(bool wait = false) {
    while (pool && !ended && !in_frame && ahead.size() < kAhead) {
      auto b = checkout(wait && ahead.empty());
      if (!b) return;
      auto more = begin_frame();
      std::size_t csize = 0;
      bool empty = false;
      Result<bool> small = false;
      if (more && *more) small = whole_small_frame(csize, empty);
      if (!more || !small) {
        b->error = !more ? more.error() : small.error();
        b->done = true;
        ahead.push_back(std::move(b));
        ended = true;
        return;
      }
      if (!*more) {
        ended = true;
        return;
      }
      if (!*small) return;  // in_frame: read_stream() takes it once the frames ahead are used up
      if (!empty) {
        b->in_buf = in_owner();
        b->in = in_data() + in_pos;
        b->in_len = csize;
        b->in_map = map.get();
        b->in_map_off = in_pos;
      }
      b->frame_start = frame_start;
      in_pos += csize;
      in_frame = false;
      b->frame_end = frame_end_offset = offset();
      b->ends_frame = true;
      if (empty)
        b->done = true;  // no job: next_block() counts it, in stream order
      else
        pool->spawn([keep = sh, b](int me) { decode(*keep, *b, me); });
      ahead.push_back(std::move(b));
    }
  }

  // Makes `cur` a block with bytes to hand out. False: stream the next bytes with read_stream()
  // (the next frame is not for the pool, or the stream ended). An error a block carries is
  // returned once its bytes are used up, and again on every later call.
  Result<bool> next_block() {
    for (;;) {
      if (cur) {
        if (cur_pos < cur->len) return true;
        if (cur->error) return fail(*cur->error);
        cur.reset();
      }
      if (ahead.empty() && !in_frame) pump(/*wait=*/true);
      if (ahead.empty()) {
        if (ended) clean_end = true;  // read_stream() then returns 0
        return false;
      }
      {
        std::unique_lock lock(sh->mu);
        Block* b = ahead.front().get();
        sh->cv.wait(lock, [&] { return b->done; });
      }
      cur = std::move(ahead.front());
      cur_pos = 0;
      ahead.pop_front();
      // Its input may be reused now. Only this thread touches in_buf, so that the input buffer's
      // use count (refill()) changes here alone, after the job's last read (seen through `done`).
      cur->in_buf.reset();
      cur->in = nullptr;
      if (cur->len == 0 && !cur->error && cur->ends_frame) cur->error = empty_frame(cur->frame_start);
      pump();
    }
  }

  Result<std::size_t> read(void* buf, std::size_t len) {
    if (unreadable) return fail(*unreadable);
    if (!pool) return read_stream(buf, len);
    if (len == 0) return std::size_t{0};
    auto have = next_block();  // its errors are the stream's own, in read_stream()'s words
    if (!have) return fail(have.error());
    if (!*have) return read_stream(buf, len);
    const std::size_t n = std::min(len, cur->len - cur_pos);
    std::memcpy(buf, cur->out.data() + cur_pos, n);
    cur_pos += n;
    produced += n;
    at_frame_end = cur_pos == cur->len && cur->ends_frame;
    return n;
  }

  Result<View> read_view(std::size_t max) {
    if (unreadable) return fail(*unreadable);
    max = std::min(max, kBlockBytes);
    if (max == 0) return View{};
    auto have = next_block();
    if (!have) return fail(have.error());
    if (!*have) {
      auto b = checkout(true);
      auto got = read_stream(b->out.data(), max);
      if (!got) return fail(got.error());
      const std::size_t n = *got;
      if (n == 0) return View{};
      b->len = n;
      b->ends_frame = !in_frame;
      produced -= n;  // counted again below
      cur = std::move(b);
      cur_pos = 0;
    }
    const std::size_t n = std::min(max, cur->len - cur_pos);
    View v{cur->out.data() + cur_pos, n, cur, cur->thread};
    cur_pos += n;
    produced += n;
    at_frame_end = cur_pos == cur->len && cur->ends_frame;
    return v;
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

ZstdReader::ZstdReader(Source& src, OrderedPool* pool) : impl_(std::make_unique<Impl>(src, pool)) {}
ZstdReader::~ZstdReader() = default;

Result<std::size_t> ZstdReader::read(void* buf, std::size_t len) { return impl_->read(buf, len); }
Result<ZstdReader::View> ZstdReader::read_view(std::size_t max) { return impl_->read_view(max); }
bool ZstdReader::at_frame_end() const { return impl_->at_frame_end; }
std::uint64_t ZstdReader::compressed_offset_of_frame_end() const { return impl_->frame_end_offset; }
std::uint64_t ZstdReader::decompressed_bytes() const { return impl_->produced; }
std::uint64_t ZstdReader::input_bytes() const { return impl_->in_base + impl_->in_end; }

}  // namespace airlock

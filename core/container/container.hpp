// The bundle container of spec §1: concatenated zstd frames whose decompressed bytes are a strict
// ustar/pax tar archive. Reading is our own strict code (libzstd's frame-header API + our tar
// header parser) because libarchive's reader is lenient; writing tar headers goes through
// libarchive, compression through libzstd.
//
// Reading stack:  Source (file or .partNNNN sequence)  ->  ZstdReader  ->  TarReader
// Writing stack:  TarWriter -> ByteSink (e.g. ZstdFrameWriter -> fd)
//
// Every grammar fault is ErrorClass::malformed (10) naming the entry and the rule; I/O faults
// are ErrorClass::io (3).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"

namespace airlock {

// Frames that decompress to nothing. Spec §1 allows them, and a writer that ends a frame where it
// has nothing left to flush makes a few. Each still costs a frame header's parse for no byte, so
// that a small file of nothing but empty frames (9 bytes each) could keep a verifier busy, the
// site locked, before any signature is checked. Past this many the stream is malformed.
inline constexpr std::uint64_t kMaxEmptyFrames = 1024;
inline constexpr int kWriterWindowLog = 23;  // writers: the level's own window, at most 8 MiB
inline constexpr std::size_t kWriterFrameBytes = std::size_t{1} << 20;  // our payload frames' decompressed size

// ---------------------------------------------------------------------------------------------
// A buffer whose bytes start undefined (new T[n], not a vector): the reader's large buffers (an
// 8 MiB input, 1 MiB blocks) cost no page until first written. (Zeroing them touched 22 MiB for
// every verify: 14 ms for a 2 KiB bundle, against 5 ms without.)
template <typename T>
class UninitBuffer {
 public:
  UninitBuffer() = default;
  explicit UninitBuffer(std::size_t n) : p_(n ? new T[n] : nullptr), n_(n) {}
  UninitBuffer(UninitBuffer&& o) noexcept : p_(std::move(o.p_)), n_(std::exchange(o.n_, 0)) {}
  UninitBuffer& operator=(UninitBuffer&& o) noexcept {
    p_ = std::move(o.p_);
    n_ = std::exchange(o.n_, 0);
    return *this;
  }
  T* data() { return p_.get(); }
  const T* data() const { return p_.get(); }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  // Keeps the first min(size(), n) elements, like a vector's, but always in new memory (data()
  // changes, even when shrinking).
  void resize(std::size_t n) {
    if (n == n_) return;
    UninitBuffer fresh(n);
    if (n_ && n) std::copy_n(p_.get(), std::min(n, n_), fresh.p_.get());
    swap(fresh);
  }
  void swap(UninitBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }

 private:
  std::unique_ptr<T[]> p_;
  std::size_t n_ = 0;
};
using ByteBuffer = UninitBuffer<unsigned char>;

// ---------------------------------------------------------------------------------------------
// Sources of compressed bytes.
class MappedFile;
class Source {
 public:
  virtual ~Source() = default;
  // Bytes read, 0 at end of input.
  [[nodiscard]] virtual Result<std::size_t> read(void* buf, std::size_t len) = 0;
  virtual std::string name() const = 0;
  // Fills the whole of `buf` (whose bytes the caller no longer needs) from the start, as read()
  // would; a source that already holds the next bytes in a buffer of the same size may swap it
  // for `buf` instead of copying (HashingSource does). Bytes read, 0 at end of input.
  [[nodiscard]] virtual Result<std::size_t> refill(ByteBuffer& buf) { return read(buf.data(), buf.size()); }
  // The whole source mapped into memory, when it is one regular file that can be (a reader with
  // a pool then decompresses straight from it instead of calling read()); null otherwise.
  virtual std::shared_ptr<MappedFile> mapping() { return nullptr; }
  // After mapping() gave the first part of a split bundle (spec §9), the parts after it, mapped
  // one at a time in order: null after the last. A part that can no longer be opened or mapped is
  // an io error naming it.
  [[nodiscard]] virtual Result<std::shared_ptr<MappedFile>> next_mapping() { return std::shared_ptr<MappedFile>{}; }
  // A split bundle (spec §9): how many parts it has, and the part (from 0) the bytes of the last
  // read() that returned any came from. 0 for a source that is not split.
  virtual std::size_t part_count() const { return 0; }
  virtual std::size_t part_index() const { return 0; }
};

// Opens `path`; when it does not exist but `path.part0001` does, the parts in order (spec §9),
// read as one stream; a gap in their numbers is an io error naming the missing part. Reads
// sequentially (posix_fadvise SEQUENTIAL). A pipe, FIFO or device is never waited for
// uninterruptibly: while it has no bytes, `stop` (when given; it may be called from another
// thread than the opener's) is checked every 100 ms, and once it returns true the read fails
// (io) with kSourceStoppedMessage.
[[nodiscard]] Result<std::unique_ptr<Source>> open_source(const std::string& path, std::function<bool()> stop = {});
// `path`.partNNNN, four digits from 0001 (spec §9).
std::string part_name(const std::string& path, unsigned index);
inline constexpr const char* kSourceStoppedMessage = "stopped while waiting for input";
// In-memory source (tests, fuzzing).
std::unique_ptr<Source> memory_source(std::string bytes, std::string name = "<memory>");

// ---------------------------------------------------------------------------------------------
// Decompresses one or more zstd frames. Refuses (malformed): a skippable frame, a frame window
// over kMaxFrameWindow, bytes after the last frame that are not a zstd frame, a stream that ends
// inside a frame. read() returns 0 only at a clean end of input after a complete frame. A read()
// never crosses the end of a frame, so a reader that asks for exactly the bytes it needs (as
// TarReader does) can tell where frames end. Errors name the compressed offset.
class OrderedPool;

class ZstdReader {
 public:
  // Decompressed bytes that stay valid while `hold` is kept, and the OrderedPool thread that
  // decompressed them (its cache holds them), or OrderedPool::kAnyThread.
  struct View {
    const char* data = nullptr;
    std::size_t len = 0;  // 0: the clean end of the stream
    std::shared_ptr<const void> hold;
    int thread = -1;
  };
  struct Block;

  // With a pool, frames that fit a block are decompressed ahead on its threads (zstd_reader.cpp);
  // what read() and read_view() return does not depend on it.
  explicit ZstdReader(Source& src, OrderedPool* pool = nullptr);
  ~ZstdReader();
  ZstdReader(const ZstdReader&) = delete;
  ZstdReader& operator=(const ZstdReader&) = delete;

  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len);
  // Like read(), without copying: at most `max` bytes (1 MiB at most), never crossing a frame end.
  [[nodiscard]] Result<View> read_view(std::size_t max);
  // True when every decompressed byte handed out so far ends exactly at the end of a frame
  // (used by `sign` to find where the payload frames begin).
  bool at_frame_end() const;
  // Compressed bytes consumed from the source up to the end of the last completed frame.
  std::uint64_t compressed_offset_of_frame_end() const;
  std::uint64_t decompressed_bytes() const;
  // Compressed bytes taken from the source so far (read, or mapped: all of a mapped file).
  std::uint64_t input_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
struct TarEntry {
  std::string path;          // effective path (pax `path` if given, else ustar prefix/name)
  std::uint64_t size = 0;    // effective size
  std::uint64_t offset = 0;  // decompressed offset of the entry's first header block
};

// Strict tar reader (spec §1): magic "ustar\0" + "00", checksum, octal fields, typeflag '0'
// (one optional preceding 'x' header with only the allowed keys), zero padding, end marker.
class TarReader {
 public:
  explicit TarReader(ZstdReader& z);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry's header; nullopt at the end-of-archive marker (two zero blocks). The previous
  // entry's data must have been read to its end (else ErrorClass::internal).
  [[nodiscard]] Result<std::optional<TarEntry>> next();
  // Reads the current entry's data; 0 at its end (then its zero padding has been checked).
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len);
  // Like read(), without copying (ZstdReader::read_view); len 0 at the entry's end.
  [[nodiscard]] Result<ZstdReader::View> read_view(std::size_t max);
  // Reads the current entry to its end, discarding the bytes (entries `inspect` does not need);
  // the padding is checked as in read().
  [[nodiscard]] Status skip();
  // After next() returned nullopt: at most kMaxTrailingZeroBytes zero bytes, then the clean end of
  // the zstd stream. Anything else is malformed.
  [[nodiscard]] Status finish();
  // Decompressed offset just past the current entry's data and padding (valid after read() hit 0).
  std::uint64_t offset() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// One zstd frame (RFC 8878 §3.1.1) holding `content` in raw (stored) blocks of at most 128 KiB:
// window 128 KiB, no content size, no checksum. Its length depends on content.size() alone
// (zstd_raw_frame_size), which lets the bundler reserve the head of a bundle before the hashes
// it holds are known and write the payload frames straight behind it.
std::string zstd_raw_frame(std::string_view content);
std::size_t zstd_raw_frame_size(std::size_t content_size);

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  [[nodiscard]] virtual Status write(const void* data, std::size_t len) = 0;
};

struct ZstdWriterOptions {
  int level = 3;
  // Compression threads; values below 1 mean 1. Output bytes do not depend on it.
  int workers = 0;
};

// Compresses into zstd frames written to `fd`: one frame per kWriterFrameBytes of input, each
// compressed on its own (window: the level's own, at most 2^kWriterWindowLog; checksum on; content
// size written), on `workers` threads, written in order. end_frame() also closes the current
// frame (an empty one if the writer has written none yet) and writes out every frame; the next
// write starts a new one.
class ZstdFrameWriter : public ByteSink {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ZstdFrameWriter>> create(int fd, std::string path_for_errors,
                                                                       ZstdWriterOptions opts);
  ~ZstdFrameWriter() override;
  [[nodiscard]] Status write(const void* data, std::size_t len) override;
  [[nodiscard]] Status end_frame();
  std::uint64_t compressed_bytes() const;

 private:
  ZstdFrameWriter();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TarFileHeader {
  std::string path;
  std::uint64_t size = 0;
  bool executable = false;  // mode 0755, else 0644
  std::int64_t mtime = 0;   // whole seconds UTC
};

// Writes tar entries (via libarchive, pax-restricted: plain ustar unless a pax header is needed)
// to the current sink; uid/gid 0, empty uname/gname. The sink may be switched between entries
// (manifest and signatures go to their own frames).
class TarWriter {
 public:
  [[nodiscard]] static Result<std::unique_ptr<TarWriter>> create(ByteSink* sink);
  ~TarWriter();
  void set_sink(ByteSink* sink);
  [[nodiscard]] Status begin_entry(const TarFileHeader& h);
  [[nodiscard]] Status write_data(const void* data, std::size_t len);
  [[nodiscard]] Status end_entry();  // checks exactly h.size bytes were written, pads to 512
  // Writes the end-of-archive marker (two zero blocks) and nothing else.
  [[nodiscard]] Status finish();

 private:
  TarWriter();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace airlock

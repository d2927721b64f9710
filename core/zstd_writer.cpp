// ZstdFrameWriter: streams bytes into zstd frames on an fd (spec §1: window ≤ 8 MiB, checksum on,
// no content size, one frame per end_frame()).
//
// Reproducibility: libzstd's single-threaded output differs from its multi-threaded output, but
// the multi-threaded output is the same for every nbWorkers ≥ 1 (jobs are cut at a fixed job
// size, not per thread). So this writer always runs libzstd in multi-threaded mode, with at least
// one worker, whatever `workers` says: the bytes depend on the level and the input only
// (tests/core/zstd_writer_test.cpp checks 1, 2 and 3 workers give identical bytes).
#include <algorithm>
#include <vector>

#include "core/container.hpp"
#include "core/fs.hpp"
#include "core/zstd_handles.hpp"

namespace airlock {

struct ZstdFrameWriter::Impl {
  int fd = -1;
  std::string path;
  detail::CCtxPtr cctx;
  std::vector<unsigned char> out;
  std::size_t out_pos = 0;
  std::uint64_t written = 0;

  Status flush_out() {
    if (out_pos == 0) return {};
    AIRLOCK_CHECK(write_all(fd, out.data(), out_pos, path), "writing compressed bundle");
    written += out_pos;
    out_pos = 0;
    return {};
  }

  // Runs ZSTD_compressStream2 until `in` is consumed (continue) or the frame is closed (end),
  // writing the output buffer whenever it fills.
  Status compress(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
    for (;;) {
      ZSTD_outBuffer o{out.data(), out.size(), out_pos};
      std::size_t r = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      out_pos = o.pos;
      if (ZSTD_isError(r))
        return fail(ErrorClass::internal, "zstd compression of '" + path + "': " + ZSTD_getErrorName(r));
      if (out_pos == out.size()) AIRLOCK_CHECK(flush_out(), "compressing");
      const bool done = mode == ZSTD_e_end ? r == 0 : in.pos == in.size;
      if (done) return {};
    }
  }
};

ZstdFrameWriter::ZstdFrameWriter() : impl_(std::make_unique<Impl>()) {}
ZstdFrameWriter::~ZstdFrameWriter() = default;

namespace {
constexpr int kJobBytes = 4 << 20;

// The level's own window for an input of unknown size (512 KiB to 2 MiB at levels 1-5), capped at the
// contract's 2^kWriterWindowLog. Forcing 8 MiB at every level cost ~8% more compression time at
// level 3 and, with 4 MiB jobs, gave slightly larger output (1 GiB bench payload: 668.76 MB at
// 2^23, 668.61 MB at 2^21).
int window_log(int level) {
  const unsigned own = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0).windowLog;
  return static_cast<int>(std::min<unsigned>(own, kWriterWindowLog));
}

Status set_param(ZSTD_CCtx* c, ZSTD_cParameter p, int value, const char* what) {
  std::size_t r = ZSTD_CCtx_setParameter(c, p, value);
  if (ZSTD_isError(r))
    return fail(ErrorClass::internal,
                std::string("zstd parameter ") + what + "=" + std::to_string(value) + ": " + ZSTD_getErrorName(r));
  return {};
}
}  // namespace

Result<std::unique_ptr<ZstdFrameWriter>> ZstdFrameWriter::create(int fd, std::string path_for_errors,
                                                                 ZstdWriterOptions opts) {
  std::unique_ptr<ZstdFrameWriter> w(new ZstdFrameWriter());
  Impl& m = *w->impl_;
  m.fd = fd;
  m.path = std::move(path_for_errors);
  m.cctx.reset(ZSTD_createCCtx());
  if (!m.cctx) return fail(ErrorClass::io, "out of memory creating a zstd compression context");
  ZSTD_CCtx* c = m.cctx.get();
  const int workers = std::max(1, opts.workers);  // see the top of this file
  AIRLOCK_CHECK(set_param(c, ZSTD_c_compressionLevel, opts.level, "level"), "setting up compression");
  AIRLOCK_CHECK(set_param(c, ZSTD_c_windowLog, window_log(opts.level), "windowLog"), "setting up compression");
  AIRLOCK_CHECK(set_param(c, ZSTD_c_checksumFlag, 1, "checksumFlag"), "setting up compression");
  // Never write a content size: a reader must not be tempted to allocate from it.
  AIRLOCK_CHECK(set_param(c, ZSTD_c_contentSizeFlag, 0, "contentSizeFlag"), "setting up compression");
  AIRLOCK_CHECK(set_param(c, ZSTD_c_nbWorkers, workers, "nbWorkers"), "setting up compression");
  // Memory: libzstd's default job is 4 windows (32 MiB), and it keeps about nbWorkers + 3 jobs'
  // input and output buffers, which made a 2-worker build peak at ~150 MiB. 4 MiB jobs keep the
  // whole writer near 25 MiB for any payload size, at the same speed; the job size is fixed
  // here (never derived from the worker count), so the bytes still do not depend on nbWorkers.
  AIRLOCK_CHECK(set_param(c, ZSTD_c_jobSize, kJobBytes, "jobSize"), "setting up compression");
  // Large output chunks keep write(2) calls few.
  m.out.resize(std::max<std::size_t>(ZSTD_CStreamOutSize(), std::size_t{1} << 20));
  return w;
}

Status ZstdFrameWriter::write(const void* data, std::size_t len) {
  ZSTD_inBuffer in{data, len, 0};
  if (len == 0) return {};
  return impl_->compress(in, ZSTD_e_continue);
}

Status ZstdFrameWriter::end_frame() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  AIRLOCK_CHECK(impl_->compress(in, ZSTD_e_end), "closing a zstd frame");
  return impl_->flush_out();
}

std::uint64_t ZstdFrameWriter::compressed_bytes() const { return impl_->written + impl_->out_pos; }

}  // namespace airlock

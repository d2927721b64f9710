// RAII owners of libzstd's contexts, declared once (private to core's container code).
// Only core/container/zstd_reader.cpp and core/container/zstd_writer.cpp include libzstd.
#pragma once

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader, ZSTD_frameHeader
#include <zstd.h>

#include <memory>

namespace airlock::detail {

struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
using DCtxPtr = std::unique_ptr<ZSTD_DCtx, DCtxFree>;
using CCtxPtr = std::unique_ptr<ZSTD_CCtx, CCtxFree>;

}  // namespace airlock::detail

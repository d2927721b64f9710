#include "bench/bench_data.hpp"

#include <zstd.h>

#include <cstdio>
#include <random>
#include <stdexcept>

namespace airlock::bench {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<char>(v >> (8 * k));
  }
  return out;
}

std::string log_text(std::size_t n, unsigned seed) {
  static const char* const kSvc[] = {"ingest", "query", "export", "audit", "scheduler", "gateway"};
  static const char* const kVerb[] = {"GET", "POST", "PUT", "DELETE"};
  std::mt19937 rng(seed);
  auto u = [&](unsigned bound) { return static_cast<unsigned>(rng() % bound); };
  std::string out;
  out.reserve(n + 256);
  char line[256];
  while (out.size() < n) {
    int len = std::snprintf(line, sizeof line,
                            "2026-01-%02uT%02u:%02u:%02u.%03uZ node-%03u svc=%s %s /api/v1/items/%u req=%08x "
                            "latency_ms=%u status=%u\n",
                            u(28) + 1, u(24), u(60), u(60), u(1000), u(200), kSvc[u(6)], kVerb[u(4)], u(100000),
                            static_cast<unsigned>(rng()), u(900), u(100) < 95 ? 200u : 503u);
    out.append(line, static_cast<std::size_t>(len));
  }
  out.resize(n);
  return out;
}

std::string mixed(std::size_t n) { return random_bytes(n / 2, 1) + log_text(n - n / 2, 2); }

std::string zstd_frames(const std::string& plain, std::size_t frame_bytes) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 23);
  std::string out;
  for (std::size_t off = 0; off < plain.size() || off == 0; off += frame_bytes) {
    std::size_t len = std::min(frame_bytes, plain.size() - off);
    std::string frame(ZSTD_compressBound(len), '\0');
    std::size_t got = ZSTD_compress2(c, frame.data(), frame.size(), plain.data() + off, len);
    if (ZSTD_isError(got)) {
      ZSTD_freeCCtx(c);
      throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(got));
    }
    out.append(frame.data(), got);
    if (plain.empty()) break;
  }
  ZSTD_freeCCtx(c);
  return out;
}

}  // namespace airlock::bench

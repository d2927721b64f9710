// The reading stack of a bundle (core/container/container.hpp) without disk: ZstdReader alone, then
// TarReader on top of it, over an in-memory source of a mixed payload (half incompressible, half
// log text); then the verifier's pipeline stage: airlock's own 1 MiB frames decompressed on a
// two-thread OrderedPool, without and with every byte hashed by a HashWorker on the thread that
// decompressed it. Bytes/s are decompressed bytes.
#include <benchmark/benchmark.h>

#include <stdexcept>
#include <vector>

#include "bench/bench_data.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/sys/ordered_pool.hpp"
#include "verifier/hash_worker.hpp"

namespace {

using airlock::bench::mixed;
using airlock::bench::zstd_frames;

constexpr std::size_t kPayload = 32u << 20;
constexpr std::size_t kReadBuf = 1u << 20;

template <typename T>
T ok(airlock::Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message());
  return std::move(*r);
}
void ok(const airlock::Status& s) {
  if (!s) throw std::runtime_error(s.error().message());
}

// Collects what TarWriter produces, to compress it afterwards.
class StringSink : public airlock::ByteSink {
 public:
  airlock::Status write(const void* data, std::size_t len) override {
    bytes.append(static_cast<const char*>(data), len);
    return {};
  }
  std::string bytes;
};

const std::string& compressed_plain() {
  static const std::string c = zstd_frames(mixed(kPayload));
  return c;
}

// A tar of `files` entries that together hold kPayload bytes, zstd-compressed.
std::string compressed_tar(int files) {
  const std::string data = mixed(kPayload);
  StringSink sink;
  auto w = ok(airlock::TarWriter::create(&sink));
  std::size_t per = data.size() / static_cast<std::size_t>(files);
  for (int i = 0; i < files; ++i) {
    std::size_t off = per * static_cast<std::size_t>(i);
    std::size_t len = i + 1 == files ? data.size() - off : per;
    airlock::TarFileHeader h;
    h.path = "payload/file-" + std::to_string(i) + ".bin";
    h.size = len;
    ok(w->begin_entry(h));
    ok(w->write_data(data.data() + off, len));
    ok(w->end_entry());
  }
  ok(w->finish());
  return zstd_frames(sink.bytes);
}

void BM_ZstdReader(benchmark::State& state) {
  const std::string& c = compressed_plain();
  std::vector<char> buf(kReadBuf);
  std::uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();  // memory_source takes its bytes by value: copy outside the clock
    auto src = airlock::memory_source(c);
    state.ResumeTiming();
    airlock::ZstdReader z(*src);
    while (std::size_t n = ok(z.read(buf.data(), buf.size()))) total += n;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_ZstdReader)->Unit(benchmark::kMillisecond);

const std::string& compressed_1mib_frames() {
  static const std::string c = zstd_frames(mixed(kPayload), airlock::kWriterFrameBytes);
  return c;
}

// Arg 0: decompress only; 1: and hash every byte (HashWorker, one file), as verify does.
void BM_ZstdReaderPool(benchmark::State& state) {
  const std::string& c = compressed_1mib_frames();
  const bool hash = state.range(0) != 0;
  static const std::string digest = airlock::to_hex(airlock::sha256(mixed(kPayload)));
  std::uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto src = airlock::memory_source(c);
    state.ResumeTiming();
    airlock::OrderedPool pool(2);
    airlock::ZstdReader z(*src, &pool);
    airlock::verifier::HashWorker w(pool);
    if (hash) w.begin("payload", digest, std::nullopt);
    for (;;) {
      auto v = ok(z.read_view(airlock::verifier::HashWorker::kChunkBytes));
      if (v.len == 0) break;
      total += v.len;
      if (hash) w.submit(std::move(v));
    }
    if (hash) w.end();
    ok(w.drain());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_ZstdReaderPool)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arg: number of tar entries over the same 32 MiB (per-entry cost shows as the count grows).
void BM_TarReader(benchmark::State& state) {
  const std::string c = compressed_tar(static_cast<int>(state.range(0)));
  std::vector<char> buf(kReadBuf);
  std::uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto src = airlock::memory_source(c);
    state.ResumeTiming();
    airlock::ZstdReader z(*src);
    airlock::TarReader t(z);
    while (ok(t.next())) {
      while (std::size_t n = ok(t.read(buf.data(), buf.size()))) total += n;
    }
    ok(t.finish());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_TarReader)->Arg(1)->Arg(320)->Arg(4096)->Unit(benchmark::kMillisecond);

}  // namespace

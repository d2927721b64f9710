// The reading stack of a bundle (core/container.hpp) without disk or hashing: ZstdReader alone,
// then TarReader on top of it, over an in-memory source of a mixed payload (half incompressible,
// half log text). Bytes/s are decompressed bytes.
#include <benchmark/benchmark.h>

#include <stdexcept>
#include <vector>

#include "bench/bench_data.hpp"
#include "core/container.hpp"

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

// Hashing throughput on 1 MiB buffers: SHA-256 (OpenSSL EVP; SHA-NI where the CPU has it) is what
// the verifier pays per payload byte; BLAKE2b-512 (libsodium) is minisign's prehash.
#include <benchmark/benchmark.h>

#include "bench/bench_data.hpp"
#include "core/crypto/hash.hpp"

namespace {

constexpr std::size_t kBuf = 1 << 20;

void BM_Sha256_1MiB(benchmark::State& state) {
  const std::string buf = airlock::bench::random_bytes(kBuf, 7);
  airlock::Sha256 h;
  for (auto _ : state) h.update(buf.data(), buf.size());
  benchmark::DoNotOptimize(h.finish());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBuf);
}
BENCHMARK(BM_Sha256_1MiB);

void BM_Blake2b512_1MiB(benchmark::State& state) {
  const std::string buf = airlock::bench::random_bytes(kBuf, 8);
  airlock::Blake2b512 h;
  for (auto _ : state) h.update(buf.data(), buf.size());
  benchmark::DoNotOptimize(h.finish());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBuf);
}
BENCHMARK(BM_Blake2b512_1MiB);

// The small-update case: a reader handing the hash 64 KiB at a time.
void BM_Sha256_64KiB_updates(benchmark::State& state) {
  const std::string buf = airlock::bench::random_bytes(kBuf, 9);
  airlock::Sha256 h;
  for (auto _ : state)
    for (std::size_t off = 0; off < buf.size(); off += 64 * 1024) h.update(buf.data() + off, 64 * 1024);
  benchmark::DoNotOptimize(h.finish());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBuf);
}
BENCHMARK(BM_Sha256_64KiB_updates);

// SHA-256 over a working set of the given size, 1 MiB per update: shows how much hashing depends
// on where the data sits (docs/performance.md: a chunk another core just wrote hashes at about
// the out-of-cache rate, which is what bounds verify-only on this machine).
void BM_Sha256_working_set(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::string buf = airlock::bench::random_bytes(size, 10);
  airlock::Sha256 h;
  std::size_t off = 0;
  for (auto _ : state) {
    h.update(buf.data() + off, kBuf);
    off = (off + kBuf) % size;
  }
  benchmark::DoNotOptimize(h.finish());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBuf);
}
BENCHMARK(BM_Sha256_working_set)->RangeMultiplier(4)->Range(1 << 20, 64 << 20);

}  // namespace

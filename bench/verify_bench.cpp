// The whole verifier (spec §7: signature, manifest, every SHA-256, end of stream) on a small bundle
// that bundler::build makes at start-up from a generated payload; verify-only and with staging.
// Bytes/s are payload bytes. The files live in a temporary folder removed at exit.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bench/bench_data.hpp"
#include "bundler/bundler.hpp"
#include "core/crypto/minisign.hpp"
#include "core/model/trust.hpp"
#include "verifier/verifier.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPayload = 32u << 20;
constexpr int kFiles = 64;

void spit(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Builds the bundle once; the destructor removes the folder.
struct Fixture {
  fs::path dir;
  fs::path bundle;
  airlock::TrustRoot trust;

  Fixture() {
    std::string tmpl = (fs::path(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") / "airlock-bench.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    dir = tmpl;
    const std::string data = airlock::bench::mixed(kPayload);
    std::size_t per = data.size() / kFiles;
    for (int i = 0; i < kFiles; ++i) {
      std::size_t off = per * static_cast<std::size_t>(i);
      spit(dir / "payload" / ("f" + std::to_string(1000 + i)), data.substr(off, i + 1 == kFiles ? std::string::npos : per));
    }
    spit(dir / "notes/en.md", "# bench\n");
    spit(dir / "recipe.toml",
         "[release]\nproduct = \"bench\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T00:00:00Z\n\n"
         "[[notes]]\nlang = \"en\"\npath = \"notes/en.md\"\n\n[[files]]\nfrom = \"payload\"\nto = \"payload\"\n");
    auto sk = airlock::minisign::generate_key();
    airlock::bundler::BuildRequest req;
    req.recipe_path = (dir / "recipe.toml").string();
    req.keys.push_back(sk);
    bundle = dir / "bench.tar.zst";
    req.out_path = bundle.string();
    auto r = airlock::bundler::build(req);
    if (!r) throw std::runtime_error("bundler::build: " + r.error().message());
    airlock::TrustKey k;
    k.name = "bench";
    k.key = sk.public_key();
    trust.keys.push_back(k);
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void run_verify(benchmark::State& state, bool extract) {
  Fixture* fp = nullptr;
  try {
    fp = &fixture();
  } catch (const std::exception& e) {  // e.g. the bundler refuses: report, do not abort the others
    state.SkipWithError(e.what());
    return;
  }
  Fixture& f = *fp;
  for (auto _ : state) {
    airlock::verifier::Request req;
    req.bundle_path = f.bundle.string();
    req.trust = f.trust;
    if (extract) {
      state.PauseTiming();
      fs::remove_all(f.dir / "stage");
      state.ResumeTiming();
      req.staging_dir = (f.dir / "stage").string();
    }
    auto r = airlock::verifier::verify(req);
    if (!r) {
      state.SkipWithError(("verify: " + r.error().message()).c_str());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(kPayload));
}

void BM_Verify(benchmark::State& state) { run_verify(state, false); }
void BM_VerifyExtract(benchmark::State& state) { run_verify(state, true); }
BENCHMARK(BM_Verify)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyExtract)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

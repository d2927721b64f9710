// The verifier past the signature gate: the input is "<manifest.toml>" kSplit "<tar bytes>"; the
// harness signs the manifest with its own key and builds the bundle (manifest frame, signature
// frame, then the fuzzed tar bytes as the payload frame), so every mutation of the manifest reaches
// manifest parsing, policy and the payload checks instead of dying at the signature. Staged run
// only; the same staging properties as bundle_fuzz.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fuzz/harness.hpp"
#include "tests/support/craft.hpp"
#include "verifier/verifier.hpp"

using namespace airlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemFile file;
  static fuzz::ScratchDir scratch;
  static const test::craft::Key key{"fuzz-harness", fuzz::harness_key()};
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto cut = in.find(fuzz::kSplit);
  const std::string manifest(in.substr(0, cut));
  const std::string payload(cut == std::string_view::npos ? std::string_view() : in.substr(cut + fuzz::kSplit.size()));

  std::string bundle = test::craft::zstd_frame(test::craft::tar_entry(test::craft::file_entry("manifest.toml", manifest)), 1);
  bundle += test::craft::zstd_frame(test::craft::tar_entry(test::craft::signature_entry(key, manifest)), 1);
  bundle += test::craft::zstd_frame(payload, 1);
  file.assign(bundle);

  verifier::Request req;
  req.bundle_path = file.path();
  req.trust = fuzz::harness_trust();
  req.policy.at = fuzz::harness_time();
  const auto stage = scratch.next();
  req.staging_dir = stage;
  const auto r = verifier::verify(req);
  static const bool verbose = std::getenv("AIRLOCK_FUZZ_VERBOSE") != nullptr;  // seed checks
  if (verbose) std::fprintf(stderr, "bundle_signed_fuzz: %s\n", r ? "verified" : r.error().what().c_str());
  if (!r) {
    if (!fuzz::ScratchDir::absent_or_empty(stage))
      fuzz::property_failed("a failed verify left files in staging", r.error().what());
    if (r.error().cls() == ErrorClass::internal)
      fuzz::property_failed("verify reported an internal error", r.error().what());
  } else {
    for (const auto& f : r->manifest.files) {
      std::error_code ec;
      if (std::filesystem::file_size(stage + "/" + f.path, ec) != f.size || ec)
        fuzz::property_failed("a verified file is missing from staging or has the wrong size", f.path);
    }
  }
  scratch.remove(stage);
  return 0;
}

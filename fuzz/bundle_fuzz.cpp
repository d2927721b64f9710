// The verifier end to end (spec §7) over the input as a bundle file, trusted key = the harness's,
// so seeds built and signed by corpus_gen reach the payload stage. Each input is verified twice:
// verify-only, then into a fresh staging folder. Properties checked:
//  - both runs agree on success (staging must not accept what verify-only refuses, nor refuse
//    what it accepts, except for I/O of the staging folder itself);
//  - a failed run leaves nothing in staging (verifier.hpp: "On failure nothing stays");
//  - a successful run staged every [[files]] entry with its declared size.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fuzz/harness.hpp"
#include "verifier/verifier.hpp"

using namespace airlock;

namespace {

void check_staged(const Manifest& m, const std::string& stage) {
  for (const auto& f : m.files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(stage + "/" + f.path, ec);
    if (ec || size != f.size)
      fuzz::property_failed("a verified file is missing from staging or has the wrong size", f.path);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemFile file;
  static fuzz::ScratchDir scratch;
  file.assign(std::string_view(reinterpret_cast<const char*>(data), size));

  verifier::Request req;
  req.bundle_path = file.path();
  req.trust = fuzz::harness_trust();
  req.policy.at = fuzz::harness_time();
  const auto plain = verifier::verify(req);
  if (!plain && plain.error().cls() == ErrorClass::internal)
    fuzz::property_failed("verify-only reported an internal error", plain.error().what());

  const auto stage = scratch.next();
  req.staging_dir = stage;
  const auto staged = verifier::verify(req);
  static const bool verbose = std::getenv("AIRLOCK_FUZZ_VERBOSE") != nullptr;  // seed checks
  if (verbose) std::fprintf(stderr, "bundle_fuzz: %s\n", staged ? "verified" : staged.error().what().c_str());
  if (!staged) {
    if (!fuzz::ScratchDir::absent_or_empty(stage))
      fuzz::property_failed("a failed verify left files in staging", staged.error().what());
    if (staged.error().cls() == ErrorClass::internal)
      fuzz::property_failed("staged verify reported an internal error", staged.error().what());
  } else {
    check_staged(staged->manifest, stage);
  }
  if (plain.has_value() != staged.has_value())
    fuzz::property_failed("verify-only and staged verify disagree",
                          std::string("verify-only: ") + (plain ? "ok" : plain.error().what()) +
                              "\nstaged: " + (staged ? "ok" : staged.error().what()));
  if (!plain && plain.error().cls() != staged.error().cls())
    fuzz::property_failed("verify-only and staged verify fail with different classes",
                          plain.error().what() + "\n" + staged.error().what());
  scratch.remove(stage);
  return 0;
}

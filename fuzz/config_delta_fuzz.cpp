// Config deltas: parse_config_patch, then apply_config_patch on a fixed operator file and, when the
// input holds kSplit, on the target that follows it. Properties: failures carry the documented
// classes (malformed for the patch; policy or usage when applying) and applying is idempotent —
// applying the patch again to its own output gives the same TOML tree (or a policy refusal, when
// a [require] guards a key the patch itself changes).
#include <string>

#include "core/model/config_delta.hpp"
#include "core/toml_util.hpp"  // toml::parse, to compare trees: the one place toml++ is included
#include "fuzz/harness.hpp"

using namespace airlock;

namespace {

constexpr std::string_view kFixedTarget = R"(# topology of the demo site
mode = "safe"
workers = 4

[cache]
size_mb = 256
hosts = ["a", "b"]   # inline comment

[db.pool]
max = 10
timeout = { connect = 5, idle = 60 }
)";

void apply_and_check(std::string_view target, const ConfigPatch& patch) {
  auto out = apply_config_patch(target, patch);
  if (!out) {
    const auto c = out.error().cls();
    if (c != ErrorClass::policy && c != ErrorClass::usage && c != ErrorClass::preflight)
      fuzz::property_failed("apply_config_patch failed with a class other than policy/usage/preflight",
                            out.error().what());
    return;
  }
  auto again = apply_config_patch(*out, patch);
  if (!again) {
    if (again.error().cls() != ErrorClass::policy)
      fuzz::property_failed("re-applying a patch to its own output failed", again.error().what() + "\n---\n" + *out);
    return;
  }
  if (out->find("nan") != std::string::npos) return;  // nan != nan: trees cannot be compared
  try {
    const auto a = toml::parse(*out);
    const auto b = toml::parse(*again);
    if (a != b) fuzz::property_failed("applying a patch twice changed the tree", *out + "\n---\n" + *again);
  } catch (const toml::parse_error& e) {
    fuzz::property_failed("apply_config_patch produced text that is not TOML",
                          std::string(e.description()) + "\n" + *out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto cut = in.find(fuzz::kSplit);
  auto patch = parse_config_patch(in.substr(0, cut));
  if (!patch) {
    if (patch.error().cls() != ErrorClass::malformed)
      fuzz::property_failed("parse_config_patch failed with a class other than malformed", patch.error().what());
    return 0;
  }
  apply_and_check(kFixedTarget, *patch);
  if (cut != std::string_view::npos) apply_and_check(in.substr(cut + fuzz::kSplit.size()), *patch);
  return 0;
}

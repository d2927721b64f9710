// parse_manifest, and the differential property of manifest.hpp: whatever parses renders to text
// that parses again to a manifest rendering to the very same text. Failures are malformed (10).
#include <string>

#include "core/model/manifest.hpp"
#include "fuzz/harness.hpp"

using namespace airlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = parse_manifest(in);
  if (!m) {
    if (m.error().cls() != ErrorClass::malformed)
      fuzz::property_failed("parse_manifest failed with a class other than malformed", m.error().what());
    return 0;
  }
  const auto text = render_manifest(*m);
  auto again = parse_manifest(text);
  if (!again) fuzz::property_failed("a rendered manifest does not parse", again.error().what() + "\n---\n" + text);
  const auto text2 = render_manifest(*again);
  if (text2 != text) fuzz::property_failed("render(parse(render(m))) != render(m)", text + "\n---\n" + text2);
  return 0;
}

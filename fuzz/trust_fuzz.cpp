// parse_trust_root with both fault classes (usage for the site's file, not_authentic for a
// bundle's trust update): same verdict either way, the requested class on failure, and whatever
// parses renders to text that parses to the same rendering.
#include <string>

#include "core/model/trust.hpp"
#include "fuzz/harness.hpp"

using namespace airlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto site = parse_trust_root(in, ErrorClass::usage);
  auto update = parse_trust_root(in, ErrorClass::not_authentic);
  if (site.has_value() != update.has_value()) fuzz::property_failed("verdict depends on the error class", std::string(in));
  if (!site) {
    if (site.error().cls() != ErrorClass::usage || update.error().cls() != ErrorClass::not_authentic)
      fuzz::property_failed("parse_trust_root failed with another class than asked", site.error().what());
    return 0;
  }
  const auto text = render_trust_root(*site);
  auto again = parse_trust_root(text, ErrorClass::usage);
  if (!again) fuzz::property_failed("a rendered trust root does not parse", again.error().what() + "\n---\n" + text);
  if (render_trust_root(*again) != text)
    fuzz::property_failed("render(parse(render(t))) != render(t)", text + "\n---\n" + render_trust_root(*again));
  return 0;
}

// site.toml parser (applier/site.hpp): every fault is usage (2); nothing else is checked here.
#include <string>

#include "applier/site.hpp"
#include "fuzz/harness.hpp"

using namespace airlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto site = applier::parse_site(text, "/nonexistent/airlock-fuzz/site.toml");
  if (!site && site.error().cls() != ErrorClass::usage)
    fuzz::property_failed("parse_site failed with a class other than usage", site.error().what());
  return 0;
}

// TarReader's grammar: the input is raw tar bytes, compressed here into one zstd frame so the
// fuzzer mutates headers, pax records and padding rather than compressed bytes.
#include <zstd.h>

#include "fuzz/tar_walk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string out(ZSTD_compressBound(size), '\0');
  const auto n = ZSTD_compress(out.data(), out.size(), data, size, 1);
  if (ZSTD_isError(n)) airlock::fuzz::property_failed("harness", ZSTD_getErrorName(n));
  out.resize(n);
  airlock::fuzz::walk_tar(std::move(out));
  return 0;
}

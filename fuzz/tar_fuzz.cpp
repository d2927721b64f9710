// ZstdReader + TarReader over the input as a compressed bundle stream (frames, windows, tar).
#include "fuzz/tar_walk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  airlock::fuzz::walk_tar(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}

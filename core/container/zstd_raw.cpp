// Stored zstd frames (see container.hpp). Frame layout, RFC 8878 §3.1.1: magic 0xFD2FB528 (little
// endian), Frame_Header_Descriptor 0 (no content size, not single-segment, no checksum, no
// dictionary), Window_Descriptor 0x38 (exponent 7, mantissa 0: 2^17 = 128 KiB), then blocks whose
// 3-byte little-endian header is Last_Block | Block_Type << 1 (0 = Raw) | Block_Size << 3.
#include <string>

#include "core/container/container.hpp"

namespace airlock {

namespace {

constexpr std::size_t kBlockMax = std::size_t{128} << 10;  // Block_Maximum_Size for this window
constexpr unsigned char kHeader[] = {0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38};

std::size_t blocks_for(std::size_t n) { return n == 0 ? 1 : (n + kBlockMax - 1) / kBlockMax; }

}  // namespace

std::size_t zstd_raw_frame_size(std::size_t content_size) {
  return sizeof kHeader + 3 * blocks_for(content_size) + content_size;
}

std::string zstd_raw_frame(std::string_view content) {
  std::string out;
  out.reserve(zstd_raw_frame_size(content.size()));
  out.append(reinterpret_cast<const char*>(kHeader), sizeof kHeader);
  const std::size_t blocks = blocks_for(content.size());
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::string_view part = content.substr(i * kBlockMax, kBlockMax);
    const std::uint32_t h = (i + 1 == blocks ? 1u : 0u) | static_cast<std::uint32_t>(part.size()) << 3;
    out.push_back(static_cast<char>(h & 0xFF));
    out.push_back(static_cast<char>((h >> 8) & 0xFF));
    out.push_back(static_cast<char>((h >> 16) & 0xFF));
    out.append(part);
  }
  return out;
}

}  // namespace airlock

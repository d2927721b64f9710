// Standard base64 (RFC 4648 §4, with '=' padding), as minisign writes it. Decoding is strict so
// that one signature has exactly one text form: no whitespace, no missing or extra padding, no
// non-zero bits in the last character's unused low bits.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airlock {

std::string base64_encode(std::span<const std::uint8_t> bytes);
// nullopt when `text` is not the canonical encoding of some byte string.
std::optional<std::vector<std::uint8_t>> base64_decode_strict(std::string_view text);

}  // namespace airlock

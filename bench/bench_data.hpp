// Deterministic inputs for the micro-benchmarks: the same shapes as scripts/bench-payload
// (incompressible "layer" bytes and log-like text), generated in memory from fixed seeds.
#pragma once

#include <cstddef>
#include <string>

namespace airlock::bench {

// `n` bytes that zstd cannot shrink.
std::string random_bytes(std::size_t n, unsigned seed);
// `n` bytes of log lines that zstd -3 shrinks about 5x.
std::string log_text(std::size_t n, unsigned seed);
// Half random_bytes, half log_text.
std::string mixed(std::size_t n);
// One or more zstd frames of `plain` (level 3, checksummed, one frame per `frame_bytes`), as
// airlock's writers lay them out.
std::string zstd_frames(const std::string& plain, std::size_t frame_bytes = 8u << 20);

}  // namespace airlock::bench

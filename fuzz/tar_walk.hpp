// Walks a zstd-compressed tar stream with the strict readers (ZstdReader + TarReader), reading
// even entries and skipping odd ones, and checks that an entry's data reads back to exactly its
// declared size. Shared by tar_fuzz (fuzzed zstd) and tar_raw_fuzz (fuzzed tar, zstd by us).
#pragma once

#include <string>

#include "core/container/container.hpp"
#include "fuzz/harness.hpp"

namespace airlock::fuzz {

inline void walk_tar(std::string compressed) {
  auto src = memory_source(std::move(compressed), "fuzz-input");
  ZstdReader z(*src);
  TarReader tar(z);
  static char buf[64 * 1024];
  for (int index = 0;; ++index) {
    auto e = tar.next();
    if (!e) return;
    if (!*e) {
      (void)tar.finish();
      return;
    }
    if (index % 2 == 1) {
      if (!tar.skip()) return;
      continue;
    }
    std::uint64_t got = 0;
    for (;;) {
      auto n = tar.read(buf, sizeof buf);
      if (!n) return;
      if (*n == 0) break;
      got += *n;
      if (got > (*e)->size) property_failed("tar entry read past its size", (*e)->path);
    }
    if (got != (*e)->size) property_failed("tar entry read short of its size without an error", (*e)->path);
  }
}

}  // namespace airlock::fuzz

// Shared pieces of the fuzz targets: the harness's own signing key (derived from a fixed seed, so
// the seed corpus made by corpus_gen and the running target agree on it), its trust root, a fixed
// verification time, and a memory-backed file for code that takes a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto/minisign.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"

namespace airlock::fuzz {

// Ed25519 key from crypto_sign_seed_keypair over a fixed seed; key id fixed too.
minisign::SecretKey harness_key();
// threshold 1, the harness key only, no validity window.
TrustRoot harness_trust();
// Verification instant of every fuzz run (seeds are built with created = 2026-01-01).
Timestamp harness_time();

// A memfd holding the latest input; path() names it as /proc/self/fd/N. One per process.
class MemFile {
 public:
  MemFile();
  ~MemFile();
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  void assign(std::string_view bytes);  // aborts on failure: the harness is broken, not the input
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A fresh path (not yet existing) under a per-process folder in /dev/shm; remove() deletes it.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string next();          // a new path inside, not created
  void remove(const std::string& p);
  // True when `p` does not exist or is an empty folder.
  static bool absent_or_empty(const std::string& p);

 private:
  std::string base_;
  std::uint64_t counter_ = 0;
};

// Aborts with a message: a property the harness checks did not hold (libFuzzer saves the input).
[[noreturn]] void property_failed(const char* what, const std::string& detail);

// Separator used by targets whose input holds two documents (config_delta: patch, then target).
inline constexpr std::string_view kSplit = "\n#---8<---\n";

}  // namespace airlock::fuzz

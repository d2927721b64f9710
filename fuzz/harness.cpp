#include "fuzz/harness.hpp"

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace airlock::fuzz {

namespace fs = std::filesystem;

minisign::SecretKey harness_key() {
  static const minisign::SecretKey key = [] {
    if (sodium_init() < 0) std::abort();
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (std::size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(0xa5 ^ i);
    minisign::SecretKey k;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, k.sk.data(), seed);
    const std::uint8_t id[8] = {'f', 'u', 'z', 'z', 'k', 'e', 'y', '1'};
    std::memcpy(k.key_id.data(), id, 8);
    return k;
  }();
  return key;
}

TrustRoot harness_trust() {
  TrustRoot t;
  t.threshold = 1;
  TrustKey k;
  k.name = "fuzz-harness";
  k.key = harness_key().public_key();
  t.keys.push_back(k);
  return t;
}

Timestamp harness_time() {
  Timestamp t;
  t.unix_seconds = 1780000000;  // 2026-05-28T20:26:40Z
  return t;
}

MemFile::MemFile() {
  fd_ = memfd_create("airlock-fuzz-input", MFD_CLOEXEC);
  if (fd_ < 0) property_failed("harness", std::string("memfd_create: ") + std::strerror(errno));
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemFile::~MemFile() {
  if (fd_ >= 0) ::close(fd_);
}

void MemFile::assign(std::string_view bytes) {
  if (ftruncate(fd_, 0) != 0) property_failed("harness", "ftruncate failed");
  std::size_t off = 0;
  while (off < bytes.size()) {
    const auto n = pwrite(fd_, bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (n <= 0) property_failed("harness", std::string("pwrite: ") + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
}

ScratchDir::ScratchDir() {
  const char* root = std::getenv("AIRLOCK_FUZZ_SCRATCH");
  base_ = std::string(root && *root ? root : "/dev/shm") + "/airlock-fuzz-" + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(base_, ec);
  fs::create_directories(base_, ec);
  if (ec) property_failed("harness", "cannot create " + base_ + ": " + ec.message());
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(base_, ec);
}

std::string ScratchDir::next() { return base_ + "/s" + std::to_string(counter_++); }

void ScratchDir::remove(const std::string& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

bool ScratchDir::absent_or_empty(const std::string& p) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(p, ec))) return true;
  return fs::is_directory(fs::symlink_status(p, ec)) && fs::is_empty(p, ec);
}

void property_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\n*** airlock fuzz property failed: %s\n%s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace airlock::fuzz

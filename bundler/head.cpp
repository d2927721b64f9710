// Head frames shared by build and sign, and the trusted comment of spec §5.
#include "bundler/head.hpp"

#include <algorithm>

#include "bundler/bundler.hpp"
#include "bundler/propagate.hpp"
#include "core/crypto/hash.hpp"

namespace airlock::bundler {

namespace {

struct StringSink : ByteSink {
  std::string bytes;
  Status write(const void* data, std::size_t len) override {
    bytes.append(static_cast<const char*>(data), len);
    return {};
  }
};

Status write_entry(TarWriter& tar, const std::string& path, const std::string& bytes, std::int64_t mtime) {
  TarFileHeader h{path, bytes.size(), false, mtime};
  BUNDLER_CHECK(tar.begin_entry(h));
  BUNDLER_CHECK(tar.write_data(bytes.data(), bytes.size()));
  return tar.end_entry();
}

}  // namespace

std::string trusted_comment(const Manifest& m, const std::string& manifest_sha256_hex) {
  return "airlock " + m.release.product + " " + m.release.version.text + " manifest-sha256:" + manifest_sha256_hex;
}

std::string sha256_hex(const std::string& bytes) { return to_hex(sha256(bytes)); }

std::string signature_entry_path(const std::string& key_id) { return "signatures/" + key_id + ".minisig"; }

SignatureEntry make_signature(const minisign::SecretKey& key, const Manifest& m, const std::string& manifest_bytes) {
  auto sig = minisign::sign(key, manifest_bytes, trusted_comment(m, sha256_hex(manifest_bytes)));
  return {minisign::key_id_hex(key.key_id), minisign::format_signature(sig)};
}

Status sort_signatures(std::vector<SignatureEntry>& sigs) {
  std::sort(sigs.begin(), sigs.end(), [](const auto& a, const auto& b) { return a.key_id < b.key_id; });
  for (std::size_t i = 1; i < sigs.size(); ++i)
    if (sigs[i].key_id == sigs[i - 1].key_id)
      return fail(ErrorClass::usage,
                  "key " + sigs[i].key_id + " would sign twice: a bundle holds one signature per key");
  if (sigs.size() > kMaxSignatureEntries)
    return fail(ErrorClass::usage,
                std::to_string(sigs.size()) + " signatures, over the limit of " + std::to_string(kMaxSignatureEntries));
  if (sigs.empty()) return fail(ErrorClass::usage, "at least one signing key is needed");
  return {};
}

Result<std::string> render_head(const std::string& manifest_bytes, const std::vector<SignatureEntry>& sigs,
                                std::int64_t mtime) {
  StringSink manifest_tar, sigs_tar;
  {
    // Dropped unfinished (it then emits nothing): the end-of-archive marker is the payload's.
    BUNDLER_TRY(auto tar, TarWriter::create(&manifest_tar));
    BUNDLER_CHECK(write_entry(*tar, "manifest.toml", manifest_bytes, mtime));
    tar->set_sink(&sigs_tar);
    for (const auto& s : sigs) BUNDLER_CHECK(write_entry(*tar, signature_entry_path(s.key_id), s.text, mtime));
  }
  return zstd_raw_frame(manifest_tar.bytes) + zstd_raw_frame(sigs_tar.bytes);
}

}  // namespace airlock::bundler

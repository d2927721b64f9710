// sign(): add one signature by rewriting only the head frames (manifest, signatures) and copying
// the payload's compressed bytes verbatim — never recompressed, so a signer never needs the
// payload's sources and the payload bytes every earlier check saw stay the same.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "bundler/bundler.hpp"
#include "bundler/copy_range.hpp"
#include "bundler/head.hpp"
#include "bundler/propagate.hpp"
#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

namespace airlock::bundler {

namespace {

struct SignedHead {
  std::string manifest;
  std::vector<SignatureEntry> sigs;
  std::uint64_t sig_end = 0;         // decompressed offset just past the last signature entry
  std::uint64_t payload_offset = 0;  // compressed offset where the payload frames begin
};

Error malformed(const std::string& path, const std::string& what) {
  return Error(ErrorClass::malformed, "bundle '" + path + "': " + what);
}

// The manifest and signature entries (core's strict reader), and where (decompressed) the
// signatures end.
Status read_entries(const std::string& path, SignedHead& h) {
  BUNDLER_TRY(auto src, open_source(path));
  ZstdReader z(*src);
  TarReader tar(z);
  auto head = read_bundle_head(tar, HeadMode::strict);
  if (!head) return fail(std::move(head).error().with_context("bundle '" + path + "'"));
  h.manifest = std::move(head->manifest);
  for (auto& s : head->signatures) h.sigs.push_back({minisign::key_id_hex(s.sig->key_id), std::move(s.text)});
  h.sig_end = head->signatures_end;
  return {};
}

// A second, exact read up to the end of the signatures: that point must be a frame boundary.
Status find_payload_offset(const std::string& path, SignedHead& h) {
  BUNDLER_TRY(auto src, open_source(path));
  ZstdReader z(*src);
  std::vector<char> buf(64 * 1024);
  std::uint64_t left = h.sig_end;
  while (left > 0) {
    BUNDLER_TRY(std::size_t n, z.read(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()))));
    if (n == 0) return fail(malformed(path, "ends inside the signature entries"));
    left -= n;
  }
  if (!z.at_frame_end()) return fail(malformed(path, "signatures are not in frames of their own"));
  h.payload_offset = z.compressed_offset_of_frame_end();
  return {};
}

Result<SignatureEntry> new_signature(const SignRequest& req, const Manifest& m, const std::string& manifest) {
  if (req.key.has_value() == req.signature_file_contents.has_value())
    return fail(ErrorClass::usage, "sign needs exactly one of a key and a signature file");
  if (req.key) return make_signature(*req.key, m, manifest);
  auto sig = minisign::parse_signature(*req.signature_file_contents);
  if (!sig) return fail(sig.error().with_context("signature to attach"));
  return SignatureEntry{minisign::key_id_hex(sig->key_id), minisign::format_signature(*sig)};
}

Status write_signed(const std::string& in_path, const std::string& out_path, const SignedHead& h, int in_fd,
                    std::uint64_t in_size, std::int64_t mtime) {
  BUNDLER_TRY(AtomicFile out, AtomicFile::create(out_path, 0644));
  BUNDLER_TRY(const std::string head, render_head(h.manifest, h.sigs, mtime));
  BUNDLER_CHECK(out.write(head));
  BUNDLER_CHECK(copy_range(in_fd, h.payload_offset, in_size, out.fd(), in_path, out_path));
  return out.commit();
}

// A split bundle is named by its parts' base name; its head lies in part 1, the only part a
// signature changes.
Result<std::string> signed_file(const SignRequest& req) {
  std::error_code ec;
  const std::string first = part_name(req.bundle_path, 1);
  if (std::filesystem::exists(req.bundle_path, ec) || !std::filesystem::exists(first, ec)) return req.bundle_path;
  if (req.out_path)
    return fail(ErrorClass::usage, "'" + req.bundle_path +
                                       "' is a split bundle: it is signed in place (part 1 only), "
                                       "without --out");
  return first;
}

}  // namespace

Result<SignReport> sign(const SignRequest& req) {
  BUNDLER_TRY(const std::string path, signed_file(req));
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return fail(errno_error("open", path, errno));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(errno_error("stat", path, errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::usage, "'" + path + "' is not a regular file");

  SignedHead h;
  BUNDLER_CHECK(read_entries(path, h));
  BUNDLER_CHECK(find_payload_offset(path, h));
  // The payload must begin with a zstd frame right there (its last frame carries the end marker).
  unsigned char magic[4] = {};
  if (::pread(in.get(), magic, 4, static_cast<off_t>(h.payload_offset)) != 4 || magic[0] != 0x28 || magic[1] != 0xB5 ||
      magic[2] != 0x2F || magic[3] != 0xFD)
    return fail(malformed(
        path, "no zstd frame where the payload should begin (offset " + std::to_string(h.payload_offset) + ")"));
  auto m = parse_manifest(h.manifest);
  if (!m) return fail(m.error().with_context("bundle '" + path + "': manifest.toml"));

  BUNDLER_TRY(SignatureEntry added, new_signature(req, *m, h.manifest));
  for (const auto& s : h.sigs)
    if (s.key_id == added.key_id)
      return fail(ErrorClass::usage, "bundle '" + path + "' already has a signature by key " + added.key_id);
  if (h.sigs.size() >= kMaxSignatureEntries)
    return fail(ErrorClass::usage, "bundle '" + path + "' already has " + std::to_string(kMaxSignatureEntries) +
                                       " signatures, the most a bundle may hold");
  h.sigs.push_back(added);
  BUNDLER_CHECK(sort_signatures(h.sigs));

  const std::string out_path = req.out_path.value_or(path);
  BUNDLER_CHECK(write_signed(path, out_path, h, in.get(), static_cast<std::uint64_t>(st.st_size),
                             m->release.created.unix_seconds));
  SignReport report{added.key_id, {}};
  for (const auto& s : h.sigs) report.key_ids.push_back(s.key_id);
  return report;
}

}  // namespace airlock::bundler

// verify_kept(): a kept release is checked as a bundle is (signatures over the exact manifest
// bytes before they are parsed, then the policy), against the trust root, sticky revocations and
// clock of the moment it is used, not those of the moment it was kept: a key revoked since, or a
// release expired since, is refused.
#include "verifier/kept.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>
#include <vector>

#include "core/crypto/hash.hpp"
#include "core/crypto/signature_count.hpp"
#include "core/limits.hpp"
#include "core/sys/fd.hpp"
#include "verifier/policy.hpp"
#include "verifier/staging.hpp"
#include "verifier/trust_check.hpp"

namespace airlock::verifier {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 20;

Result<std::vector<minisign::Signature>> parse_signatures(const KeptHead& head) {
  if (head.signature_texts.empty() || head.signature_texts.size() > kMaxSignatureEntries)
    return fail(ErrorClass::malformed, std::to_string(head.signature_texts.size()) +
                                           " signatures kept; between 1 and " + std::to_string(kMaxSignatureEntries) +
                                           " expected");
  std::vector<minisign::Signature> out;
  for (const auto& text : head.signature_texts) {
    AIRLOCK_TRY(auto sig, minisign::parse_signature(text), "a kept signature");
    out.push_back(std::move(sig));
  }
  return out;
}

// Spec §7 steps 2-5 over the kept head, in verify()'s order.
Result<Report> check_head(const Request& req, const KeptHead& head, SignatureCounter& counter, const Timestamp& at) {
  Report rep;
  rep.verified_at = at;
  rep.clock_skew_seconds = req.policy.clock_skew_seconds;
  rep.signature_texts = head.signature_texts;
  const ChannelFrom channel = req.feed ? ChannelFrom::feed_match : ChannelFrom::manifest;
  if (auto s = check_signed_manifest(req, head.manifest_text, counter, at, rep, channel); !s)
    return fail(std::move(s).error());
  if (req.on_manifest) {
    auto ok = req.on_manifest(rep.manifest);  // the caller's error, as the caller worded it
    if (!ok) return fail(std::move(ok).error());
  }
  return rep;
}

// Opens a kept payload file without following a link at its last step; what is not there as a
// regular file of the signed size is the release's integrity, not the disk's.
Result<Fd> open_kept(const std::string& path, const FileEntry& f, const std::string& label) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return fail(ErrorClass::integrity, label + " is missing");
    if (err == ELOOP) return fail(ErrorClass::integrity, label + " is a symbolic link");
    return fail(errno_error("open", path, err).with_context(label));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("fstat", path, errno).with_context(label));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::integrity, label + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) != f.size)
    return fail(ErrorClass::integrity, label + " is " + std::to_string(st.st_size) +
                                           " bytes, the signed manifest says " + std::to_string(f.size));
  return fd;
}

struct Copy {
  Staging* staging = nullptr;
  std::string* captured = nullptr;  // the [trust_update] file's bytes
  const std::function<bool()>* stop = nullptr;
};

// One read of the file: each chunk is hashed and then written, so the copy is what was hashed.
Status copy_checked(const std::string& dir, const FileEntry& f, const Copy& to) {
  const std::string path = dir + "/" + f.path;
  const std::string label = "staged file '" + f.path + "'";
  AIRLOCK_TRY(auto fd, open_kept(path, f, label), "payload");
  std::optional<StagedFile> out;
  if (to.staging) {
    AIRLOCK_TRY(auto sf, to.staging->create_file(f.path, f.executable), label);
    out.emplace(std::move(sf));
  }
  Sha256 sha;
  std::vector<char> buf(kChunk);
  std::uint64_t done = 0;
  for (;;) {
    if (*to.stop && (*to.stop)()) return fail(ErrorClass::io, std::string(kStoppedMessage) + " in " + label);
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error("read", path, errno).with_context(label));
    if (n == 0) break;
    const auto len = static_cast<std::size_t>(n);
    sha.update(buf.data(), len);
    if (out) AIRLOCK_CHECK(out->write_at(buf.data(), len, static_cast<off_t>(done)), label);
    if (to.captured) to.captured->append(buf.data(), len);
    done += len;
  }
  if (done != f.size)
    return fail(ErrorClass::integrity, label + " changed while it was read: " + std::to_string(done) +
                                           " bytes, the signed manifest says " + std::to_string(f.size));
  const auto got = to_hex(sha.finish());
  if (got != f.sha256)
    return fail(ErrorClass::integrity, label + ": SHA-256 " + got + ", the signed manifest says " + f.sha256);
  if (out) AIRLOCK_CHECK(out->close(), label);
  return {};
}

Result<Report> verify_payload(const Request& req, const KeptHead& head, const std::string& dir, Staging* staging,
                              const Timestamp& at) {
  AIRLOCK_TRY(auto sigs, parse_signatures(head), "signatures");
  SignatureCounter counter(sigs, head.manifest_text);
  AIRLOCK_TRY(auto rep, check_head(req, head, counter, at), "manifest");
  const Manifest& m = rep.manifest;
  for (const auto& f : m.files) {
    const bool is_update = m.trust_update && *m.trust_update == f.path;
    if (is_update && f.size > kMaxTrustRootBytes)
      return fail(ErrorClass::not_authentic, "the [trust_update] file '" + f.path + "' is " + std::to_string(f.size) +
                                                 " bytes, over the limit of " + std::to_string(kMaxTrustRootBytes));
    std::string captured;
    AIRLOCK_CHECK(copy_checked(dir, f, {staging, is_update ? &captured : nullptr, &req.stop}), "payload");
    if (is_update) AIRLOCK_CHECK(check_trust_update(captured, req, counter, at, rep), "[trust_update]");
    rep.files_checked += 1;
    rep.bytes_checked += f.size;
    if (req.on_progress) req.on_progress({rep.bytes_checked, m.total_size(), f.path});
  }
  rep.bundle_sha256 = head.bundle_sha256;
  rep.bundle_bytes = head.bundle_bytes;
  AIRLOCK_CHECK(check_feed_match(req, rep), "staged release");
  return rep;
}

}  // namespace

Result<Report> verify_kept(const Request& req, const KeptHead& head, const std::string& payload_dir) {
  if (req.trust.threshold < 1 || req.trust.threshold > 16)
    return fail(ErrorClass::usage, "trust root threshold " + std::to_string(req.trust.threshold) + " is outside 1..16");
  const Timestamp at = req.policy.at ? *req.policy.at : now_utc();
  std::unique_ptr<Staging> staging;
  if (req.staging_dir) {
    AIRLOCK_TRY(staging, Staging::open(*req.staging_dir), "staging");
  }
  auto rep = verify_payload(req, head, payload_dir, staging.get(), at);
  if (!rep) return rep;  // `staging` removes what it created
  if (staging) {
    AIRLOCK_CHECK(staging->commit(), "staging");
    rep->staging_dir = staging->path();
  }
  return rep;
}

}  // namespace airlock::verifier

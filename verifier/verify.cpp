// verify(): spec §7 in its normative order, in one pass over the bundle's bytes.
//   head (manifest + signatures) -> signatures at `at` -> parse -> signatures at `at` and created
//   -> size limit, policy -> on_manifest -> payload (+ trust update) -> end of stream.
// The staging folder is opened (or created) first, so a usage error costs no reading; the
// Staging object removes everything it created unless the whole run succeeded.
#include "verifier/verifier.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/crypto/signature_count.hpp"
#include "core/sys/ordered_pool.hpp"
#include "verifier/hashing_source.hpp"
#include "verifier/part_check.hpp"
#include "verifier/payload.hpp"
#include "verifier/policy.hpp"
#include "verifier/staging.hpp"
#include "verifier/trust_check.hpp"

namespace airlock::verifier {

namespace {

void fill_signatures(Report& rep, const SignatureTally& t) {
  rep.signatures = t.verdicts;
  rep.threshold = t.threshold;
  rep.valid_signatures = t.counted;
}

}  // namespace

// Sticky revocation (§6): a key the consumer has seen revoked stays revoked in any root.
TrustRoot with_sticky_revocations(TrustRoot root, const std::vector<minisign::KeyId>& revoked) {
  for (auto& k : root.keys)
    if (std::find(revoked.begin(), revoked.end(), k.key.key_id) != revoked.end()) k.revoked = true;
  return root;
}

// §6: the new root must parse (11); a stale one (serial not above the current root's) is only
// reported; otherwise the manifest's signatures must meet ITS threshold, its keys' windows taken
// at the verification time and the consumer's sticky revocations applied.
Status check_trust_update(const std::string& text, const Request& req, SignatureCounter& counter, const Timestamp& at,
                          Report& rep) {
  auto root = parse_trust_root(text, ErrorClass::not_authentic);
  if (!root) return fail(std::move(root).error());
  if (root->serial <= req.trust.serial) {
    rep.stale_trust_update = root->serial;
    return {};
  }
  // The current root's revocations are the consumer's too: a new root cannot lift them.
  auto sticky = req.revoked_keys;
  for (const auto& k : req.trust.keys)
    if (k.revoked) sticky.push_back(k.key.key_id);
  const std::array<Timestamp, 1> times{at};
  AIRLOCK_CHECK(require_threshold(counter.count(with_sticky_revocations(*root, sticky), times),
                                  "signatures against the new trust root"),
                "authenticity");
  rep.trust_update = std::move(*root);
  return {};
}

Status check_signed_manifest(const Request& req, const std::string& manifest_bytes, SignatureCounter& counter,
                             const Timestamp& at, Report& rep, ChannelFrom channel) {
  rep.manifest_sha256 = to_hex(sha256(manifest_bytes));
  rep.manifest_text = manifest_bytes;
  // Step 3: the signatures over the exact bytes, before they are parsed.
  const TrustRoot trust = with_sticky_revocations(req.trust, req.revoked_keys);
  const std::array<Timestamp, 1> now_only{at};
  auto tally = counter.count(trust, now_only);
  fill_signatures(rep, tally);
  AIRLOCK_CHECK(require_threshold(tally, "signatures at the verification time " + format_rfc3339(at)), "authenticity");

  // Step 4: parse, then recount with the windows also at release.created.
  auto parsed = parse_manifest(manifest_bytes);  // its errors name manifest.toml already
  if (!parsed) return fail(std::move(parsed).error());
  rep.manifest = std::move(*parsed);
  const std::array<Timestamp, 2> both{at, rep.manifest.release.created};
  tally = counter.count(trust, both);
  fill_signatures(rep, tally);
  AIRLOCK_CHECK(require_threshold(tally, "signatures at the verification time and at release.created " +
                                             format_rfc3339(rep.manifest.release.created)),
                "authenticity");
  if (req.on_authentic) req.on_authentic(rep.manifest);

  // Step 5: limits and policy.
  AIRLOCK_CHECK(check_size_limit(rep.manifest, req.policy), "manifest.toml");
  AIRLOCK_CHECK(check_policy(rep.manifest, req.policy, at, channel), "policy");
  return {};
}

namespace {

// Everything after the staging folder is ready; `staging` may be null (verify only).
Result<Report> verify_stream(const Request& req, Staging* staging, const Timestamp& at) {
  // A stalled pipe is waited for with the stop checked meanwhile (on the HashingSource's thread,
  // when there is one).
  AIRLOCK_TRY(auto raw, open_source(req.bundle_path, req.stop), "opening bundle '" + req.bundle_path + "'");
  // The whole-file SHA-256 runs on a reader thread of its own (HashingSource), over the bytes it
  // read, the very bytes then decompressed. Without it, the reader maps the file if it can.
  std::optional<HashingSource> hashing;
  if (req.whole_file_sha256 || req.feed) hashing.emplace(*raw, true, req.part_sha256);
  Source& src = hashing ? static_cast<Source&>(*hashing) : *raw;
  // Two threads decompress frames ahead and hash each block where it was decompressed;
  // declared before the reader, so every job is done before what the jobs use goes.
  OrderedPool pool(2);
  ZstdReader z(src, &pool);
  TarReader tar(z);
  Report rep;
  rep.verified_at = at;
  rep.clock_skew_seconds = req.policy.clock_skew_seconds;

  // Steps 1-3: the head, and the signatures over the exact manifest bytes before parsing them.
  auto read = read_bundle_head(tar, HeadMode::strict);  // its errors name the entry already
  if (!read) return fail(std::move(read).error());
  BundleHead& head = *read;
  const std::string& manifest_bytes = head.manifest;
  for (const auto& sig : head.signatures) rep.signature_texts.push_back(sig.text);
  SignatureCounter counter(head.parsed_signatures(), manifest_bytes);
  const ChannelFrom channel = req.feed ? ChannelFrom::feed_match : ChannelFrom::manifest;
  if (auto s = check_signed_manifest(req, manifest_bytes, counter, at, rep, channel); !s)
    return fail(std::move(s).error());
  if (req.on_manifest) {
    auto ok = req.on_manifest(rep.manifest);  // the caller's error, as the caller worded it
    if (!ok) return fail(std::move(ok).error());
  }

  // Steps 6-7: the payload, then nothing but the end of the stream.
  if (req.stop && req.stop()) return fail(ErrorClass::io, std::string(kStoppedMessage) + " (before the payload)");
  PayloadStreamer payload(tar, rep.manifest, staging, req.on_progress, pool);
  if (req.stop) payload.stop_when(req.stop);
  payload.on_trust_update([&](const std::string& text) -> Status {
    AIRLOCK_CHECK(check_trust_update(text, req, counter, at, rep), "[trust_update]");
    return {};
  });
  AIRLOCK_TRY(auto got, payload.run(std::move(head.next), head.next_number), "payload");
  rep.files_checked = got.files;
  rep.bytes_checked = got.bytes;
  if (rep.manifest.trust_update && !rep.trust_update && !rep.stale_trust_update)
    return fail(ErrorClass::internal, "trust update '" + *rep.manifest.trust_update + "' was not checked");
  AIRLOCK_CHECK(tar.finish(), "after the last payload file");
  rep.bundle_bytes = hashing ? hashing->bytes() : z.input_bytes();
  if (hashing) rep.bundle_sha256 = hashing->hex_digest();
  if (hashing) rep.part_sha256 = hashing->part_hex_digests();
  // §10: the bytes just verified are the bytes matched, before anything leaves staging.
  if (auto s = check_feed_match(req, rep); !s) return fail(std::move(s).error());
  return rep;
}

}  // namespace

bool is_stopped(const Error& e) {
  return e.cls() == ErrorClass::io && e.what().find(kStoppedMessage) != std::string::npos;
}

namespace {

// A stop met while the source waited for bytes is the same stop as one met between chunks.
Error as_stopped(const Request& req, Error e) {
  const bool waiting = e.cls() == ErrorClass::io && e.what().find(kSourceStoppedMessage) != std::string::npos;
  if (!waiting || !req.stop || !req.stop()) return e;
  return Error(ErrorClass::io, std::string(kStoppedMessage) + " (waiting for the bytes of '" + req.bundle_path + "')");
}

// Damage to a split bundle's bytes shows up as whatever the stream met first; when the feed lists
// the parts' hashes, the part to fetch again is named instead.
Error named_part(const Request& req, Error e) {
  const auto c = e.cls();
  if (!req.feed || is_stopped(e) || (c != ErrorClass::io && c != ErrorClass::malformed && c != ErrorClass::integrity))
    return e;
  if (auto named = check_parts_against_feed(req.bundle_path, req.feed->feed)) return *named;
  return e;
}

}  // namespace

Result<Report> verify(const Request& req) {
  // A root built in code (not parsed) could say 0, which would make any bundle "authentic".
  if (req.trust.threshold < 1 || req.trust.threshold > kMaxThreshold)
    return fail(ErrorClass::usage, "trust root threshold " + std::to_string(req.trust.threshold) + " is outside 1.." +
                                       std::to_string(kMaxThreshold));
  if (req.policy.clock_skew_seconds < 0 || req.policy.clock_skew_seconds > kMaxClockSkewSeconds)
    return fail(ErrorClass::usage, "clock skew of " + std::to_string(req.policy.clock_skew_seconds) +
                                       " s is outside 0.." + std::to_string(kMaxClockSkewSeconds) + " s (365d)");
  const Timestamp at = req.policy.at ? *req.policy.at : now_utc();
  std::unique_ptr<Staging> staging;
  if (req.staging_dir) {
    AIRLOCK_TRY(staging, Staging::open(*req.staging_dir), "staging");
  }
  auto rep = verify_stream(req, staging.get(), at);
  if (!rep) return fail(named_part(req, as_stopped(req, std::move(rep).error())));  // `staging` removes what it created
  // Step 8: success only now; the verified files leave the partial folder.
  if (staging) {
    AIRLOCK_CHECK(staging->commit(), "staging");
    rep->staging_dir = staging->path();
  }
  return rep;
}

}  // namespace airlock::verifier

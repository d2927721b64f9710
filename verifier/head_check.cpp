// verify_head(): the first half of verify() (verify.cpp), in the same normative order, ending
// before the payload.
#include "verifier/head_check.hpp"

#include <array>

#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "core/crypto/signature_count.hpp"
#include "verifier/policy.hpp"
#include "verifier/trust_check.hpp"

namespace airlock::verifier {

namespace {

void fill_signatures(Report& rep, const SignatureTally& t) {
  rep.signatures = t.verdicts;
  rep.threshold = t.threshold;
  rep.valid_signatures = t.counted;
}

Status check_request(const Request& req) {
  if (req.trust.threshold < 1 || req.trust.threshold > kMaxThreshold)
    return fail(ErrorClass::usage, "trust root threshold " + std::to_string(req.trust.threshold) + " is outside 1.." +
                                       std::to_string(kMaxThreshold));
  if (req.policy.clock_skew_seconds < 0 || req.policy.clock_skew_seconds > kMaxClockSkewSeconds)
    return fail(ErrorClass::usage, "clock skew of " + std::to_string(req.policy.clock_skew_seconds) +
                                       " s is outside 0.." + std::to_string(kMaxClockSkewSeconds) + " s (365d)");
  return {};
}

}  // namespace

Result<Report> verify_head(const Request& req) {
  AIRLOCK_CHECK(check_request(req), "request");
  const Timestamp at = req.policy.at ? *req.policy.at : now_utc();
  // No pool: nothing is decompressed ahead of what the head needs.
  AIRLOCK_TRY(auto src, open_source(req.bundle_path, req.stop), "opening bundle '" + req.bundle_path + "'");
  ZstdReader z(*src);
  TarReader tar(z);
  Report rep;
  rep.verified_at = at;
  rep.clock_skew_seconds = req.policy.clock_skew_seconds;

  // Steps 1-3: the head, and the signatures over the exact manifest bytes before parsing them.
  auto read = read_bundle_head(tar, HeadMode::strict);
  if (!read) return fail(std::move(read).error());
  const std::string& manifest_bytes = read->manifest;
  rep.manifest_sha256 = to_hex(sha256(manifest_bytes));
  rep.manifest_text = manifest_bytes;
  for (const auto& sig : read->signatures) rep.signature_texts.push_back(sig.text);
  SignatureCounter counter(read->parsed_signatures(), manifest_bytes);
  const TrustRoot trust = with_sticky_revocations(req.trust, req.revoked_keys);
  const std::array<Timestamp, 1> now_only{at};
  auto tally = counter.count(trust, now_only);
  fill_signatures(rep, tally);
  AIRLOCK_CHECK(require_threshold(tally, "signatures at the verification time " + format_rfc3339(at)), "authenticity");

  // Step 4: parse, then recount with the windows also at release.created.
  auto parsed = parse_manifest(manifest_bytes);
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
  AIRLOCK_CHECK(check_policy(rep.manifest, req.policy, at), "policy");
  rep.bundle_bytes = z.input_bytes();
  return rep;
}

}  // namespace airlock::verifier

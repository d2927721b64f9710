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
  for (const auto& sig : read->signatures) rep.signature_texts.push_back(sig.text);
  SignatureCounter counter(read->parsed_signatures(), manifest_bytes);
  if (auto s = check_signed_manifest(req, manifest_bytes, counter, at, rep); !s) return fail(std::move(s).error());
  rep.bundle_bytes = z.input_bytes();
  return rep;
}

}  // namespace airlock::verifier

// The trust checks of spec §6 that every verification of a signed manifest shares, whether it
// comes from a bundle (verify()) or from a release kept at a site (verify_kept()). Private to the
// verifier.
#pragma once

#include <string>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/crypto/signature_count.hpp"
#include "core/error.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"
#include "verifier/policy.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

// Sticky revocation (§6): a key the consumer has seen revoked stays revoked in any root.
TrustRoot with_sticky_revocations(TrustRoot root, const std::vector<minisign::KeyId>& revoked);

// §6: the new root `text` must parse (11); a stale one is only reported in `rep`; otherwise the
// manifest's signatures must meet its threshold (rep.trust_update is set).
[[nodiscard]] Status check_trust_update(const std::string& text, const Request& req, SignatureCounter& counter,
                                        const Timestamp& at, Report& rep);

// Spec §7 steps 3-5 over a signed manifest whose signatures `counter` holds, whether it comes from
// a bundle's head or from a release kept at a site: the threshold at `at`, the parse, the threshold
// again with the windows also at release.created (`req.on_authentic` then sees the manifest), the
// size limit and the policy (the channel only with ChannelFrom::manifest: a caller that matches a
// feed after the stream checks it there). Fills rep's manifest, its digest and text, and the
// signature verdicts.
[[nodiscard]] Status check_signed_manifest(const Request& req, const std::string& manifest_bytes,
                                           SignatureCounter& counter, const Timestamp& at, Report& rep,
                                           ChannelFrom channel = ChannelFrom::manifest);

}  // namespace airlock::verifier

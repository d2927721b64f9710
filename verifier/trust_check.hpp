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
#include "verifier/verifier.hpp"

namespace airlock::verifier {

// Sticky revocation (§6): a key the consumer has seen revoked stays revoked in any root.
TrustRoot with_sticky_revocations(TrustRoot root, const std::vector<minisign::KeyId>& revoked);

// §6: the new root `text` must parse (11); a stale one is only reported in `rep`; otherwise the
// manifest's signatures must meet its threshold (rep.trust_update is set).
[[nodiscard]] Status check_trust_update(const std::string& text, const Request& req, SignatureCounter& counter,
                                        const Timestamp& at, Report& rep);

}  // namespace airlock::verifier

// A signature counts for nothing when its key is unknown, revoked, out of window, already counted,
// or the checks fail (spec §5's table); the reason is kept for the report.
#include "core/crypto/signature_count.hpp"

#include <set>

namespace airlock {

namespace {

std::string window_problem(const TrustKey& k, std::span<const Timestamp> times) {
  for (const auto& t : times)
    if (!k.valid_at(t)) return "key '" + k.name + "' outside its validity window at " + format_rfc3339(t);
  return {};
}

}  // namespace

bool SignatureCounter::crypto_ok(std::size_t sig_index, const minisign::PublicKey& pk) {
  const auto key = std::make_pair(sig_index, pk.pk);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  const bool ok = minisign::verify(pk, sigs_[sig_index], document_);
  memo_.emplace(key, ok);
  return ok;
}

SignatureTally SignatureCounter::count(const TrustRoot& root, std::span<const Timestamp> times) {
  SignatureTally t;
  t.threshold = root.threshold;
  std::set<std::array<std::uint8_t, 32>> counted_keys;
  for (std::size_t i = 0; i < sigs_.size(); ++i) {
    const auto& sig = sigs_[i];
    SignatureVerdict r;
    r.key_id = minisign::key_id_hex(sig.key_id);
    // Several trust-root entries may share a key id (or even a key): try each until one counts.
    for (const auto& k : root.keys) {
      if (k.key.key_id != sig.key_id) continue;
      if (!r.key_name) r.key_name = k.name;
      std::string why;
      if (k.revoked)
        why = "key '" + k.name + "' is revoked";
      else if (auto w = window_problem(k, times); !w.empty())
        why = std::move(w);
      else if (!crypto_ok(i, k.key))
        why = "bad signature (the signature or its trusted comment does not verify with key '" + k.name + "')";
      else if (counted_keys.count(k.key.pk))
        why = "key '" + k.name + "' already counted by another signature";
      if (why.empty()) {
        counted_keys.insert(k.key.pk);
        t.counted_key_ids.push_back(r.key_id);
        r.key_name = k.name;
        r.counted = true;
        r.reason.clear();
        break;
      }
      if (r.reason.empty()) r.reason = std::move(why);
    }
    if (!r.key_name) r.reason = "unknown key (not in the trust root)";
    t.verdicts.push_back(std::move(r));
  }
  t.counted = static_cast<int>(counted_keys.size());
  return t;
}

SignatureTally count_signatures(std::string_view document, std::vector<minisign::Signature> sigs, const TrustRoot& root,
                                std::span<const Timestamp> times) {
  SignatureCounter counter(std::move(sigs), document);
  return counter.count(root, times);
}

Status require_threshold(const SignatureTally& t, const std::string& what) {
  if (t.threshold_met()) return {};
  std::string seen;
  for (const auto& r : t.verdicts) {
    if (!seen.empty()) seen += "; ";
    seen += r.key_id + (r.counted ? " counted" : ": " + r.reason);
  }
  return fail(ErrorClass::not_authentic, what + ": " + std::to_string(t.counted) + " of " +
                                             std::to_string(t.threshold) + " required signatures count (" +
                                             (seen.empty() ? "no signatures" : seen) + ")");
}

}  // namespace airlock

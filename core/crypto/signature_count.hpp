// Counting the signatures over one signed document against a trust root (spec §5-§6): which
// signatures count, for which DISTINCT keys, with the keys' windows taken at one or more instants.
// The document is any byte string that minisign signatures cover, under the same fault table and
// threshold: a bundle's manifest.toml (its signature entries, core/container/bundle_head.hpp), and a
// channel feed (its detached `feed.toml.<KEYID>.minisig` files, spec §10, keys taken at the
// verification time and at `published`). A signature counts for nothing, never refuses the
// document by itself: only the total against the threshold decides (require_threshold).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"

namespace airlock {

struct SignatureVerdict {
  std::string key_id;                   // 16 upper-case hex, from the signature
  std::optional<std::string> key_name;  // from the trust root, when the key id is in it
  bool counted = false;
  std::string reason;  // why it did not count ("unknown key", "revoked", "bad signature", ...)
};

struct SignatureTally {
  int counted = 0;                           // distinct keys with a signature that counts
  int threshold = 0;                         // the root's
  std::vector<std::string> counted_key_ids;  // hex, in signature order
  std::vector<SignatureVerdict> verdicts;    // one per signature, in the order given
  // A threshold below 1 (a root built in code, not parsed) is never met: nothing is authentic by
  // default.
  bool threshold_met() const { return threshold >= 1 && counted >= threshold; }
};

// Counts one document's signatures as often as the caller needs (at another instant, against
// another root); the cryptographic checks are memoised per (signature, public key), so a recount
// hashes nothing again. `document` must outlive the counter.
class SignatureCounter {
 public:
  SignatureCounter(std::vector<minisign::Signature> sigs, std::string_view document)
      : sigs_(std::move(sigs)), document_(document) {}

  // A key counts when it is in `root`, not revoked, valid at every instant of `times`, and one of
  // its signatures passes both checks over the document. Distinct keys: one public key counts
  // once, however many signatures or trust-root entries carry it.
  SignatureTally count(const TrustRoot& root, std::span<const Timestamp> times);

 private:
  bool crypto_ok(std::size_t sig_index, const minisign::PublicKey& pk);

  std::vector<minisign::Signature> sigs_;
  std::string_view document_;
  std::map<std::pair<std::size_t, std::array<std::uint8_t, 32>>, bool> memo_;
};

// One count of a document counted once.
SignatureTally count_signatures(std::string_view document, std::vector<minisign::Signature> sigs, const TrustRoot& root,
                                std::span<const Timestamp> times);

// not_authentic (11) when the threshold is not met: "<what>: N of M required signatures count
// (<each key id and why>)".
[[nodiscard]] Status require_threshold(const SignatureTally& t, const std::string& what);

}  // namespace airlock

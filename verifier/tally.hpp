// Counting signatures against a trust root (spec §5–§6): which signatures count, for which
// DISTINCT keys, with the keys' windows taken at one or more instants. Cryptographic checks are
// memoised per (signature, public key) so recounting at release.created and against a
// [trust_update] root does not hash the manifest again.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/sys/time.hpp"
#include "core/model/trust.hpp"
#include "verifier/entries.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

struct Tally {
  int counted = 0;
  int threshold = 0;
  std::vector<SignatureReport> reports;  // one per signature entry, in entry order
};

class SignatureCounter {
 public:
  SignatureCounter(const std::vector<SignatureEntry>& sigs, std::string_view manifest)
      : sigs_(sigs), manifest_(manifest) {}

  // A key counts when it is in `root`, not revoked, valid at every instant of `times`, and one of
  // its signatures passes both checks. Distinct keys: one public key counts once, however many
  // entries or trust-root entries carry it.
  Tally count(const TrustRoot& root, std::span<const Timestamp> times);

 private:
  bool crypto_ok(std::size_t sig_index, const minisign::PublicKey& pk);

  const std::vector<SignatureEntry>& sigs_;
  std::string_view manifest_;
  std::map<std::pair<std::size_t, std::array<std::uint8_t, 32>>, bool> memo_;
};

// not_authentic (11) when tally.counted < tally.threshold, naming counted/needed and the keys seen.
[[nodiscard]] Status require_threshold(const Tally& t, const std::string& what);

}  // namespace airlock::verifier

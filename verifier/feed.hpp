// Verifying a channel feed (spec §10): feed.toml and its detached signatures
// `feed.toml.<KEYID>.minisig`, counted by core/crypto/signature_count under the rules of §5 and
// the trust root of §6, keys valid at the verification time and at `published`. The order is §7's:
// the signature files' names and bounds (10), their contents (11), the threshold at the
// verification time over the exact bytes before they are parsed (11), the feed parsed (10), the
// threshold again with the windows also at `published` (11). Policy against a feed the consumer
// already accepted (serial, product, deprecation) is the consumer's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"
#include "core/model/feed.hpp"
#include "core/model/trust.hpp"
#include "core/sys/time.hpp"

namespace airlock::verifier {

struct DetachedSignature {
  std::string name;  // the file name, "feed.toml.<KEYID>.minisig"
  std::string text;  // its bytes
};

// `revoked`: key ids the consumer has seen revoked (sticky, §6), revoked whatever `root` says.
[[nodiscard]] Result<Feed> verify_feed(std::string_view bytes, const std::vector<DetachedSignature>& sigs,
                                       const TrustRoot& root, const Timestamp& now,
                                       const std::vector<minisign::KeyId>& revoked = {});

// The detached signature file name for a feed file named `feed_name` ("feed.toml").
std::string feed_signature_name(std::string_view feed_name, const minisign::KeyId& id);

// The files beside `feed_path` named "<its file name>.<anything>.minisig", sorted by name; a file
// over kMaxSignatureFileBytes or more than kMaxSignatureEntries of them: malformed (10).
[[nodiscard]] Result<std::vector<DetachedSignature>> read_feed_signatures(const std::string& feed_path);

// read_file (at most kMaxFeedBytes, else 10), read_feed_signatures, verify_feed.
[[nodiscard]] Result<Feed> verify_feed_file(const std::string& feed_path, const TrustRoot& root, const Timestamp& now,
                                            const std::vector<minisign::KeyId>& revoked = {});

}  // namespace airlock::verifier

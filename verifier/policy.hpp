// The caller's policy of spec §5 step 5 (class 13), and the consumer's size limit (class 10).
#pragma once

#include "core/error.hpp"
#include "core/model/manifest.hpp"
#include "core/sys/time.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

// Consumer limit on the payload's total size: malformed (10), like every other limit (§8).
[[nodiscard]] Status check_size_limit(const Manifest& m, const Policy& p);

// Whether the policy's channel comes from the manifest now or from a feed match after the stream.
enum class ChannelFrom { manifest, feed_match };

// expires, created vs. `at` + skew, product, installed version, min_installed, and with
// ChannelFrom::manifest the channel.
[[nodiscard]] Status check_policy(const Manifest& m, const Policy& p, const Timestamp& at,
                                  ChannelFrom channel = ChannelFrom::manifest);

// A site accepts a release of its channel or of a more stable one.
[[nodiscard]] Status check_channel(Channel release_channel, const Policy& p);

// With req.feed: match_feed over the whole-file digest and size in `rep`, then check_channel
// against the match; fills rep.feed_match. Without: nothing.
[[nodiscard]] Status check_feed_match(const Request& req, Report& rep);

}  // namespace airlock::verifier

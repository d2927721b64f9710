#include "verifier/policy.hpp"

#include <string>

namespace airlock::verifier {

Status check_size_limit(const Manifest& m, const Policy& p) {
  if (!p.max_size) return {};
  const auto total = m.total_size();
  if (total > *p.max_size)
    return fail(ErrorClass::malformed, "the payload's total size " + std::to_string(total) +
                                           " bytes exceeds the consumer's limit of " + std::to_string(*p.max_size));
  return {};
}

namespace {

Status check_times(const Release& r, const Policy& p, const Timestamp& at) {
  if (r.expires && *r.expires < at)
    return fail(ErrorClass::policy,
                "release expired at " + format_rfc3339(*r.expires) + " (verification time " + format_rfc3339(at) + ")");
  Timestamp latest = at;
  latest.unix_seconds += p.clock_skew_seconds;
  if (r.created > latest)
    return fail(ErrorClass::policy, "release created at " + format_rfc3339(r.created) +
                                        ", in the future: later than the verification time " + format_rfc3339(at) +
                                        " plus the tolerated clock skew of " + std::to_string(p.clock_skew_seconds) +
                                        "s");
  return {};
}

Status check_versions(const Release& r, const Policy& p) {
  if (!p.installed) return {};  // nothing installed: any version, any min_installed
  if (compare_semver(r.version, *p.installed) < 0)
    return fail(ErrorClass::policy,
                "downgrade: release " + r.version.text + " is older than the installed " + p.installed->text);
  if (r.min_installed && compare_semver(*p.installed, *r.min_installed) < 0)
    return fail(ErrorClass::policy, "release " + r.version.text + " needs at least " + r.min_installed->text +
                                        " installed; the site has " + p.installed->text);
  return {};
}

}  // namespace

Status check_channel(Channel release_channel, const Policy& p) {
  // Lower rank = more stable; a site accepts its channel or a more stable one.
  if (p.channel && static_cast<int>(release_channel) > static_cast<int>(*p.channel))
    return fail(ErrorClass::policy, std::string("a ") + channel_name(release_channel) +
                                        " release is not accepted by a site following " + channel_name(*p.channel));
  return {};
}

Status check_feed_match(const Request& req, Report& rep) {
  if (!req.feed) return {};
  AIRLOCK_TRY(auto m,
              match_feed(req.feed->feed, rep.manifest.release, rep.bundle_sha256, rep.bundle_bytes,
                         req.feed->deprecated_versions),
              "feed");
  AIRLOCK_CHECK(check_channel(m.channel, req.policy),
                std::string("policy (the channel from the ") + channel_source_name(m.channel_source) + ")");
  rep.feed_match = std::move(m);
  return {};
}

Status check_policy(const Manifest& m, const Policy& p, const Timestamp& at, ChannelFrom channel) {
  const auto& r = m.release;
  if (auto ok = check_times(r, p, at); !ok) return ok;
  if (p.product && r.product != *p.product)
    return fail(ErrorClass::policy, "the bundle is for product '" + r.product + "', not '" + *p.product + "'");
  if (auto ok = check_versions(r, p); !ok) return ok;
  if (channel == ChannelFrom::feed_match) return {};
  return check_channel(r.channel, p);
}

}  // namespace airlock::verifier

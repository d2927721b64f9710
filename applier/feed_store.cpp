// Reading the site's feed state: the accepted feed (named by feed/accepted, checked against its
// SHA-256) and the sticky deprecation list. Nothing here writes.
#include <algorithm>
#include <filesystem>

#include "applier/feed_store.hpp"
#include "applier/feed_store_internal.hpp"
#include "applier/run.hpp"
#include "applier/site.hpp"
#include "applier/trust_state.hpp"
#include "core/crypto/hash.hpp"
#include "core/limits.hpp"
#include "core/model/semver.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "verifier/feed.hpp"

namespace airlock::applier {
namespace {

constexpr std::size_t kMaxPointerBytes = 256;

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec)) && !ec;
}

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The SHA-256 the site recorded for its accepted feed; nullopt when it never accepted one.
Result<std::optional<std::string>> read_pointer(const Site& s) {
  const std::string path = feed_pointer_path(s);
  if (!exists(path)) return std::optional<std::string>{};
  AIRLOCK_TRY(auto text, read_file(path, kMaxPointerBytes, ErrorClass::io), "accepted feed");
  if (text.size() != 65 || text.back() != '\n' || !is_lower_hex64(std::string_view(text).substr(0, 64)))
    return fail(ErrorClass::io, "'" + path + "': not one SHA-256 line (64 lower-case hex digits)");
  return std::optional<std::string>(text.substr(0, 64));
}

Result<std::optional<AcceptedFeed>> read_accepted(const Site& s) {
  AIRLOCK_TRY(auto sha, read_pointer(s), "accepted feed");
  if (!sha) return std::optional<AcceptedFeed>{};
  const std::string path = feed_copy_dir(s, *sha) + "/feed.toml";
  AIRLOCK_TRY(auto bytes, read_file(path, kMaxFeedBytes, ErrorClass::io), "accepted feed");
  const std::string actual = to_hex(sha256(bytes));
  if (actual != *sha)
    return fail(ErrorClass::io, "'" + path + "': its SHA-256 is " + actual + ", the site accepted " + *sha +
                                    ": the stored feed is damaged");
  auto feed = parse_feed(bytes);
  if (!feed) return fail(feed.error().reclassed(ErrorClass::io).with_context("accepted feed '" + path + "'"));
  return std::optional<AcceptedFeed>(AcceptedFeed{std::move(*feed), *sha});
}

}  // namespace

std::string feed_store_dir(const Site& s) { return s.state_dir + "/feed"; }
std::string feed_pointer_path(const Site& s) { return feed_store_dir(s) + "/accepted"; }
std::string feed_copy_dir(const Site& s, const std::string& sha) { return feed_store_dir(s) + "/" + sha; }
std::string deprecated_path(const Site& s) { return feed_store_dir(s) + "/deprecated"; }

Result<std::set<std::string>> load_deprecated(const Site& s) {
  const std::string path = deprecated_path(s);
  std::set<std::string> out;
  if (!exists(path)) return out;
  AIRLOCK_TRY(auto text, read_file(path, kMaxDeprecatedBytes, ErrorClass::preflight), "deprecated releases");
  std::size_t pos = 0;
  int line = 0;
  while (pos < text.size() || line == 0) {
    ++line;
    const auto nl = text.find('\n', pos);
    const std::string where = "'" + path + "' line " + std::to_string(line);
    if (nl == std::string::npos) return fail(ErrorClass::preflight, where + ": not ended by a newline (damaged)");
    const std::string item = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line == 1) {
      if (item != kDeprecatedHeader)
        return fail(ErrorClass::preflight, where + ": want the header '" + std::string(kDeprecatedHeader) + "'");
      continue;
    }
    if (!parse_semver(item))
      return fail(ErrorClass::preflight, where + ": not a release version (a damaged list of deprecated releases)");
    out.insert(item);
  }
  return out;
}

Status save_deprecated(const Site& s, const std::set<std::string>& versions) {
  std::string text = std::string(kDeprecatedHeader) + "\n";
  for (const auto& v : versions) text += v + "\n";
  return write_file_atomic(deprecated_path(s), text, 0600);
}

const FeedEntry* SiteFeed::entry(const std::string& version, const std::string& file) const {
  if (!accepted) return nullptr;
  const auto all = accepted->feed.find_version(version);
  for (const auto* e : all)
    if (e->file == file) return e;
  return all.empty() ? nullptr : all.front();
}

std::optional<bool> SiteFeed::critical(const std::string& version) const {
  if (!accepted) return std::nullopt;
  const auto all = accepted->feed.find_version(version);
  if (all.empty()) return std::nullopt;
  return std::any_of(all.begin(), all.end(), [](const FeedEntry* e) { return e->critical; });
}

Result<SiteFeed> accepted_feed(const Site& s) {
  SiteFeed out;
  AIRLOCK_TRY(out.accepted, read_accepted(s), "site '" + s.name + "'");
  AIRLOCK_TRY(out.deprecated, load_deprecated(s), "site '" + s.name + "'");
  return out;
}

Result<std::optional<verifier::FeedContext>> site_feed_context(const Site& s) {
  AIRLOCK_TRY(auto feed, accepted_feed(s), "the site's feed");
  if (!feed.accepted) return std::optional<verifier::FeedContext>{};
  return std::optional<verifier::FeedContext>{
      verifier::FeedContext{std::move(feed.accepted->feed), std::move(feed.deprecated)}};
}

Result<verifier::FeedContext> feed_context_for(const std::string& site_toml, const std::string& feed_path,
                                               const Timestamp& now) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "site");
  AIRLOCK_TRY(auto text, read_file(site.trust_root, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(auto root, parse_trust_root(text, ErrorClass::usage), "trust root '" + site.trust_root + "'");
  AIRLOCK_TRY(auto revoked, load_revoked_keys(site), "revoked keys");
  AIRLOCK_TRY(auto feed, verifier::verify_feed_file(feed_path, root, now, revoked), "feed '" + feed_path + "'");
  AIRLOCK_TRY(auto kept, accepted_feed(site), "the site's feed");
  return verifier::FeedContext{std::move(feed), std::move(kept.deprecated)};
}

airlock::Status use_accepted_feed(Ctx& c) {
  if (c.env.feed) return {};
  AIRLOCK_TRY(c.env.feed, site_feed_context(c.site), "feed");
  return {};
}

}  // namespace airlock::applier

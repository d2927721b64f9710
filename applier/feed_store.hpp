// The site's accepted channel feed (spec §10). A site keeps the exact bytes of the newest feed it
// accepted, with the detached signatures it was accepted with, and the versions any accepted feed
// ever deprecated (sticky: a later feed cannot undo a deprecation). All of it lives in files under
// <state_dir>/feed/, never in state.db:
//   feed/accepted               the SHA-256 (64 lower-case hex) of the accepted feed.toml; written
//                               last and atomically, so it names a complete folder or nothing
//   feed/<sha256>/feed.toml     the accepted bytes, and feed.toml.<KEYID>.minisig beside them
//   feed/deprecated             "airlock-deprecated/1", then one version a line; only grows
// Only `feed accept`, `apply --feed` and `schedule` accept a feed; `scan`, `status` and `verify`
// read it (accepted_feed) and never write. docs/site.md, "The channel feed", describes the rules.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "core/error.hpp"
#include "core/model/feed.hpp"

namespace airlock::applier {

struct Ctx;

inline constexpr const char* kDeprecatedHeader = "airlock-deprecated/1";

std::string feed_store_dir(const Site& s);  // <state_dir>/feed

struct AcceptedFeed {
  Feed feed;
  std::string sha256;  // of the exact bytes accepted
};

// What a site knows from the feeds it accepted.
struct SiteFeed {
  std::optional<AcceptedFeed> accepted;  // nullopt: no feed accepted yet
  std::set<std::string> deprecated;      // every version an accepted feed deprecated (sticky)

  // The accepted feed's entry for `version`: the one named `file` when there is one, else the
  // version's first entry in canonical order; nullptr when the feed does not list the version.
  const FeedEntry* entry(const std::string& version, const std::string& file = "") const;
  // The feed's critical flag for `version` (any of its entries), nullopt when it has no entry:
  // the argument is_critical() takes.
  std::optional<bool> critical(const std::string& version) const;
  bool is_deprecated(const std::string& version) const { return deprecated.count(version) > 0; }
};

// Reads the site's feed state without writing anything. Errors: ErrorClass::io when a stored file
// cannot be read or its bytes do not match the recorded SHA-256; ErrorClass::preflight for a
// damaged deprecation list, naming the file and line (a site must not silently forget one).
[[nodiscard]] Result<SiteFeed> accepted_feed(const Site& s);

struct FeedAcceptance {
  std::string site_name;
  std::string product;
  std::int64_t serial = 0;
  std::string published;  // RFC 3339
  std::string sha256;     // of the feed's bytes
  std::optional<std::int64_t> previous_serial;
  bool changed = false;                 // false: this very feed was already the accepted one
  std::vector<std::string> deprecated;  // versions this feed added to the sticky list
  std::vector<std::string> met;         // releases the site met through this feed
  std::string audit_head;
};

// Accepts the feed at `feed_path` (its signatures are the files "<name>.<KEYID>.minisig" beside
// it) for the site of `site_toml`, at env.now(). Verified against the site's installed trust root
// with its sticky revocations; then refused when: malformed (10); below threshold or a bad
// signature (11); for another product than site.toml's, with a lower serial than the accepted
// feed, or with the same serial and other bytes (13). The same feed again is a success that
// changes nothing. A refusal changes nothing; an accepted feed is stored, its deprecations made
// sticky, the releases it offers the site (entries of the site's channel or a more stable one,
// newer than the installed release, not deprecated) recorded as met with its critical flag, and
// one history row and audit entry ("feed-accept") name its serial and SHA-256. Takes the site lock.
[[nodiscard]] Result<FeedAcceptance> accept_feed(const std::string& site_toml, const std::string& feed_path,
                                                 const Env& env = {});
// The same for a caller that already holds the site (apply --feed, schedule): c.env.now() is the time.
[[nodiscard]] Result<FeedAcceptance> accept_feed(Ctx& c, const std::string& feed_path);

// The feed a bundle is matched against at this site (spec §10): the accepted one, with every
// sticky deprecation; nullopt when the site has accepted none.
[[nodiscard]] Result<std::optional<verifier::FeedContext>> site_feed_context(const Site& s);
// A feed given for one command that must not change the site (verify --feed): checked against the
// site's trust root and sticky revocations at `now`, with the site's sticky deprecations; never
// accepted, nothing written.
[[nodiscard]] Result<verifier::FeedContext> feed_context_for(const std::string& site_toml, const std::string& feed_path,
                                                             const Timestamp& now);
// Sets c.env.feed to site_feed_context when the caller did not give one, so that apply, a staged
// apply, run-due and stage all take a release's channel and flags from the site's feed.
[[nodiscard]] airlock::Status use_accepted_feed(Ctx& c);

}  // namespace airlock::applier

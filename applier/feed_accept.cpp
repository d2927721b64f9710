// accept_feed: a channel feed checked against the site (spec §10), then kept. The order of the
// writes makes a crash harmless: the copy goes into a folder named by its SHA-256 that nothing
// names yet, then the sticky deprecations (a crash leaves more releases deprecated, never fewer,
// each by a verified feed), then the record in state.db, and last the feed/accepted pointer.
#include <filesystem>

#include "applier/audit.hpp"
#include "applier/feed_store.hpp"
#include "applier/feed_store_internal.hpp"
#include "applier/run.hpp"
#include "applier/trust_state.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/model/semver.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "verifier/feed.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Candidate {
  std::string bytes;
  std::vector<verifier::DetachedSignature> sigs;
  Feed feed;
  std::string sha256;
};

Result<TrustRoot> site_trust(const Site& s) {
  AIRLOCK_TRY(auto text, read_file(s.trust_root, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(auto root, parse_trust_root(text, ErrorClass::usage), "trust root '" + s.trust_root + "'");
  return root;
}

// The exact bytes read once, verified, and hashed: what is kept is what was verified.
Result<Candidate> verified(const Site& s, const std::string& feed_path, const Timestamp& now) {
  Candidate c;
  AIRLOCK_TRY(c.bytes, read_file(feed_path, kMaxFeedBytes, ErrorClass::malformed), "feed '" + feed_path + "'");
  AIRLOCK_TRY(c.sigs, verifier::read_feed_signatures(feed_path), "feed '" + feed_path + "'");
  AIRLOCK_TRY(auto root, site_trust(s), "site '" + s.name + "'");
  AIRLOCK_TRY(auto revoked, load_revoked_keys(s), "site '" + s.name + "'");
  AIRLOCK_TRY(c.feed, verifier::verify_feed(c.bytes, c.sigs, root, now, revoked), "feed '" + feed_path + "'");
  c.sha256 = to_hex(sha256(c.bytes));
  return c;
}

// The rules of §10 against what the site holds: true for a feed to keep, false for the one it
// already keeps.
Result<bool> admissible(const Site& s, const Candidate& c, const std::optional<AcceptedFeed>& held) {
  const std::string serial = std::to_string(c.feed.serial);
  if (c.feed.product != s.product)
    return fail(ErrorClass::policy,
                "the feed is for product '" + c.feed.product + "'; site '" + s.name + "' runs '" + s.product + "'");
  if (!held) return true;
  if (c.sha256 == held->sha256) return false;
  const std::string mine = std::to_string(held->feed.serial);
  if (c.feed.serial < held->feed.serial)
    return fail(ErrorClass::policy, "the feed's serial " + serial + " is lower than the accepted feed's " + mine +
                                        ": an older feed is never accepted again");
  if (c.feed.serial == held->feed.serial)
    return fail(ErrorClass::policy, "the feed's serial " + serial +
                                        " is the accepted feed's, with other bytes (sha256 " + c.sha256 +
                                        ", accepted " + held->sha256 + ")");
  return true;
}

// The releases the feed offers this site: the site's channel or a more stable one, newer than the
// installed release, not deprecated; per version, critical when any of its entries says so.
Result<std::map<std::string, bool>> offered(const Site& s, const Feed& f, const std::set<std::string>& deprecated,
                                            const std::string& installed) {
  std::optional<SemVer> inst;
  if (!installed.empty()) {
    AIRLOCK_TRY(inst, parse_semver(installed), "installed version in state.db");
  }
  std::map<std::string, bool> out;
  for (const auto& e : f.entries) {
    if (static_cast<int>(e.channel) > static_cast<int>(s.channel) || e.deprecated || deprecated.count(e.version))
      continue;
    auto v = parse_semver(e.version);
    if (!v || (inst && compare_semver(*v, *inst) <= 0)) continue;
    out[e.version] = out[e.version] || e.critical;
  }
  return out;
}

// The kept copy: feed.toml and its signatures under their canonical names.
Status store_copy(const Site& s, const Candidate& c) {
  const std::string dir = feed_copy_dir(s, c.sha256);
  std::error_code ec;
  fs::remove_all(dir, ec);  // what an accept that did not finish left; nothing names it
  AIRLOCK_CHECK(make_dirs(dir, 0700), "keeping the feed");
  for (const auto& sig : c.sigs) {
    // The verifier proved the name ends in ".<KEYID>.minisig" (a dot, 16 hex digits, ".minisig").
    const std::string tail = sig.name.substr(sig.name.size() - 25);
    AIRLOCK_CHECK(write_file_atomic(dir + "/feed.toml" + tail, sig.text, 0600), "keeping the feed's signatures");
  }
  return write_file_atomic(dir + "/feed.toml", c.bytes, 0600);
}

// Every kept copy but the accepted one.
void prune_copies(const Site& s, const std::string& keep) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(feed_store_dir(s), ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 64 && name != keep && e.is_directory(ec)) fs::remove_all(e.path(), ec);
  }
}

json acceptance_json(const FeedAcceptance& r, const std::string& id, const std::string& installed,
                     const std::string& detail) {
  return {{"run", id},
          {"kind", "feed-accept"},
          {"product", r.product},
          {"serial", r.serial},
          {"sha256", r.sha256},
          {"published", r.published},
          {"previous_serial", r.previous_serial ? json(*r.previous_serial) : json(nullptr)},
          {"deprecated", r.deprecated},
          {"met", r.met},
          {"from", installed},
          {"to", installed},
          {"outcome", outcome_name(Outcome::feed_accepted)},
          {"detail", detail}};
}

// The releases met, a history row and its audit entry, in one transaction.
Result<std::string> record(Ctx& c, const FeedAcceptance& r, const std::map<std::string, bool>& met,
                           const std::string& installed) {
  const std::string at = c.now();
  const std::string id = "feed-accept-" + new_run_id(c.env);
  const std::string detail = "feed serial " + std::to_string(r.serial) + " (sha256 " + r.sha256 + ") accepted";
  HistoryRecord h{
      id,           at,           at, installed, installed, Outcome::feed_accepted, detail, "[]", c.env.started_by,
      std::nullopt, std::nullopt, ""};
  AIRLOCK_CHECK(c.st.begin(), "recording the feed");
  auto head = [&]() -> Result<std::string> {
    for (const auto& [version, critical] : met) AIRLOCK_CHECK(c.st.mark_seen(version, at, critical), "state");
    AIRLOCK_CHECK(c.st.add_history(h), "history");
    return audit_append(c.st, at, "feed-accept", dump_json(acceptance_json(r, id, installed, detail)));
  }();
  if (!head) {
    c.st.rollback_tx();
    return fail(head.error().with_context("recording the feed"));
  }
  AIRLOCK_CHECK(c.st.commit(), "recording the feed");
  return head;
}

FeedAcceptance report_of(const Site& s, const Candidate& c, const SiteFeed& held) {
  FeedAcceptance r;
  r.site_name = s.name;
  r.product = c.feed.product;
  r.serial = c.feed.serial;
  r.published = format_rfc3339(c.feed.published);
  r.sha256 = c.sha256;
  if (held.accepted) r.previous_serial = held.accepted->feed.serial;
  return r;
}

// Keeps a feed that passed every check; `held` is the site's feed state read under the lock.
Result<FeedAcceptance> keep(Ctx& c, const Candidate& cand, const SiteFeed& held) {
  FeedAcceptance r = report_of(c.site, cand, held);
  r.changed = true;
  std::set<std::string> deprecated = held.deprecated;
  for (const auto& e : cand.feed.entries)
    if (e.deprecated && deprecated.insert(e.version).second) r.deprecated.push_back(e.version);
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "state");
  AIRLOCK_TRY(auto met, offered(c.site, cand.feed, deprecated, installed), "feed accept");
  for (const auto& [version, critical] : met) r.met.push_back(version);
  AIRLOCK_CHECK(store_copy(c.site, cand), "feed accept");
  if (!r.deprecated.empty()) AIRLOCK_CHECK(save_deprecated(c.site, deprecated), "feed accept");
  AIRLOCK_TRY(r.audit_head, record(c, r, met, installed), "feed accept");
  AIRLOCK_CHECK(write_file_atomic(feed_pointer_path(c.site), cand.sha256 + "\n", 0600), "feed accept");
  prune_copies(c.site, cand.sha256);
  c.emit("feed", "accepted feed serial " + std::to_string(r.serial) + " (sha256 " + r.sha256 + ")");
  return r;
}

}  // namespace

Result<FeedAcceptance> accept_feed(Ctx& c, const std::string& feed_path) {
  AIRLOCK_TRY(auto cand, verified(c.site, feed_path, c.env.now()), "feed accept");
  AIRLOCK_TRY(auto held, accepted_feed(c.site), "feed accept");
  AIRLOCK_TRY(const bool fresh, admissible(c.site, cand, held.accepted), "feed accept");
  if (!fresh) return report_of(c.site, cand, held);
  return keep(c, cand, held);
}

Result<FeedAcceptance> accept_feed(const std::string& site_toml, const std::string& feed_path, const Env& env) {
  AIRLOCK_TRY(auto site, load_site(site_toml), "feed accept");
  // Checked first without the lock, so that a refused feed creates nothing, not even state.db;
  // checked again under the lock, where another process may have accepted a feed meanwhile.
  AIRLOCK_TRY(auto cand, verified(site, feed_path, env.now()), "feed accept");
  AIRLOCK_TRY(auto held, accepted_feed(site), "feed accept");
  AIRLOCK_TRY(const bool fresh, admissible(site, cand, held.accepted), "feed accept");
  if (!fresh) return report_of(site, cand, held);
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("feed accept"));
  return accept_feed(*opened->ctx, feed_path);
}

}  // namespace airlock::applier

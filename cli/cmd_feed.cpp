// airlock feed: HQ's channel feed (spec §10). init, add, promote, deprecate, sign, show. Every change
// writes the canonical feed with serial + 1 and `published` from SOURCE_DATE_EPOCH or the clock,
// atomically, then removes the detached signatures of the feed it replaced (they sign other bytes).
// At a site, `feed accept` keeps a verified feed (applier/feed_store.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <utility>

#include "applier/feed_store.hpp"
#include "applier/telemetry.hpp"
#include "cli/cmd_site.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/crypto/hash.hpp"
#include "core/model/feed.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"
#include "verifier/feed.hpp"
#include "verifier/verifier.hpp"

namespace airlock::cli {
namespace {

namespace fs = std::filesystem;

const char* kFeedUsage =
    "airlock feed init FEED.toml --product P\n"
    "       airlock feed add FEED.toml BUNDLE --channel beta|rc|recommended [--critical] --trust T\n"
    "       airlock feed promote FEED.toml VERSION --to rc|recommended [--telemetry FILE...]\n"
    "       airlock feed deprecate FEED.toml VERSION\n"
    "       airlock feed sign FEED.toml (--key K.key | --signature F.minisig)\n"
    "       airlock feed show FEED.toml [--json]\n"
    "       airlock feed accept FEED.toml --site site.toml [--json]";

const char* kFeedDescription =
    "Keeps HQ's channel feed (feed.toml): which release is in beta, rc or recommended, which is\n"
    "critical and which is deprecated. A channel moves forward by signing a new feed, never by\n"
    "rebuilding a bundle. Every change (init, add, promote, deprecate) writes the canonical feed\n"
    "with serial + 1 and `published` from SOURCE_DATE_EPOCH or the clock (same input, same bytes),\n"
    "and removes the old detached signatures: the feed must then be signed again, by as many\n"
    "people as the trust root's threshold, each with `feed sign` (one file per signer beside the\n"
    "feed: FEED.toml.<KEYID>.minisig). `add` verifies the bundle against --trust first and refuses\n"
    "one below threshold: a bundle enters a feed only after its last signature. `promote` never\n"
    "moves a release back (recommended -> rc is refused, exit 13); a broken release is deprecated.\n"
    "With --telemetry FILE..., promote prints the summary of those telemetry exports for the\n"
    "version (`airlock telemetry summarize`), the evidence for the promotion; a malformed export is\n"
    "refused (exit 10) before the feed changes.\n"
    "An auditor checks a signature with stock minisign:\n"
    "  minisign -V -H -p hq.pub -m feed.toml -x feed.toml.<KEYID>.minisig\n"
    "At a site, `accept` checks a feed against the site's trust root (and its sticky revocations)\n"
    "and keeps it in the state folder: exit 10 malformed, 11 below threshold or a bad signature,\n"
    "13 another product, a lower serial than the accepted feed, or the same serial with other\n"
    "bytes (the same feed again changes nothing). Deprecations stay, whatever a later feed says.";

const char* kFeedExamples =
    "  airlock feed init feed.toml --product demo\n"
    "  airlock feed add feed.toml demo-1.1.0.tar.zst --channel beta --trust keys/trust.toml\n"
    "  airlock feed promote feed.toml 1.1.0 --to recommended\n"
    "  airlock feed sign feed.toml --key keys/demo-hq.key\n"
    "  airlock feed show feed.toml --json\n"
    "  airlock feed accept /media/usb/feed.toml --site /srv/site/site.toml\n";

struct Ctx {
  std::string action, file;
  const po::variables_map& vm;
  bool json;
  int err(const Error& e) const { return report_error("feed " + action, e, json); }
};

Result<Feed> load_feed(const std::string& path) {
  AIRLOCK_TRY(auto bytes, read_file(path, kMaxFeedBytes, ErrorClass::malformed), "feed");
  AIRLOCK_TRY(auto feed, parse_feed(bytes), "'" + path + "'");
  return feed;
}

// SOURCE_DATE_EPOCH when set (reproducible output), else the clock; whole seconds, UTC.
Result<Timestamp> publish_time() {
  Timestamp t;
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde && *sde) {
    AIRLOCK_TRY(t.unix_seconds, parse_integer(sde, 0, 253402300799, "SOURCE_DATE_EPOCH"), "publish time");
    return t;
  }
  t.unix_seconds = now_utc().unix_seconds;
  return t;
}

// The detached signatures beside `path`, by file name.
std::vector<std::string> signature_files(const std::string& path) {
  auto sigs = verifier::read_feed_signatures(path);
  std::vector<std::string> out;
  if (sigs)
    for (const auto& s : *sigs) out.push_back(s.name);
  return out;
}

std::string dir_of(const std::string& path) { return parent_dir(path); }

nlohmann::json telemetry_of_version(const applier::TelemetrySummary& s, const std::string& version) {
  nlohmann::json j = applier::telemetry_summary_json(s), kept = nlohmann::json::array();
  for (const auto& v : j["versions"])
    if (v["version"] == version) kept.push_back(v);
  j["versions"] = kept;
  return j;
}

// The edit is written as a new feed; the old signatures go once it is in place (a crash between
// leaves signatures over other bytes, which count for nothing).
Status save_feed(const std::string& path, Feed f, std::vector<std::string>& removed) {
  f.serial += 1;
  AIRLOCK_TRY(f.published, publish_time(), "writing the feed");
  AIRLOCK_CHECK(validate_feed(f), "writing the feed");
  const auto old = signature_files(path);
  AIRLOCK_CHECK(write_file_atomic(path, render_feed(f)), "writing the feed");
  for (const auto& name : old) {
    const auto p = (fs::path(dir_of(path)) / name).string();
    if (sys::unlink(p.c_str()) != 0 && errno != ENOENT) return fail(errno_error("removing old signature", p, errno));
    removed.push_back(name);
  }
  return {};
}

// `telemetry`: promote's evidence, the summary of the promoted version (--telemetry).
int saved(const Ctx& c, Feed f, const std::string& what, const applier::TelemetrySummary* telemetry = nullptr,
          const std::string& version = "") {
  std::vector<std::string> removed;
  if (auto s = save_feed(c.file, f, removed); !s) return c.err(s.error());
  const auto serial = f.serial + 1;
  if (c.json) {
    nlohmann::json j = {
        {"ok", true}, {"feed", c.file}, {"serial", serial}, {"change", what}, {"signatures_removed", removed}};
    if (telemetry) j["telemetry"] = telemetry_of_version(*telemetry, version);
    print_input_json(j);
    return 0;
  }
  std::cout << printable(c.file) << ": serial " << serial << ": " << printable(what) << "\n";
  if (telemetry) std::cout << printable(applier::telemetry_summary_text(*telemetry, version), Newlines::keep);
  if (!removed.empty()) std::cout << "removed " << removed.size() << " signature(s) over the previous feed\n";
  std::cout << "unsigned: sign it with `airlock feed sign " << printable(c.file) << " --key K.key`\n";
  return 0;
}

std::optional<int> need(const Ctx& c, const char* o) {
  if (c.vm.count(o)) return std::nullopt;
  const std::string what = std::string(o) == "arg" ? (c.action == "add" ? "BUNDLE" : "VERSION") : "--" + std::string(o);
  return c.err(Error(ErrorClass::usage, what + " is required for 'feed " + c.action + "'"));
}

int do_init(const Ctx& c) {
  if (auto e = need(c, "product")) return *e;
  if (::access(c.file.c_str(), F_OK) == 0)
    return c.err(Error(ErrorClass::usage, "'" + c.file + "' exists: a feed is started once, then edited"));
  Feed f;
  f.product = c.vm["product"].as<std::string>();
  if (auto ok = validate_feed(f); !ok) return c.err(ok.error().reclassed(ErrorClass::usage).with_context("--product"));
  return saved(c, f, "new feed for product " + f.product);
}

Result<TrustRoot> load_trust(const std::string& path) {
  auto text = read_file(path, kMaxTrustRootBytes, ErrorClass::usage);
  if (!text) return fail(text.error().reclassed(ErrorClass::usage).with_context("trust root"));
  AIRLOCK_TRY(auto t, parse_trust_root(*text, ErrorClass::usage), "trust root '" + path + "'");
  return t;
}

// The bundle verified in full against the trust root (threshold, policy, every payload byte); its
// size, whole-file sha256 and, when it travels as .partNNNN, each part's sha256 (spec §9) are taken
// in the same pass, so every byte is read once and what is listed is what was verified.
Result<verifier::Report> verify_bundle(const std::string& bundle, const std::string& trust_path, const Feed& f) {
  verifier::Request req;
  req.bundle_path = bundle;
  AIRLOCK_TRY(req.trust, load_trust(trust_path), "feed add");
  req.policy.product = f.product;
  req.whole_file_sha256 = true;
  req.part_sha256 = true;
  AIRLOCK_TRY(auto rep, verifier::verify(req), "bundle '" + bundle + "' (a bundle enters a feed only once verified)");
  return rep;
}

Result<Channel> channel_option(const Ctx& c, const char* name) {
  const auto text = c.vm[name].as<std::string>();
  auto ch = parse_channel(text);
  if (!ch)
    return fail(ErrorClass::usage, std::string("--") + name + " '" + text + "' is not one of beta, rc, recommended");
  return *ch;
}

int do_add(const Ctx& c) {
  for (const char* o : {"arg", "channel", "trust"})
    if (auto e = need(c, o)) return *e;
  auto f = load_feed(c.file);
  if (!f) return c.err(f.error());
  auto ch = channel_option(c, "channel");
  if (!ch) return c.err(ch.error());
  const auto bundle = c.vm["arg"].as<std::string>();
  FeedEntry e;
  e.file = fs::path(bundle).filename().string();
  for (const auto& old : f->entries)
    if (old.file == e.file)
      return c.err(Error(ErrorClass::usage, "'" + e.file + "' is already in the feed (version " + old.version + ")"));
  auto rep = verify_bundle(bundle, c.vm["trust"].as<std::string>(), *f);
  if (!rep) return c.err(rep.error());
  e.version = rep->manifest.release.version.text;
  e.sha256 = rep->bundle_sha256;
  e.size = rep->bundle_bytes;
  e.parts = rep->part_sha256;
  e.channel = *ch;
  // A feed may raise a release to critical, never lower it: the manifest's flag is kept.
  e.critical = c.vm.count("critical") > 0 || rep->manifest.release.critical;
  f->entries.push_back(e);
  return saved(
      c, *f,
      "added " + e.version + " (" + e.file + ") to " + channel_name(e.channel) + (e.critical ? ", critical" : ""));
}

Result<std::vector<FeedEntry*>> entries_of(Feed& f, const std::string& version) {
  std::vector<FeedEntry*> out;
  for (auto& e : f.entries)
    if (e.version == version) out.push_back(&e);
  if (out.empty()) return fail(ErrorClass::usage, "version " + version + " is not in the feed");
  return out;
}

// Forward only: beta -> rc -> recommended. A broken release is deprecated, never demoted.
Status promote(Feed& f, const std::string& version, Channel to) {
  AIRLOCK_TRY(auto entries, entries_of(f, version), "promote");
  for (const auto* e : entries) {
    if (e->deprecated) return fail(ErrorClass::policy, version + " is deprecated: it is never promoted");
    if (static_cast<int>(to) > static_cast<int>(e->channel))
      return fail(ErrorClass::policy, version + " is in " + channel_name(e->channel) + ": moving it back to " +
                                          channel_name(to) +
                                          " is refused (channels only move forward; "
                                          "deprecate a broken release instead)");
    if (to == e->channel) return fail(ErrorClass::usage, version + " is already in " + channel_name(to));
  }
  for (auto* e : entries) e->channel = to;
  return {};
}

int do_promote(const Ctx& c) {
  for (const char* o : {"arg", "to"})
    if (auto e = need(c, o)) return *e;
  auto to = channel_option(c, "to");
  if (!to) return c.err(to.error());
  if (*to == Channel::beta)
    return c.err(Error(ErrorClass::usage, "--to is rc or recommended: beta is where releases start"));
  auto f = load_feed(c.file);
  if (!f) return c.err(f.error());
  const auto version = c.vm["arg"].as<std::string>();
  std::optional<applier::TelemetrySummary> telemetry;  // read first: a malformed export changes nothing
  if (c.vm.count("telemetry")) {
    auto s = applier::telemetry_summarize(c.vm["telemetry"].as<std::vector<std::string>>());
    if (!s) return c.err(s.error());
    telemetry = std::move(*s);
  }
  if (auto ok = promote(*f, version, *to); !ok) return c.err(ok.error());
  return saved(c, *f, "promoted " + version + " to " + channel_name(*to), telemetry ? &*telemetry : nullptr, version);
}

int do_deprecate(const Ctx& c) {
  if (auto e = need(c, "arg")) return *e;
  auto f = load_feed(c.file);
  if (!f) return c.err(f.error());
  const auto version = c.vm["arg"].as<std::string>();
  auto entries = entries_of(*f, version);
  if (!entries) return c.err(entries.error());
  bool changed = false;
  for (auto* e : *entries) changed |= !std::exchange(e->deprecated, true);
  if (!changed) return c.err(Error(ErrorClass::usage, version + " is already deprecated"));
  return saved(c, *f, "deprecated " + version);
}

// One detached signature over the feed's exact bytes, by a key file or made elsewhere (stock
// minisign -S -m feed.toml), as `airlock sign` does for a bundle's manifest.
Result<minisign::Signature> new_signature(const Ctx& c, const Feed& f, const std::string& bytes) {
  if (c.vm.count("key") == c.vm.count("signature"))
    return fail(ErrorClass::usage, "give exactly one of --key and --signature");
  if (c.vm.count("key")) {
    AIRLOCK_TRY(auto sk, load_secret_key(c.vm["key"].as<std::string>()), "feed sign");
    return minisign::sign(
        sk, bytes,
        "airlock-feed " + f.product + " serial " + std::to_string(f.serial) + " feed-sha256:" + to_hex(sha256(bytes)));
  }
  AIRLOCK_TRY(auto text,
              read_file(c.vm["signature"].as<std::string>(), kMaxSignatureFileBytes, ErrorClass::not_authentic),
              "feed sign");
  return minisign::parse_signature(text);
}

int do_sign(const Ctx& c) {
  auto bytes = read_file(c.file, kMaxFeedBytes, ErrorClass::malformed);
  if (!bytes) return c.err(bytes.error());
  auto f = parse_feed(*bytes);
  if (!f) return c.err(f.error());
  auto sig = new_signature(c, *f, *bytes);
  if (!sig) return c.err(sig.error());
  const auto name = verifier::feed_signature_name(fs::path(c.file).filename().string(), sig->key_id);
  const auto out = (fs::path(dir_of(c.file)) / name).string();
  if (auto ok = write_file_atomic(out, minisign::format_signature(*sig)); !ok) return c.err(ok.error());
  const auto all = signature_files(c.file);
  if (c.json) {
    print_input_json({{"ok", true},
                      {"feed", c.file},
                      {"signature", out},
                      {"key_id", minisign::key_id_hex(sig->key_id)},
                      {"signatures", all}});
  } else {
    std::cout << "signed " << printable(c.file) << " (serial " << f->serial << ") with "
              << minisign::key_id_hex(sig->key_id) << ": " << printable(out) << "; signature files now: " << all.size()
              << "\n";
  }
  return 0;
}

nlohmann::json entry_json(const FeedEntry& e) {
  return {{"version", e.version},   {"file", e.file},
          {"sha256", e.sha256},     {"size", e.size},
          {"parts", e.parts},       {"channel", channel_name(e.channel)},
          {"critical", e.critical}, {"deprecated", e.deprecated}};
}

int do_show(const Ctx& c) {
  auto f = load_feed(c.file);
  if (!f) return c.err(f.error());
  sort_feed_entries(f->entries);
  const auto sigs = signature_files(c.file);
  if (c.json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& e : f->entries) entries.push_back(entry_json(e));
    print_input_json({{"ok", true},
                      {"product", f->product},
                      {"serial", f->serial},
                      {"published", format_rfc3339(f->published)},
                      {"entries", entries},
                      {"signature_files", sigs}});
    return 0;
  }
  std::cout << "feed " << printable(c.file) << ": product " << printable(f->product) << ", serial " << f->serial
            << ", published " << format_rfc3339(f->published) << ", " << sigs.size() << " signature file(s)\n";
  for (const auto& e : f->entries) {
    std::cout << "  " << printable(e.version) << "  " << channel_name(e.channel) << (e.critical ? "  critical" : "")
              << (e.deprecated ? "  DEPRECATED" : "") << "  " << printable(e.file) << "  " << human_bytes(e.size)
              << (e.parts.empty() ? "" : "  " + std::to_string(e.parts.size()) + " parts") << "  sha256 " << e.sha256
              << "\n";
  }
  return 0;
}

void print_acceptance(const applier::FeedAcceptance& r) {
  if (!r.changed) {
    std::cout << "site " << printable(r.site_name) << ": feed serial " << r.serial
              << " is already the accepted one; nothing changed\n";
    return;
  }
  std::cout << "site " << printable(r.site_name) << ": accepted feed serial " << r.serial << " (sha256 " << r.sha256
            << "), product " << printable(r.product) << ", published " << r.published
            << (r.previous_serial ? ", replacing serial " + std::to_string(*r.previous_serial) : std::string()) << "\n";
  for (const auto& v : r.deprecated) std::cout << "  deprecated " << printable(v) << " (for good)\n";
  for (const auto& v : r.met) std::cout << "  offers " << printable(v) << "\n";
}

int do_accept(const Ctx& c) {
  const std::string site = c.vm.count("site") ? c.vm["site"].as<std::string>() : "site.toml";
  auto r = applier::accept_feed(site, c.file, cli_env(c.json));
  if (!r) return c.err(r.error());
  if (!c.json) {
    print_acceptance(*r);
    return 0;
  }
  print_input_json({{"ok", true},
                    {"site", r->site_name},
                    {"feed", c.file},
                    {"product", r->product},
                    {"serial", r->serial},
                    {"published", r->published},
                    {"sha256", r->sha256},
                    {"previous_serial", r->previous_serial ? nlohmann::json(*r->previous_serial) : nlohmann::json()},
                    {"changed", r->changed},
                    {"deprecated", r->deprecated},
                    {"met", r->met},
                    {"audit_head", r->audit_head}});
  return 0;
}

}  // namespace

int cmd_feed(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("action", po::value<std::string>()->required(),
                     "init | add | promote | deprecate | sign | show | accept")(
      "file", po::value<std::string>()->required(), "the feed (feed.toml)")(
      "arg", po::value<std::string>(), "add: the bundle; promote, deprecate: the version")(
      "product", po::value<std::string>(), "init: the product the feed is for")("channel", po::value<std::string>(),
                                                                                "add: beta | rc | recommended")(
      "critical", "add: mark the release critical")("trust", po::value<std::string>(),
                                                    "add: the trust root the bundle must meet (trust.toml)")(
      "to", po::value<std::string>(), "promote: rc | recommended")(
      "telemetry", po::value<std::vector<std::string>>()->multitoken(),
      "promote: telemetry exports (JSON Lines); prints their summary for the version")(
      "key,k", po::value<std::string>(), "sign: secret key")(
      "signature", po::value<std::string>(), "sign: attach this .minisig (made with `minisign -S -m feed.toml`)")(
      "site,s", po::value<std::string>(), "accept: the site (site.toml; default ./site.toml)")(
      "json", "machine-readable output");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1).add("arg", 1);
  auto p = parse_args(argc, argv, kFeedUsage, kFeedDescription, opts, pos, kFeedExamples);
  if (p.exit_now) return *p.exit_now;
  Ctx c{p.vm["action"].as<std::string>(), p.vm["file"].as<std::string>(), p.vm, p.vm.count("json") > 0};
  if (c.action == "init") return do_init(c);
  if (c.action == "add") return do_add(c);
  if (c.action == "promote") return do_promote(c);
  if (c.action == "deprecate") return do_deprecate(c);
  if (c.action == "sign") return do_sign(c);
  if (c.action == "show") return do_show(c);
  if (c.action == "accept") return do_accept(c);
  return c.err(Error(ErrorClass::usage,
                     "unknown action '" + c.action + "' (init, add, promote, deprecate, sign, show, accept)"));
}

}  // namespace airlock::cli

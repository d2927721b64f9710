// scan(): list the folder (what is a bundle, what is ignored and why), check each bundle, judge it
// against the site. Nothing here writes.
#include "applier/scan.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <variant>

#include "applier/feed_store.hpp"
#include "applier/lifecycle.hpp"
#include "applier/site.hpp"
#include "applier/state_db.hpp"
#include "applier/trust_state.hpp"
#include "core/container/container.hpp"
#include "core/limits.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "verifier/feed.hpp"
#include "verifier/head_check.hpp"
#include "verifier/inspect.hpp"
#include "verifier/verifier.hpp"

namespace airlock::applier {

const char* scan_depth_name(ScanDepth d) { return d == ScanDepth::deep ? "deep" : "head"; }

namespace {

namespace fs = std::filesystem;

struct Found {
  std::map<std::string, std::uint64_t> whole;                           // name -> size
  std::map<std::string, std::map<std::uint32_t, std::uint64_t>> split;  // base -> part -> size
  std::vector<IgnoredFile> ignored;
  bool feed = false;            // feed.toml is there
  bool feed_sig_links = false;  // a symbolic link is named like one of its signatures
};

constexpr const char* kFeedName = "feed.toml";

bool is_feed_signature(const std::string& name) {
  return name.rfind(std::string(kFeedName) + ".", 0) == 0 && name.size() > 18 &&
         name.compare(name.size() - 8, 8, ".minisig") == 0;
}

// "<base>.partNNNN" (four digits, from 0001): the part number, else 0.
std::uint32_t part_number(const std::string& name, std::string& base) {
  const auto dot = name.rfind(".part");
  if (dot == std::string::npos || dot == 0 || name.size() != dot + 9) return 0;
  std::uint32_t n = 0;
  for (std::size_t i = dot + 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<std::uint32_t>(name[i] - '0');
  }
  base = name.substr(0, dot);
  return n;
}

bool starts_with_zstd_frame(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::array<char, 4> magic{};
  if (!in.read(magic.data(), magic.size())) return false;
  return magic == std::array<char, 4>{'\x28', '\xb5', '\x2f', '\xfd'};
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Sorts one directory entry into `out`. Links are judged by themselves (never followed), so
// nothing outside the folder is read.
void classify(const fs::directory_entry& e, Found& out) {
  const std::string name = e.path().filename().string();
  std::error_code ec;
  const auto st = e.symlink_status(ec);
  if (name.rfind("._", 0) == 0) return out.ignored.push_back({name, "macOS AppleDouble file"});
  if (ec) return out.ignored.push_back({name, "unreadable: " + ec.message()});
  if (fs::is_symlink(st)) {
    out.feed_sig_links |= is_feed_signature(name);
    return out.ignored.push_back({name, "symbolic link (not followed)"});
  }
  if (!fs::is_regular_file(st)) return out.ignored.push_back({name, "not a regular file"});
  if (name == kFeedName) {
    out.feed = true;
    return;
  }
  if (is_feed_signature(name)) return;  // read with the feed
  const auto size = e.file_size(ec);
  std::string base;
  if (const auto n = part_number(name, base); n > 0) {
    out.split[base][n] = ec ? 0 : size;
    return;
  }
  if (ends_with(name, ".tar.zst") || starts_with_zstd_frame(e.path())) {
    out.whole[name] = ec ? 0 : size;
    return;
  }
  out.ignored.push_back({name, "not a bundle"});
}

Result<Found> list_folder(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return fail(ErrorClass::io, "cannot list '" + dir + "': " + ec.message());
  Found out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return fail(ErrorClass::io, "listing '" + dir + "': " + ec.message());
    classify(*it, out);
  }
  if (ec) return fail(ErrorClass::io, "listing '" + dir + "': " + ec.message());
  // Parts of a bundle that is also there whole would be read as the whole file (open_source).
  for (auto it2 = out.split.begin(); it2 != out.split.end();) {
    if (!out.whole.count(it2->first)) {
      ++it2;
      continue;
    }
    for (const auto& [n, size] : it2->second)
      out.ignored.push_back({part_name(it2->first, n), "a part of '" + it2->first + "', which is also present whole"});
    it2 = out.split.erase(it2);
  }
  std::sort(out.ignored.begin(), out.ignored.end(),
            [](const IgnoredFile& a, const IgnoredFile& b) { return a.name < b.name; });
  return out;
}

struct SiteView {
  Site site;
  verifier::Request base;  // trust root, sticky revocations, time; no product/channel/installed
  std::optional<SemVer> installed;
  std::string language;                        // site.toml's [site] language: the notes scan shows
  SiteFeed feed;                               // what the feeds the site accepted say
  std::map<std::string, std::string> skipped;  // version -> when the operator skipped it
};

Result<SiteView> load_view(const std::string& site_toml) {
  SiteView v;
  AIRLOCK_TRY(v.site, load_site(site_toml), "site");
  AIRLOCK_TRY(auto text, read_file(v.site.trust_root, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(v.base.trust, parse_trust_root(text, ErrorClass::usage), "trust root '" + v.site.trust_root + "'");
  AIRLOCK_TRY(v.base.revoked_keys, load_revoked_keys(v.site), "revoked keys");
  v.base.policy.at = now_utc();
  v.language = v.site.language;
  AIRLOCK_TRY(v.feed, accepted_feed(v.site), "site feed");
  return v;
}

// The policy the site's apply would apply, each reason named (the verifier stops at the first).
void judge(const SiteView& v, ScannedBundle& b) {
  const Release& r = b.manifest->release;
  const auto& inst = v.installed;
  if (r.product != v.site.product)
    b.why_not.push_back("other product '" + r.product + "' (the site runs '" + v.site.product + "')");
  if (inst && compare_semver(r.version, *inst) < 0) b.why_not.push_back("older than the installed " + inst->text);
  if (inst && compare_semver(r.version, *inst) == 0) b.why_not.push_back("same as the installed " + inst->text);
  if (static_cast<int>(b.channel) > static_cast<int>(v.site.channel))
    b.why_not.push_back(std::string("channel ") + channel_name(b.channel) + " is less stable than the site's " +
                        channel_name(v.site.channel));
  if (b.deprecated) b.why_not.push_back("deprecated by the site's accepted feed (a deprecation is never undone)");
  // A critical release voids the skip, as apply does.
  if (auto sk = v.skipped.find(r.version.text); sk != v.skipped.end() && !b.critical)
    b.why_not.push_back("skipped by operator on " + sk->second + " (`airlock skip " + r.version.text +
                        " --undo` to allow)");
  if (inst && r.min_installed && compare_semver(*inst, *r.min_installed) < 0)
    b.why_not.push_back("min_installed " + r.min_installed->text + " not met: install " + r.min_installed->text +
                        " or later first (installed: " + inst->text + ")");
  // A delta's base is informational (spec §4): whether the image store holds what it leaves out
  // is proved by apply, from the manifests in its payload; only an empty site is sure to lack it.
  if (b.manifest->delta_base && !inst)
    b.why_not.push_back("a [delta] release (base " + *b.manifest->delta_base +
                        ") and nothing is installed: apply a full release first");
}

// The site's language when the bundle has notes in it, else English, which every bundle has.
std::string notes_language(const Manifest& m, const std::string& want) {
  for (const auto& n : m.notes)
    if (n.lang == want) return want;
  return "en";
}

void take_report(const verifier::Report& rep, ScannedBundle& b) {
  b.verified = true;
  b.manifest = rep.manifest;
  for (const auto& s : rep.signatures)
    if (s.counted) b.signers.push_back(s.key_id);
}

// Checks one bundle read from `path` (a file, or the base name of complete parts).
void check(const SiteView& v, const std::string& path, ScanDepth depth, ScannedBundle& b) {
  verifier::Request req = v.base;
  req.bundle_path = path;
  auto rep = depth == ScanDepth::deep ? verifier::verify(req) : verifier::verify_head(req);
  if (rep) {
    take_report(*rep, b);
  } else {
    b.error = rep.error();
    // What the head declares, shown so that the operator knows which release failed.
    if (auto seen = verifier::inspect(path, std::nullopt); seen && seen->manifest) b.manifest = seen->manifest;
  }
}

ScannedBundle scan_whole(const SiteView& v, const std::string& dir, const std::string& name, std::uint64_t size,
                         ScanDepth depth) {
  ScannedBundle b;
  b.file = name;
  b.size = size;
  check(v, dir + "/" + name, depth, b);
  return b;
}

ScannedBundle scan_split(const SiteView& v, const std::string& dir, const std::string& base,
                         const std::map<std::uint32_t, std::uint64_t>& parts, ScanDepth depth) {
  ScannedBundle b;
  b.file = base;
  b.parts = ScanParts{};
  b.parts->count = static_cast<std::uint32_t>(parts.size());
  for (std::uint32_t n = 1; n <= parts.rbegin()->first; ++n)
    if (!parts.count(n)) b.parts->missing.push_back(n);
  for (const auto& [n, size] : parts) b.size += size;
  if (b.parts->complete()) {
    check(v, dir + "/" + base, depth, b);
    return b;
  }
  // The head normally lies in the first part: it still tells which release this is.
  if (parts.count(1)) check(v, dir + "/" + part_name(base, 1), ScanDepth::head, b);
  std::string missing;
  for (auto n : b.parts->missing) missing += (missing.empty() ? "" : ", ") + part_name(base, n);
  if (!parts.count(1)) b.error = Error(ErrorClass::io, "no first part: missing " + missing);
  // A full verification needs every part: what the head check proved is not what --deep asks.
  if (depth == ScanDepth::deep) b.verified = false;
  b.why_not.push_back("incomplete: missing " + missing);
  return b;
}

// The channel and flags the site's apply would go by: the accepted feed's for a version it lists.
void place(const SiteView& v, ScannedBundle& b) {
  const Release& r = b.manifest->release;
  const bool ours = r.product == v.site.product;
  const FeedEntry* e = ours ? v.feed.entry(r.version.text, b.file) : nullptr;
  b.channel = e ? e->channel : r.channel;
  b.channel_source = e ? "feed" : "manifest";
  b.critical = is_critical(r.critical, ours ? v.feed.critical(r.version.text) : std::nullopt);
  b.deprecated = ours && v.feed.is_deprecated(r.version.text);
}

// The folder's feed.toml, checked as `feed accept` would check it; nothing is kept.
StickFeed check_stick_feed(const SiteView& v, const std::string& dir, bool sig_links) {
  StickFeed out;
  const std::string path = dir + "/" + kFeedName;
  if (auto bytes = read_file(path, kMaxFeedBytes, ErrorClass::malformed); bytes)
    if (auto f = parse_feed(*bytes)) out.serial = f->serial;
  if (sig_links) {
    out.error = Error(ErrorClass::malformed, "a signature of the feed is a symbolic link (not followed)");
    return out;
  }
  auto f = verifier::verify_feed_file(path, v.base.trust, v.base.policy.at.value_or(now_utc()), v.base.revoked_keys);
  out.verified = f.has_value();
  if (!f) out.error = f.error();
  return out;
}

void finish(const SiteView& v, ScannedBundle& b) {
  if (b.manifest) b.notes_lang = notes_language(*b.manifest, v.language);
  if (b.manifest) place(v, b);
  if (b.error) {
    const auto& e = *b.error;
    b.why_not.insert(b.why_not.begin(),
                     std::string("not verified: error[") + std::to_string(exit_code(e.cls())) + "]: " + e.what());
    return;
  }
  if (b.manifest) judge(v, b);
}

bool newest_first(const ScannedBundle& a, const ScannedBundle& b) {
  if (a.manifest.has_value() != b.manifest.has_value()) return a.manifest.has_value();
  if (a.manifest) {
    const int c = compare_semver(a.manifest->release.version, b.manifest->release.version);
    if (c != 0) return c > 0;
  }
  return a.file < b.file;
}

}  // namespace

Result<ScanReport> scan(const std::string& dir, const std::string& site_toml, ScanDepth depth) {
  AIRLOCK_TRY(auto v, load_view(site_toml), "scan");
  AIRLOCK_TRY(auto installed, StateDb::peek_installed(v.site.state_dir), "scan: installed release");
  if (installed) {
    AIRLOCK_TRY(v.installed, parse_semver(*installed), "scan: installed version in state.db");
  }
  AIRLOCK_TRY(v.skipped, StateDb::peek_skipped(v.site.state_dir), "scan: skipped releases");
  AIRLOCK_TRY(auto found, list_folder(dir), "scan");
  ScanReport rep;
  rep.dir = dir;
  rep.site_name = v.site.name;
  rep.product = v.site.product;
  rep.channel = channel_name(v.site.channel);
  rep.language = v.language;
  rep.installed = installed;
  rep.depth = depth;
  if (v.feed.accepted) rep.accepted_feed_serial = v.feed.accepted->feed.serial;
  if (found.feed) rep.stick_feed = check_stick_feed(v, dir, found.feed_sig_links);
  for (const auto& [name, size] : found.whole) rep.bundles.push_back(scan_whole(v, dir, name, size, depth));
  for (const auto& [base, parts] : found.split) rep.bundles.push_back(scan_split(v, dir, base, parts, depth));
  for (auto& b : rep.bundles) finish(v, b);
  std::stable_sort(rep.bundles.begin(), rep.bundles.end(), newest_first);
  rep.ignored = std::move(found.ignored);
  return rep;
}

}  // namespace airlock::applier

// Consumer/auditor commands: inspect (no checks) and verify (spec §7).
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/signals.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"
#include "verifier/feed.hpp"
#include "verifier/inspect.hpp"
#include "verifier/verifier.hpp"

namespace airlock::cli {

namespace {

nlohmann::json manifest_json(const Manifest& m) {
  nlohmann::json j;
  const auto& r = m.release;
  j["release"] = {{"product", r.product}, {"version", r.version.text}, {"created", format_rfc3339(r.created)},
                  {"channel", channel_name(r.channel)}, {"critical", r.critical}};
  if (r.min_installed) j["release"]["min_installed"] = r.min_installed->text;
  if (r.rollback_to) j["release"]["rollback_to"] = r.rollback_to->text;
  if (r.expires) j["release"]["expires"] = format_rfc3339(*r.expires);
  if (r.summary) j["release"]["summary"] = *r.summary;
  j["images"] = nlohmann::json::array();
  for (const auto& i : m.images) {
    nlohmann::json e = {{"ref", i.ref}, {"digest", i.digest}};
    if (i.layout) e["layout"] = *i.layout;
    j["images"].push_back(e);
  }
  if (m.delta_base) j["delta"] = {{"base", *m.delta_base}};
  j["migrations"] = nlohmann::json::array();
  for (const auto& mg : m.migrations) {
    nlohmann::json e = {{"id", mg.id}, {"database", mg.database}, {"up", mg.up}, {"reversible", mg.down.has_value()}};
    if (mg.down) e["down"] = *mg.down;
    j["migrations"].push_back(e);
  }
  j["config"] = nlohmann::json::array();
  for (const auto& c : m.config) j["config"].push_back({{"target", c.target}, {"patch", c.patch}, {"breaking", c.breaking}});
  j["notes"] = nlohmann::json::array();
  for (const auto& n : m.notes) j["notes"].push_back({{"lang", n.lang}, {"path", n.path}});
  if (m.trust_update) j["trust_update"] = *m.trust_update;
  j["files"] = nlohmann::json::array();
  for (const auto& f : m.files)
    j["files"].push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"executable", f.executable}});
  j["payload_bytes"] = m.total_size();
  return j;
}

// Every string here comes from the bundle, unverified: printable() keeps escape sequences and
// stray bytes off the terminal.
void print_manifest(std::ostream& o, const Manifest& m) {
  const auto& r = m.release;
  const auto t = [](const std::string& s) { return printable(s); };
  o << "product     " << t(r.product) << "\nversion     " << t(r.version.text) << "\ncreated     "
    << format_rfc3339(r.created) << "\nchannel     " << channel_name(r.channel) << (r.critical ? " (critical)" : "")
    << "\n";
  if (r.min_installed) o << "min installed " << t(r.min_installed->text) << "\n";
  if (r.rollback_to) o << "rollback to " << t(r.rollback_to->text) << "\n";
  if (r.expires) o << "expires     " << format_rfc3339(*r.expires) << "\n";
  if (r.summary) o << "summary     " << t(*r.summary) << "\n";
  if (m.delta_base) o << "delta from  " << t(*m.delta_base) << "\n";
  o << "images      " << m.images.size() << "\n";
  for (const auto& i : m.images)
    o << "  " << t(i.ref) << "  " << t(i.digest) << (i.layout ? "  (layout " + t(*i.layout) + ")" : "") << "\n";
  o << "migrations  " << m.migrations.size() << "\n";
  for (const auto& mg : m.migrations)
    o << "  " << t(mg.id) << " on " << t(mg.database) << (mg.down ? "" : "  (irreversible)") << "\n";
  o << "config      " << m.config.size() << "\n";
  for (const auto& c : m.config)
    o << "  " << t(c.target) << " <- " << t(c.patch) << (c.breaking ? "  (BREAKING: read the notes)" : "") << "\n";
  if (m.trust_update) o << "trust update " << t(*m.trust_update) << "\n";
  o << "files       " << m.files.size() << ", " << human_bytes(m.total_size()) << "\n";
  for (const auto& f : m.files)
    o << "  " << t(f.sha256.substr(0, 16)) << "…  " << f.size << "\t" << t(f.path) << (f.executable ? " (x)" : "")
      << "\n";
}

nlohmann::json feed_json(const verifier::FeedContext& f, const verifier::FeedMatch& m) {
  nlohmann::json j = {{"product", f.feed.product},
                      {"serial", f.feed.serial},
                      {"published", format_rfc3339(f.feed.published)},
                      {"entry", nullptr}};
  if (m.entry)
    j["entry"] = {{"version", m.entry->version},
                  {"file", m.entry->file},
                  {"sha256", m.entry->sha256},
                  {"size", m.entry->size},
                  {"channel", channel_name(m.entry->channel)},
                  {"critical", m.entry->critical},
                  {"deprecated", m.entry->deprecated}};
  return j;
}

void print_feed_match(const verifier::FeedContext& f, const verifier::FeedMatch& m) {
  std::cout << "feed        " << f.feed.product << " serial " << f.feed.serial << ", published "
            << format_rfc3339(f.feed.published) << "\n";
  if (m.entry)
    std::cout << "  entry     " << m.entry->file << " (sha256 " << m.entry->sha256.substr(0, 16) << "…, "
              << m.entry->size << " bytes) matches the bundle\n";
  else
    std::cout << "  entry     none: the feed does not list this release\n";
  std::cout << "channel     " << channel_name(m.channel) << " (from the "
            << verifier::channel_source_name(m.channel_source) << ")" << (m.critical ? ", critical" : "") << "\n";
}

// --feed: verified against the same trust root at the same verification time as the bundle.
Status load_feed(const std::string& path, verifier::Request& req) {
  const Timestamp at = req.policy.at ? *req.policy.at : now_utc();
  AIRLOCK_TRY(auto feed, verifier::verify_feed_file(path, req.trust, at), "feed '" + path + "'");
  req.feed = verifier::FeedContext{std::move(feed), {}};
  return {};
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("bundle", po::value<std::string>()->required(), "bundle file")(
      "lang", po::value<std::string>()->default_value("en"), "release notes language (falls back to en)")(
      "json", "machine-readable output");
  po::positional_options_description pos;
  pos.add("bundle", 1);
  auto p = parse_args(argc, argv, "airlock inspect BUNDLE [--json] [--lang pt-BR]",
                      "Shows what a bundle declares: release fields, images, migrations, config deltas, files,\n"
                      "signatures present and the release notes. INSPECTING IS NOT VERIFYING: nothing shown here\n"
                      "is checked. Use `airlock verify` before trusting any of it.",
                      opts, pos, "  airlock inspect demo-1.1.0.tar.zst --lang pt-BR\n");
  if (p.exit_now) return *p.exit_now;
  bool json = p.vm.count("json") > 0;
  auto r = verifier::inspect(p.vm["bundle"].as<std::string>(), p.vm["lang"].as<std::string>());
  if (!r) return report_error("inspect", r.error(), json);
  if (json) {
    nlohmann::json j;
    j["ok"] = true;
    j["verified"] = false;
    j["warning"] = "inspect does not verify signatures or hashes";
    j["manifest_sha256"] = r->manifest_sha256;
    if (r->manifest) j["manifest"] = manifest_json(*r->manifest);
    else j["manifest_problem"] = r->manifest_problem;
    j["signatures"] = nlohmann::json::array();
    for (const auto& s : r->signatures) {
      nlohmann::json e = {{"entry", s.entry}, {"well_formed", s.well_formed}};
      if (s.well_formed) e["key_id"] = s.key_id, e["trusted_comment"] = s.trusted_comment;
      else e["problem"] = s.problem;
      j["signatures"].push_back(e);
    }
    if (r->notes_text) j["notes"] = {{"lang", *r->notes_lang}, {"text", *r->notes_text}};
    if (!r->notes_problem.empty()) j["notes_problem"] = r->notes_problem;
    print_input_json(j, {"/notes/text"});
    return 0;
  }
  std::cout << "NOT VERIFIED: inspect shows what the bundle claims; run `airlock verify` to check it.\n\n";
  if (r->manifest) print_manifest(std::cout, *r->manifest);
  else
    std::cout << "manifest does not parse: " << r->manifest_problem << "\n";  // an Error text: printable
  std::cout << "manifest sha256 " << r->manifest_sha256 << "\nsignatures  " << r->signatures.size() << "\n";
  for (const auto& s : r->signatures)
    std::cout << "  "
              << (s.well_formed ? s.key_id + "  \"" + printable(s.trusted_comment) + "\""
                                : printable(s.entry) + "  malformed: " + s.problem)
              << "\n";
  if (r->notes_text)
    std::cout << "\nrelease notes (" << printable(*r->notes_lang) << ")\n"
              << printable(*r->notes_text, Newlines::keep) << (r->notes_text->ends_with("\n") ? "" : "\n");
  if (!r->notes_problem.empty()) std::cout << "\nrelease notes " << printable(r->notes_problem) << "\n";
  return 0;
}

int cmd_verify(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("bundle", po::value<std::string>()->required(), "bundle file (or base name of .partNNNN parts)")(
      "trust", po::value<std::string>()->required(), "pinned trust root (trust.toml)")(
      "extract", po::value<std::string>(), "extract the payload into DIR (must not exist or be empty); only on success")(
      "product", po::value<std::string>(), "refuse a bundle for another product")(
      "installed", po::value<std::string>(), "installed version: refuse a downgrade or an unmet min_installed")(
      "channel", po::value<std::string>(), "the site's channel: recommended | rc | beta")(
      "at", po::value<std::string>(), "verification time (RFC 3339), for audits; default now")(
      "clock-skew", po::value<std::string>()->default_value("5m"), "tolerance for `created` in the future")(
      "max-size", po::value<std::uint64_t>(), "refuse a payload larger than BYTES")(
      "feed", po::value<std::string>(),
      "FEED.toml (signatures beside it): match the bundle to its entry; the channel is the feed's")(
      "bundle-sha256", "also report the SHA-256 of the whole bundle file (as sha256sum prints it; costs a second hash stream)")("json", "machine-readable report on stdout");
  po::positional_options_description pos;
  pos.add("bundle", 1);
  auto p = parse_args(
      argc, argv,
      "airlock verify BUNDLE --trust trust.toml [--feed FEED.toml] [--extract DIR] [--product P] [--installed V]\n"
      "       [--channel C] [--at TIME]",
      "Verifies a bundle offline, in one streaming pass: the signatures over the exact manifest bytes\n"
      "against the pinned trust root (threshold, key windows, revocation), the manifest, the policy,\n"
      "then every payload file's name, order, size and SHA-256, and that nothing follows the archive.\n"
      "With --feed, the feed is verified against the same trust root first (10, 11), and the bundle's\n"
      "whole-file sha256 and size, from the same pass, must equal an entry of its version (12); the\n"
      "channel (checked against --channel) is the entry's, else the manifest's; a feed may mark the\n"
      "release critical; a deprecated release or a feed for another product is refused (13).\n"
      "verify writes nothing but the folder of --extract (no site, no feed is changed).\n"
      "Exit 0 only when all of it holds; 10 malformed, 11 not authentic, 12 integrity, 13 policy.",
      opts, pos,
      "  airlock verify demo-1.1.0.tar.zst --trust keys/trust.toml\n"
      "  airlock verify demo-1.1.0.tar.zst --trust trust.toml --extract /tmp/stage --installed 1.0.0 --channel rc\n"
      "  airlock verify old.tar.zst --trust trust.toml --at 2026-05-07T00:00:00Z --json\n"
      "  airlock verify demo-1.1.0.tar.zst --trust trust.toml --bundle-sha256   # plus the whole file's digest\n"
      "  airlock verify demo-1.1.0.tar.zst --trust trust.toml --feed feed.toml --channel recommended\n");
  if (p.exit_now) return *p.exit_now;
  bool json = p.vm.count("json") > 0;
  auto usage_err = [&](const std::string& msg) { return report_error("verify", Error(ErrorClass::usage, msg), json); };

  verifier::Request req;
  req.bundle_path = p.vm["bundle"].as<std::string>();
  std::string trust_path = p.vm["trust"].as<std::string>();
  auto trust_text = read_file(trust_path, kMaxTrustRootBytes, ErrorClass::usage);
  if (!trust_text)
    return report_error("verify", trust_text.error().reclassed(ErrorClass::usage).with_context("trust root"), json);
  auto trust = parse_trust_root(*trust_text, ErrorClass::usage);
  if (!trust) return report_error("verify", trust.error().with_context("trust root '" + trust_path + "'"), json);
  req.trust = *trust;
  if (p.vm.count("extract")) req.staging_dir = p.vm["extract"].as<std::string>();
  if (p.vm.count("product")) req.policy.product = p.vm["product"].as<std::string>();
  if (p.vm.count("installed")) {
    auto v = parse_semver(p.vm["installed"].as<std::string>());
    if (!v) return usage_err("--installed: " + v.error().what());
    req.policy.installed = *v;
  }
  if (p.vm.count("channel")) {
    auto c = parse_channel(p.vm["channel"].as<std::string>());
    if (!c) return usage_err("--channel must be recommended, rc or beta");
    req.policy.channel = *c;
  }
  if (p.vm.count("at")) {
    auto t = parse_rfc3339(p.vm["at"].as<std::string>());
    if (!t) return usage_err("--at: '" + p.vm["at"].as<std::string>() + "' is not an RFC 3339 time like 2026-05-06T10:00:00Z");
    req.policy.at = *t;
  }
  const std::string skew_text = p.vm["clock-skew"].as<std::string>();
  auto skew = parse_duration(skew_text);
  if (!skew || *skew < 0) return usage_err("--clock-skew: expected a duration like 300s, 5m, 2h, 1d");
  if (*skew > verifier::kMaxClockSkewSeconds)
    return usage_err("--clock-skew: '" + skew_text + "' is over the limit of 365d");
  req.policy.clock_skew_seconds = *skew;
  if (p.vm.count("max-size")) req.policy.max_size = p.vm["max-size"].as<std::uint64_t>();
  req.whole_file_sha256 = p.vm.count("bundle-sha256") > 0;
  if (auto s = p.vm.count("feed") ? load_feed(p.vm["feed"].as<std::string>(), req) : Status{}; !s)
    return report_error("verify", s.error(), json);

  Progress progress("verifying");
  req.on_progress = [&](const verifier::Progress& e) { progress.update(e.bytes_done, e.bytes_total, e.current_file); };
  // Ctrl-C or SIGTERM stop the run between chunks, so that --extract leaves no half folder; the
  // process then ends as the signal would have ended it.
  catch_termination_signals();
  req.stop = [] { return termination_signal() != 0; };
  auto r = verifier::verify(req);
  progress.done();
  if (!r && termination_signal() != 0 && verifier::is_stopped(r.error())) die_of(termination_signal());
  if (!r) return report_error("verify", r.error(), json);

  const auto& m = r->manifest;
  if (json) {
    nlohmann::json j;
    j["ok"] = true;
    j["verified"] = true;
    j["product"] = m.release.product;
    j["version"] = m.release.version.text;
    j["channel"] = channel_name(r->feed_match ? r->feed_match->channel : m.release.channel);
    j["channel_source"] = verifier::channel_source_name(r->feed_match ? r->feed_match->channel_source
                                                                      : verifier::ChannelSource::manifest);
    j["critical"] = r->feed_match ? r->feed_match->critical : m.release.critical;
    j["feed"] = r->feed_match ? feed_json(*req.feed, *r->feed_match) : nlohmann::json(nullptr);
    j["manifest_sha256"] = r->manifest_sha256;
    j["bundle_sha256"] = r->bundle_sha256.empty() ? nlohmann::json(nullptr) : nlohmann::json(r->bundle_sha256);
    j["bundle_bytes"] = r->bundle_bytes;
    j["threshold"] = r->threshold;
    j["valid_signatures"] = r->valid_signatures;
    j["signatures"] = nlohmann::json::array();
    for (const auto& s : r->signatures) {
      nlohmann::json e = {{"key_id", s.key_id}, {"counted", s.counted}};
      if (s.key_name) e["key_name"] = *s.key_name;
      if (!s.reason.empty()) e["reason"] = s.reason;
      j["signatures"].push_back(e);
    }
    j["files_checked"] = r->files_checked;
    j["bytes_checked"] = r->bytes_checked;
    j["verified_at"] = format_rfc3339(r->verified_at);
    j["clock_skew_seconds"] = r->clock_skew_seconds;
    j["trust_update"] = r->trust_update.has_value();
    if (r->stale_trust_update) j["stale_trust_update_serial"] = *r->stale_trust_update;
    if (r->staging_dir) j["extracted_to"] = *r->staging_dir;
    print_input_json(j);
    return 0;
  }
  const Channel channel = r->feed_match ? r->feed_match->channel : m.release.channel;
  const bool critical = r->feed_match ? r->feed_match->critical : m.release.critical;
  std::cout << "VERIFIED " << printable(m.release.product) << " " << printable(m.release.version.text) << " ("
            << channel_name(channel) << (critical ? ", critical" : "") << ")\n";
  std::cout << "signatures  " << r->valid_signatures << " valid of threshold " << r->threshold << "\n";
  for (const auto& s : r->signatures)
    std::cout << "  " << s.key_id << (s.key_name ? " (" + printable(*s.key_name) + ")" : "") << "  "
              << (s.counted ? "counted" : "not counted: " + printable(s.reason)) << "\n";
  std::cout << "files       " << r->files_checked << " checked, " << human_bytes(r->bytes_checked) << " ("
            << r->bytes_checked << " bytes)\n";
  std::cout << "manifest    sha256 " << r->manifest_sha256 << "\nbundle      ";
  if (!r->bundle_sha256.empty()) std::cout << "sha256 " << r->bundle_sha256 << ", ";
  std::cout << r->bundle_bytes << " bytes\n";
  std::cout << "verified at " << format_rfc3339(r->verified_at);
  if (r->clock_skew_seconds != 300) std::cout << " (clock skew tolerance " << r->clock_skew_seconds << " s)";
  std::cout << "\n";
  if (r->trust_update) std::cout << "trust update carried and checked (installed by `airlock apply`)\n";
  if (r->stale_trust_update)
    std::cout << "trust update with serial " << *r->stale_trust_update << " is stale (not above the trust root's "
              << req.trust.serial << "): ignored\n";
  if (r->feed_match) print_feed_match(*req.feed, *r->feed_match);
  if (r->staging_dir) std::cout << "extracted   " << printable(*r->staging_dir) << "\n";
  return 0;
}

}  // namespace airlock::cli

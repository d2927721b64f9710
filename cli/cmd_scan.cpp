// `airlock scan`: the report of what a folder (a mounted stick) holds for this site. Exit 0
// whenever the folder could be listed: a bundle that fails is part of the report, not its end.
#include "cli/cmd_scan.hpp"

#include <iostream>

#include "applier/scan.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

json opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

std::vector<std::string> breaking_targets(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& c : m.config)
    if (c.breaking) out.push_back(c.target);
  return out;
}

std::vector<std::string> irreversible_migrations(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& g : m.migrations)
    if (!g.down) out.push_back(g.id);
  return out;
}

void release_json(const ap::ScannedBundle& b, json& j) {
  const Manifest& m = *b.manifest;
  const Release& r = m.release;
  j["product"] = r.product;
  j["version"] = r.version.text;
  j["channel"] = channel_name(b.channel);
  j["channel_source"] = b.channel_source;
  j["critical"] = b.critical;
  j["deprecated"] = b.deprecated;
  j["created"] = format_rfc3339(r.created);
  j["expires"] = r.expires ? json(format_rfc3339(*r.expires)) : json(nullptr);
  j["min_installed"] = r.min_installed ? json(r.min_installed->text) : json(nullptr);
  j["delta_base"] = opt(m.delta_base);
  j["breaking_config"] = breaking_targets(m);
  j["irreversible_migrations"] = irreversible_migrations(m);
  j["summary"] = opt(r.summary);
}

json bundle_json(const ap::ScannedBundle& b) {
  json j = {{"file", b.file},       {"size", b.size},         {"verified", b.verified},
            {"signers", b.signers}, {"applies", b.applies()}, {"why_not", b.why_not}};
  j["parts"] = nullptr;
  if (b.parts) {
    std::vector<std::uint32_t> missing = b.parts->missing;
    j["parts"] = {{"count", b.parts->count}, {"complete", b.parts->complete()}, {"missing", missing}};
  }
  j["error"] = nullptr;
  if (b.error) j["error"] = {{"class", exit_code(b.error->cls())}, {"message", b.error->what()}};
  j["version"] = nullptr;
  if (b.manifest) release_json(b, j);
  j["notes_lang"] = b.manifest ? json(b.notes_lang) : json(nullptr);
  return j;
}

json stick_feed_json(const std::optional<ap::StickFeed>& f) {
  if (!f) return nullptr;
  json j = {{"file", "feed.toml"}, {"serial", f->serial ? json(*f->serial) : json(nullptr)}, {"verified", f->verified}};
  j["error"] = f->error ? json({{"class", exit_code(f->error->cls())}, {"message", f->error->what()}}) : json(nullptr);
  return j;
}

json report_json(const ap::ScanReport& r) {
  json bundles = json::array();
  for (const auto& b : r.bundles) bundles.push_back(bundle_json(b));
  json ignored = json::array();
  for (const auto& i : r.ignored) ignored.push_back({{"name", i.name}, {"reason", i.reason}});
  return {{"ok", true},
          {"dir", r.dir},
          {"site", r.site_name},
          {"product", r.product},
          {"installed", opt(r.installed)},
          {"channel", r.channel},
          {"language", r.language},
          {"check", ap::scan_depth_name(r.depth)},
          {"accepted_feed_serial", r.accepted_feed_serial ? json(*r.accepted_feed_serial) : json(nullptr)},
          {"stick_feed", stick_feed_json(r.stick_feed)},
          {"bundles", bundles},
          {"ignored_count", r.ignored.size()},
          {"ignored", ignored}};
}

std::string t(const std::string& s) { return printable(s); }

void print_bundle(const ap::ScannedBundle& b) {
  const Manifest* m = b.manifest ? &*b.manifest : nullptr;
  std::cout << (m ? t(m->release.version.text) : std::string("?")) << "  "
            << (m ? std::string(channel_name(b.channel)) + " (" + b.channel_source + ")" : std::string("-")) << "  "
            << t(b.file) << "  " << human_bytes(b.size) << "  " << (b.applies() ? "APPLIES" : "does not apply") << "\n";
  if (b.parts)
    std::cout << "    parts: " << b.parts->count << (b.parts->complete() ? ", complete" : ", incomplete") << "\n";
  if (m) {
    const Release& r = m->release;
    std::cout << "    created " << format_rfc3339(r.created) << ", expires "
              << (r.expires ? format_rfc3339(*r.expires) : std::string("never")) << (b.critical ? ", CRITICAL" : "")
              << (b.deprecated ? ", DEPRECATED" : "") << "\n";
    if (m->delta_base) std::cout << "    delta base " << t(*m->delta_base) << "\n";
    for (const auto& c : breaking_targets(*m)) std::cout << "    BREAKING config delta: " << t(c) << "\n";
    for (const auto& g : irreversible_migrations(*m)) std::cout << "    irreversible migration: " << t(g) << "\n";
    if (r.summary) std::cout << "    summary [" << t(b.notes_lang) << "]: " << t(*r.summary) << "\n";
  }
  std::string signers;
  for (const auto& s : b.signers) signers += (signers.empty() ? "" : " ") + t(s);
  if (!signers.empty()) std::cout << "    signed by " << signers << "\n";
  for (const auto& w : b.why_not) std::cout << "    - " << t(w) << "\n";
}

std::string stick_feed_text(const std::optional<ap::StickFeed>& f) {
  if (!f) return "none";
  const std::string serial = f->serial ? "serial " + std::to_string(*f->serial) : std::string("unreadable");
  if (f->verified) return serial + ", verified (`airlock feed accept` keeps it)";
  return serial + ", not verified: error[" + std::to_string(exit_code(f->error->cls())) + "]: " + t(f->error->what());
}

void print_report(const ap::ScanReport& r) {
  std::cout << "site " << t(r.site_name) << " (" << t(r.product) << "): installed "
            << (r.installed ? t(*r.installed) : std::string("nothing")) << ", channel " << t(r.channel) << ", language "
            << t(r.language) << "\n";
  std::cout << "feed: accepted "
            << (r.accepted_feed_serial ? "serial " + std::to_string(*r.accepted_feed_serial) : std::string("none"))
            << "; on the stick " << stick_feed_text(r.stick_feed) << "\n";
  std::cout << "scan of " << t(r.dir) << " ("
            << (r.depth == ap::ScanDepth::deep ? "every bundle verified in full"
                                               : "heads only: signatures and policy, payloads not read")
            << "): " << r.bundles.size() << " bundle(s)\n";
  for (const auto& b : r.bundles) print_bundle(b);
  std::cout << "ignored " << r.ignored.size() << " file(s)\n";
  for (const auto& i : r.ignored) std::cout << "    " << t(i.name) << ": " << t(i.reason) << "\n";
}

}  // namespace

int cmd_scan(int argc, char** argv) {
  std::string site, dir;
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("dir", po::value<std::string>(&dir)->required(), "the folder to scan (a mounted stick)")(
      "deep", "verify every bundle in full (payloads too), not only its head");
  po::positional_options_description pos;
  pos.add("dir", 1);
  auto p = parse_args(argc, argv, "airlock scan DIR [--site site.toml] [--deep] [--json]",
                      "List the bundles in DIR (whole, or split into .partNNNN) and which of them this site may\n"
                      "apply, newest first, with why each other one does not. By default checks each bundle's\n"
                      "head (signatures against the site's trust root, product, channel, installed version,\n"
                      "expiry) without reading its payload; --deep verifies everything. A bundle's channel\n"
                      "comes from the site's accepted feed when it lists the version (else its manifest);\n"
                      "a feed.toml in DIR is checked and its serial shown, never accepted. Writes nothing.\n"
                      "Exit codes: 0 listed (whatever the bundles' verdicts), 2 usage or site, 3 DIR unreadable.",
                      o, pos, "  airlock scan /media/usb --site /srv/site/site.toml --json\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  const auto depth = p.vm.count("deep") ? ap::ScanDepth::deep : ap::ScanDepth::head;
  auto r = ap::scan(dir, site, depth);
  if (!r) return report_error("scan", r.error(), js);
  if (js)
    print_input_json(report_json(*r));
  else
    print_report(*r);
  return 0;
}

}  // namespace airlock::cli

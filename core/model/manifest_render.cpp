// render_manifest: the bundler's deterministic writer. Fields in spec order, optional fields only
// when set (booleans only when true), strings as TOML basic strings, instants in their written
// offset. parse_manifest(render_manifest(m)) gives m back.
#include "core/model/manifest.hpp"

#include "core/toml_util.hpp"

namespace airlock {
namespace {

using tomlu::quote;

// From the components, so a SemVer built in code renders the same as one parsed.
std::string semver_text(const SemVer& v) {
  std::string out = v.major + "." + v.minor + "." + v.patch;
  auto join = [&](char lead, const std::vector<std::string>& ids) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      out += i == 0 ? lead : '.';
      out += ids[i];
    }
  };
  join('-', v.prerelease);
  join('+', v.build);
  return out;
}

void kv(std::string& out, std::string_view key, const std::string& rendered) {
  out.append(key).append(" = ").append(rendered).append("\n");
}

void render_release(std::string& out, const Release& r) {
  out += "[release]\n";
  kv(out, "product", quote(r.product));
  kv(out, "version", quote(semver_text(r.version)));
  kv(out, "created", format_rfc3339(r.created));
  kv(out, "channel", quote(channel_name(r.channel)));
  if (r.critical) kv(out, "critical", "true");
  if (r.min_installed) kv(out, "min_installed", quote(semver_text(*r.min_installed)));
  if (r.rollback_to) kv(out, "rollback_to", quote(semver_text(*r.rollback_to)));
  if (r.expires) kv(out, "expires", format_rfc3339(*r.expires));
  if (r.summary) kv(out, "summary", quote(*r.summary));
}

void render_lists(std::string& out, const Manifest& m) {
  for (const auto& im : m.images) {
    out += "\n[[images]]\n";
    kv(out, "ref", quote(im.ref));
    kv(out, "digest", quote(im.digest));
    if (im.layout) kv(out, "layout", quote(*im.layout));
  }
  if (m.delta_base) {
    out += "\n[delta]\n";
    kv(out, "base", quote(*m.delta_base));
  }
  for (const auto& mg : m.migrations) {
    out += "\n[[migrations]]\n";
    kv(out, "id", quote(mg.id));
    kv(out, "database", quote(mg.database));
    kv(out, "up", quote(mg.up));
    if (mg.down) kv(out, "down", quote(*mg.down));
  }
  for (const auto& c : m.config) {
    out += "\n[[config]]\n";
    kv(out, "target", quote(c.target));
    kv(out, "patch", quote(c.patch));
    if (c.breaking) kv(out, "breaking", "true");
  }
  if (m.trust_update) {
    out += "\n[trust_update]\n";
    kv(out, "path", quote(*m.trust_update));
  }
  for (const auto& n : m.notes) {
    out += "\n[[notes]]\n";
    kv(out, "lang", quote(n.lang));
    kv(out, "path", quote(n.path));
  }
  for (const auto& f : m.files) {
    out += "\n[[files]]\n";
    kv(out, "path", quote(f.path));
    kv(out, "size", std::to_string(f.size));
    kv(out, "sha256", quote(f.sha256));
    if (f.executable) kv(out, "executable", "true");
  }
}

}  // namespace

std::string render_manifest(const Manifest& m) {
  std::string out = "format = \"airlock-bundle/1\"\n\n";
  render_release(out, m.release);
  render_lists(out, m);
  return out;
}

}  // namespace airlock

// parse_manifest: TOML (through core/toml_util) -> Manifest. This file checks the shape — exact
// types, no unknown key at any level, the format string, SemVer/instant/channel syntax, integer
// ranges — and leaves every value rule and cross-field rule to validate_manifest, which the
// bundler runs on manifests it builds, so both sides apply one rule set.
#include "core/model/manifest.hpp"

#include "core/toml_util.hpp"

namespace airlock {
namespace {

using tomlu::Fields;
constexpr ErrorClass kCls = ErrorClass::malformed;
constexpr std::string_view kFormat = "airlock-bundle/1";

std::string indexed(std::string_view key, std::size_t i) { return std::string(key) + "[" + std::to_string(i) + "]"; }

Result<SemVer> semver_field(const Fields& f, std::string_view key) {
  TOMLU_TRY(auto text, f.str(key));
  auto v = parse_semver(text);
  if (!v) return f.error(key, v.error().message());
  return std::move(*v);
}

Result<std::optional<SemVer>> opt_semver_field(const Fields& f, std::string_view key, const toml::table& t) {
  if (!t.contains(key)) return std::optional<SemVer>{};
  TOMLU_TRY(auto v, semver_field(f, key));
  return std::optional<SemVer>(std::move(v));
}

Result<Release> parse_release(const toml::table& t) {
  Fields f(t, "release", kCls);
  TOMLU_CHECK(f.only(
      {"product", "version", "created", "channel", "critical", "min_installed", "rollback_to", "expires", "summary"}));
  Release r;
  TOMLU_TRY(r.product, f.str("product"));
  TOMLU_TRY(r.version, semver_field(f, "version"));
  TOMLU_TRY(r.created, f.instant("created"));
  TOMLU_TRY(auto channel, f.str("channel"));
  auto ch = parse_channel(channel);
  if (!ch) return f.error("channel", "\"" + channel + "\" is not one of recommended, rc, beta");
  r.channel = *ch;
  TOMLU_TRY(auto critical, f.opt_bool("critical"));
  r.critical = critical.value_or(false);
  TOMLU_TRY(r.min_installed, opt_semver_field(f, "min_installed", t));
  TOMLU_TRY(r.rollback_to, opt_semver_field(f, "rollback_to", t));
  TOMLU_TRY(r.expires, f.opt_instant("expires"));
  TOMLU_TRY(r.summary, f.opt_str("summary"));
  return r;
}

Result<ImageRef> parse_image(const toml::table& t, std::size_t i) {
  Fields f(t, indexed("images", i), kCls);
  TOMLU_CHECK(f.only({"ref", "digest", "layout"}));
  ImageRef im;
  TOMLU_TRY(im.ref, f.str("ref"));
  TOMLU_TRY(im.digest, f.str("digest"));
  TOMLU_TRY(im.layout, f.opt_str("layout"));
  return im;
}

Result<Migration> parse_migration(const toml::table& t, std::size_t i) {
  Fields f(t, indexed("migrations", i), kCls);
  TOMLU_CHECK(f.only({"id", "database", "up", "down"}));
  Migration m;
  TOMLU_TRY(m.id, f.str("id"));
  TOMLU_TRY(m.database, f.str("database"));
  TOMLU_TRY(m.up, f.str("up"));
  TOMLU_TRY(m.down, f.opt_str("down"));
  return m;
}

Result<ConfigDelta> parse_config(const toml::table& t, std::size_t i) {
  Fields f(t, indexed("config", i), kCls);
  TOMLU_CHECK(f.only({"target", "patch", "breaking"}));
  ConfigDelta c;
  TOMLU_TRY(c.target, f.str("target"));
  TOMLU_TRY(c.patch, f.str("patch"));
  TOMLU_TRY(auto breaking, f.opt_bool("breaking"));
  c.breaking = breaking.value_or(false);
  return c;
}

Result<Note> parse_note(const toml::table& t, std::size_t i) {
  Fields f(t, indexed("notes", i), kCls);
  TOMLU_CHECK(f.only({"lang", "path"}));
  Note n;
  TOMLU_TRY(n.lang, f.str("lang"));
  TOMLU_TRY(n.path, f.str("path"));
  return n;
}

Result<FileEntry> parse_file(const toml::table& t, std::size_t i) {
  Fields f(t, indexed("files", i), kCls);
  TOMLU_CHECK(f.only({"path", "size", "sha256", "executable"}));
  FileEntry e;
  TOMLU_TRY(e.path, f.str("path"));
  TOMLU_TRY(auto size, f.integer("size"));
  if (size < 0) return f.error("size", std::to_string(size) + " is negative");
  e.size = static_cast<std::uint64_t>(size);
  TOMLU_TRY(e.sha256, f.str("sha256"));
  TOMLU_TRY(auto exec, f.opt_bool("executable"));
  e.executable = exec.value_or(false);
  return e;
}

// Parses every table of the array `key` with `one`, appending to `out`.
template <class T, class Fn>
Status each(const Fields& root, std::string_view key, std::vector<T>& out, Fn one) {
  TOMLU_TRY(auto tables, root.tables(key));
  out.reserve(tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TOMLU_TRY(auto v, one(*tables[i], i));
    out.push_back(std::move(v));
  }
  return {};
}

Status parse_optional_tables(const Fields& root, Manifest& m) {
  TOMLU_TRY(const toml::table* delta, root.opt_table("delta"));
  if (delta) {
    Fields f(*delta, "delta", kCls);
    TOMLU_CHECK(f.only({"base"}));
    TOMLU_TRY(m.delta_base, f.str("base"));
  }
  TOMLU_TRY(const toml::table* tu, root.opt_table("trust_update"));
  if (tu) {
    Fields f(*tu, "trust_update", kCls);
    TOMLU_CHECK(f.only({"path"}));
    TOMLU_TRY(m.trust_update, f.str("path"));
  }
  return {};
}

Result<Manifest> from_table(const toml::table& doc) {
  Fields root(doc, "", kCls);
  TOMLU_CHECK(
      root.only({"format", "release", "images", "delta", "migrations", "config", "trust_update", "notes", "files"}));
  TOMLU_TRY(auto format, root.str("format"));
  if (format != kFormat) return root.error("format", "\"" + format + "\" is not \"" + std::string(kFormat) + "\"");
  Manifest m;
  TOMLU_TRY(const toml::table* release, root.table("release"));
  TOMLU_TRY(m.release, parse_release(*release));
  if (!doc.contains("files")) return root.error("files", "required key is missing");
  // Refuse an oversized list before building it.
  if (const auto* arr = doc.get("files")->as_array(); arr && arr->size() > kMaxFiles)
    return root.error("files",
                      std::to_string(arr->size()) + " entries, over the limit of " + std::to_string(kMaxFiles));
  TOMLU_CHECK(each(root, "images", m.images, parse_image));
  TOMLU_CHECK(parse_optional_tables(root, m));
  TOMLU_CHECK(each(root, "migrations", m.migrations, parse_migration));
  TOMLU_CHECK(each(root, "config", m.config, parse_config));
  TOMLU_CHECK(each(root, "notes", m.notes, parse_note));
  TOMLU_CHECK(each(root, "files", m.files, parse_file));
  return m;
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view bytes) {
  TOMLU_TRY(auto doc, tomlu::parse(bytes, kMaxManifestBytes, kCls, "manifest.toml"));  // names it already
  auto m = from_table(doc);
  if (!m) return fail(std::move(m).error().with_context("manifest.toml"));
  if (auto s = validate_manifest(*m); !s) return fail(std::move(s).error().with_context("manifest.toml"));
  return m;
}

}  // namespace airlock

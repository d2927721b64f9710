// Recipe -> Plan: release fields, derived payload paths, folder walks, and the release rules that
// need no database. Every rule breach is build_refused and names the recipe and the item.
#include "bundler/plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "bundler/oci.hpp"
#include "bundler/propagate.hpp"
#include "core/crypto/hash.hpp"
#include "core/model/config_delta.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/paths.hpp"

namespace airlock::bundler {

namespace fs = std::filesystem;

namespace {

inline constexpr std::size_t kMaxPatchBytes = 1024 * 1024;

Error refused(const Recipe& r, const std::string& what) {
  return Error(ErrorClass::build_refused, "recipe '" + r.path + "': " + what);
}

std::string base_name(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  auto pos = s.find_last_of('/');
  return pos == std::string::npos ? s : s.substr(pos + 1);
}

Result<SemVer> version_field(const Recipe& r, const std::string& key, const std::string& text) {
  auto v = parse_semver(text);
  if (!v) return fail(refused(r, "release." + key + ": " + v.error().message()));
  return *v;
}

// Orderings a release cannot sensibly break: it would be refused by every site, or never
// appliable, or dead on arrival.
Status check_release_order(const Recipe& r, const Release& rel) {
  if (rel.rollback_to && compare_semver(*rel.rollback_to, rel.version) > 0)
    return fail(refused(r, "release.rollback_to \"" + rel.rollback_to->text + "\" is later than release.version \"" +
                               rel.version.text + "\""));
  if (rel.min_installed && compare_semver(*rel.min_installed, rel.version) > 0)
    return fail(refused(r, "release.min_installed \"" + rel.min_installed->text +
                               "\" is later than release.version \"" + rel.version.text + "\""));
  if (rel.expires && *rel.expires <= rel.created)
    return fail(refused(r, "release.expires " + format_rfc3339(*rel.expires) + " is not after release.created " +
                               format_rfc3339(rel.created)));
  return {};
}

Status fill_release(const Recipe& r, std::optional<std::int64_t> sde, Release& rel) {
  rel.product = r.product;
  BUNDLER_TRY(rel.version, version_field(r, "version", r.version));
  if (r.created) {
    rel.created = *r.created;
  } else if (sde) {
    rel.created = Timestamp{*sde, 0, 0};
  } else {
    return fail(ErrorClass::usage, "recipe '" + r.path +
                                       "' has no release.created and SOURCE_DATE_EPOCH is not set: a reproducible "
                                       "build needs a fixed creation time");
  }
  auto ch = parse_channel(r.channel);
  if (!ch) return fail(refused(r, "release.channel '" + r.channel + "' is not one of recommended, rc, beta"));
  rel.channel = *ch;
  rel.critical = r.critical;
  if (r.min_installed) {
    BUNDLER_TRY(rel.min_installed, version_field(r, "min_installed", *r.min_installed));
  }
  if (r.rollback_to) {
    BUNDLER_TRY(rel.rollback_to, version_field(r, "rollback_to", *r.rollback_to));
  }
  rel.expires = r.expires;
  rel.summary = r.summary;
  return check_release_order(r, rel);
}

// A regular file (not a symlink): the bundle must not depend on what a link points to today.
Result<bool> regular_file_executable(const Recipe& r, const std::string& source, const std::string& item) {
  struct stat st {};
  if (::lstat(source.c_str(), &st) != 0)
    return fail(refused(r, item + ": cannot read '" + source + "': " + std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return fail(refused(r, item + ": '" + source + "' is not a regular file"));
  return (st.st_mode & 0111) != 0;
}

Status add_file(const Recipe& r, Plan& p, const std::string& item, const std::string& payload,
                const std::string& source, std::optional<bool> executable) {
  BUNDLER_TRY(bool x, regular_file_executable(r, source, item));
  PlannedFile f;
  f.payload_path = payload;
  f.source = source;
  f.executable = executable.value_or(x);
  p.files.push_back(std::move(f));
  return {};
}

// Every regular file under `folder`, at `prefix/<relative path>`. Symlinks and special files are
// refused rather than followed or skipped.
Status add_folder(const Recipe& r, Plan& p, const std::string& item, const std::string& folder,
                  const std::string& prefix, std::optional<bool> executable) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) continue;
    std::string rel = fs::relative(it->path(), folder, ec).generic_string();
    if (ec) break;
    BUNDLER_CHECK(add_file(r, p, item, prefix + "/" + rel, it->path().string(), executable));
  }
  if (ec) return fail(refused(r, item + ": cannot read folder '" + folder + "': " + ec.message()));
  return {};
}

Status plan_migrations(const Recipe& r, Plan& p) {
  for (const auto& m : r.migrations) {
    const std::string item = "migration '" + m.id + "'";
    if (!m.down && !m.irreversible)
      return fail(refused(r, item + " has no `down` (reverse migration): add one, or mark it `irreversible = true`"));
    if (m.down && m.irreversible)
      return fail(refused(r, item + " has a `down` and is marked irreversible: choose one"));
    if (m.irreversible) {
      const auto& rb = p.manifest.release.rollback_to;
      if (!rb || rb->text != p.manifest.release.version.text)
        return fail(refused(r, item + " is irreversible, so release.rollback_to must be \"" +
                                   p.manifest.release.version.text + "\" (this release's version), got " +
                                   (rb ? "\"" + rb->text + "\"" : "none")));
    }
    Migration out{m.id, m.database, migration_payload_path(m.up), std::nullopt};
    BUNDLER_CHECK(add_file(r, p, item + " up", out.up, r.resolve(m.up), false));
    if (m.down) {
      out.down = migration_payload_path(*m.down);
      BUNDLER_CHECK(add_file(r, p, item + " down", *out.down, r.resolve(*m.down), false));
    }
    p.manifest.migrations.push_back(std::move(out));
  }
  return {};
}

Status check_config_patch(const Recipe& r, const RecipeConfig& c) {
  const std::string item = "config '" + c.target + "'";
  auto text = read_file(r.resolve(c.patch), kMaxPatchBytes, ErrorClass::build_refused);
  if (!text) return fail(refused(r, item + ": " + text.error().message()));
  auto patch = parse_config_patch(*text);
  if (!patch)
    return fail(patch.error().reclassed(ErrorClass::build_refused)
                    .with_context("recipe '" + r.path + "': " + item + ": patch '" + c.patch + "' does not parse"));
  return {};
}

Status plan_config_notes_trust(const Recipe& r, Plan& p) {
  for (const auto& c : r.config) {
    BUNDLER_CHECK(check_config_patch(r, c));
    ConfigDelta d{c.target, config_payload_path(c.target), c.breaking};
    BUNDLER_CHECK(add_file(r, p, "config '" + c.target + "'", d.patch, r.resolve(c.patch), false));
    p.manifest.config.push_back(std::move(d));
  }
  bool have_en = false;
  for (const auto& n : r.notes) {
    have_en = have_en || n.lang == "en";
    Note note{n.lang, notes_payload_path(n.lang)};
    BUNDLER_CHECK(add_file(r, p, "notes '" + n.lang + "'", note.path, r.resolve(n.path), false));
    p.manifest.notes.push_back(std::move(note));
  }
  if (!have_en) return fail(refused(r, "release notes in English are required: add [[notes]] lang = \"en\""));
  if (r.trust_update) {
    auto text = read_file(r.resolve(*r.trust_update), kMaxTrustRootBytes, ErrorClass::build_refused);
    if (!text) return fail(refused(r, "trust_update: " + text.error().message()));
    auto root = parse_trust_root(*text, ErrorClass::build_refused);
    if (!root)
      return fail(root.error().reclassed(ErrorClass::build_refused)
                      .with_context("recipe '" + r.path + "': trust_update '" + *r.trust_update +
                                    "' is not a valid trust root"));
    BUNDLER_CHECK(add_file(r, p, "trust_update", kTrustUpdatePayloadPath, r.resolve(*r.trust_update), false));
    p.manifest.trust_update = kTrustUpdatePayloadPath;
  }
  return {};
}

Status plan_images_and_files(const Recipe& r, Plan& p, const DeltaBase* base) {
  for (const auto& im : r.images) {
    const std::string item = "image '" + im.ref + "'";
    const std::string hex = im.digest.size() > 7 ? im.digest.substr(7) : "";
    if (im.digest.rfind("sha256:", 0) != 0 || !is_lower_hex(hex, 64))
      return fail(refused(r, item + ": digest '" + im.digest + "' is not sha256:<64 lower-case hex>"));
    p.manifest.images.push_back(ImageRef{im.ref, im.digest, std::nullopt});
  }
  BUNDLER_CHECK(plan_image_layouts(r, p, base));
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    const auto& f = r.files[i];
    const std::string item = "files[" + std::to_string(i) + "] '" + f.from + "'";
    const std::string source = r.resolve(f.from);
    std::error_code ec;
    auto st = fs::symlink_status(source, ec);
    if (ec) return fail(refused(r, item + ": cannot read '" + source + "': " + ec.message()));
    std::string to = f.to.value_or(base_name(f.from));
    while (!to.empty() && to.back() == '/') to.pop_back();
    if (fs::is_directory(st)) {
      BUNDLER_CHECK(add_folder(r, p, item, source, to, f.executable));
    } else {
      BUNDLER_CHECK(add_file(r, p, item, to, source, f.executable));
    }
  }
  return {};
}

Status check_paths(const Recipe& r, const Plan& p) {
  std::vector<std::string> paths;
  for (const auto& f : p.files) {
    if (auto why = payload_path_problem(f.payload_path))
      return fail(refused(r, "payload path '" + f.payload_path + "' (from '" + f.source + "'): " + *why));
    paths.push_back(f.payload_path);
  }
  if (auto why = path_set_problem(paths)) return fail(refused(r, "payload paths clash: " + *why));
  if (p.files.size() > kMaxFiles)
    return fail(
        refused(r, std::to_string(p.files.size()) + " payload files, over the limit of " + std::to_string(kMaxFiles)));
  return {};
}

}  // namespace

std::string migration_payload_path(const std::string& source) { return "migrations/" + base_name(source); }
std::string config_payload_path(const std::string& target) { return "config/" + target + ".patch.toml"; }
std::string notes_payload_path(const std::string& lang) { return "notes/" + lang + ".md"; }

Result<Plan> make_plan(const Recipe& r, std::optional<std::int64_t> source_date_epoch, const DeltaBase* base) {
  Plan p;
  BUNDLER_CHECK(fill_release(r, source_date_epoch, p.manifest.release));
  if (base) p.manifest.delta_base = base->version;
  BUNDLER_CHECK(plan_migrations(r, p));
  BUNDLER_CHECK(plan_config_notes_trust(r, p));
  BUNDLER_CHECK(plan_images_and_files(r, p, base));
  // Archive order: payload path, byte-wise (images/ by kind, bundler/oci.hpp), so that the order
  // never depends on the file system.
  std::sort(p.files.begin(), p.files.end(), archive_order);
  BUNDLER_CHECK(check_paths(r, p));
  return p;
}

}  // namespace airlock::bundler

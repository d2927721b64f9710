// The recipe's TOML reader, through core's TOML front door (core/toml_util.hpp: size, UTF-8,
// control-character and nesting guards before toml++ sees the text, and tomlu::Fields' typed
// getters). Strict like the manifest parser: a value of the wrong type is refused, never taken as
// a default, and an unknown key is an error, because a misspelt `irreversible` or `breaking`
// silently ignored would change what a release does.
#include "bundler/recipe.hpp"

#include <algorithm>

#include "bundler/propagate.hpp"
#include "core/db/target.hpp"
#include "core/sys/fs.hpp"
#include "core/toml_util.hpp"

namespace airlock::bundler {

namespace {

// Every fault is a usage error naming the table and the key ("release.critical: expected a
// boolean, found a string"); parse_recipe adds the recipe file.
constexpr ErrorClass kCls = ErrorClass::usage;

Status parse_release(const tomlu::Fields& root, Recipe& r) {
  BUNDLER_TRY(const toml::table* rel, root.table("release"));
  const tomlu::Fields f(*rel, "release", kCls);
  BUNDLER_CHECK(f.only(
      {"product", "version", "created", "channel", "critical", "min_installed", "rollback_to", "expires", "summary"}));
  BUNDLER_TRY(r.product, f.str("product"));
  BUNDLER_TRY(r.version, f.str("version"));
  BUNDLER_TRY(r.created, f.opt_instant("created"));
  BUNDLER_TRY(auto channel, f.opt_str("channel"));
  if (channel) r.channel = *channel;
  BUNDLER_TRY(auto critical, f.opt_bool("critical"));
  r.critical = critical.value_or(false);
  BUNDLER_TRY(r.min_installed, f.opt_str("min_installed"));
  BUNDLER_TRY(r.rollback_to, f.opt_str("rollback_to"));
  BUNDLER_TRY(r.expires, f.opt_instant("expires"));
  BUNDLER_TRY(r.summary, f.opt_str("summary"));
  return {};
}

// An optional table holding one required string `key` (`[trust_update] path`).
Result<std::optional<std::string>> opt_single(const tomlu::Fields& root, std::string_view table, std::string_view key) {
  BUNDLER_TRY(const toml::table* t, root.opt_table(table));
  if (!t) return std::optional<std::string>();
  const tomlu::Fields f(*t, std::string(table), kCls);
  BUNDLER_CHECK(f.only({key}));
  BUNDLER_TRY(auto v, f.str(key));
  return std::optional<std::string>(std::move(v));
}

Status parse_build_and_delta(const tomlu::Fields& root, Recipe& r) {
  BUNDLER_TRY(const toml::table* b, root.opt_table("build"));
  if (b) {
    const tomlu::Fields f(*b, "build", kCls);
    BUNDLER_CHECK(f.only({"level"}));
    if (b->contains("level")) {
      BUNDLER_TRY(auto v, f.integer("level"));
      if (v < 1 || v > 22) return f.error("level", "must be 1..22, got " + std::to_string(v));
      r.level = static_cast<int>(v);
    }
  }
  BUNDLER_TRY(const toml::table* delta, root.opt_table("delta"));
  if (delta) {
    const tomlu::Fields f(*delta, "delta", kCls);
    BUNDLER_CHECK(f.only({"base"}));
    r.delta = true;
    BUNDLER_TRY(r.delta_base, f.opt_str("base"));
  }
  BUNDLER_TRY(r.trust_update, opt_single(root, "trust_update", "path"));
  return {};
}

// Each table of the array `name` (`[[name]]`), as Fields named "name[i]", passed to `each`.
template <class F>
Status for_each_table(const tomlu::Fields& root, std::string_view name, F&& each) {
  BUNDLER_TRY(const auto tables, root.tables(name));
  for (std::size_t i = 0; i < tables.size(); ++i)
    BUNDLER_CHECK(each(tomlu::Fields(*tables[i], std::string(name) + "[" + std::to_string(i) + "]", kCls)));
  return {};
}

Status parse_images_and_migrations(const tomlu::Fields& root, Recipe& r) {
  BUNDLER_CHECK(for_each_table(root, "images", [&](const tomlu::Fields& f) -> Status {
    BUNDLER_CHECK(f.only({"ref", "digest", "layout"}));
    RecipeImage im;
    BUNDLER_TRY(im.ref, f.str("ref"));
    BUNDLER_TRY(im.digest, f.str("digest"));
    BUNDLER_TRY(im.layout, f.opt_str("layout"));
    r.images.push_back(std::move(im));
    return {};
  }));
  return for_each_table(root, "migrations", [&](const tomlu::Fields& f) -> Status {
    BUNDLER_CHECK(f.only({"id", "database", "up", "down", "irreversible", "fixture"}));
    RecipeMigration m;
    BUNDLER_TRY(m.id, f.str("id"));
    BUNDLER_TRY(m.database, f.str("database"));
    BUNDLER_TRY(m.up, f.str("up"));
    BUNDLER_TRY(m.down, f.opt_str("down"));
    BUNDLER_TRY(auto irr, f.opt_bool("irreversible"));
    m.irreversible = irr.value_or(false);
    BUNDLER_TRY(m.fixture, f.opt_str("fixture"));
    r.migrations.push_back(std::move(m));
    return {};
  });
}

Status parse_databases(const tomlu::Fields& root, Recipe& r) {
  BUNDLER_TRY(const toml::table* t, root.opt_table("databases"));
  if (!t) return {};
  const tomlu::Fields all(*t, "databases", kCls);
  for (const auto& [k, v] : *t) {
    const std::string name(k.str());
    BUNDLER_TRY(const toml::table* e, all.table(name));
    const tomlu::Fields f(*e, "databases." + name, kCls);
    BUNDLER_CHECK(f.only({"kind", "scratch"}));
    RecipeDatabase d;
    BUNDLER_TRY(d.kind, f.str("kind"));
    const auto& kinds = db::target_kinds();
    if (std::find(kinds.begin(), kinds.end(), d.kind) == kinds.end())
      return f.error("kind", "unknown kind '" + d.kind + "'");
    BUNDLER_TRY(d.scratch, f.opt_str("scratch"));
    if (d.scratch && d.kind != "postgres") return f.error("scratch", "only a postgres database has a scratch server");
    if (d.scratch)
      BUNDLER_CHECK(
          db::check_spec({name, d.kind, *d.scratch, db::Durability::scratch}, "databases." + name + ".scratch"));
    r.databases.emplace(name, std::move(d));
  }
  return {};
}

Status parse_config_notes_files(const tomlu::Fields& root, Recipe& r) {
  BUNDLER_CHECK(for_each_table(root, "config", [&](const tomlu::Fields& f) -> Status {
    BUNDLER_CHECK(f.only({"target", "patch", "breaking"}));
    RecipeConfig cfg;
    BUNDLER_TRY(cfg.target, f.str("target"));
    BUNDLER_TRY(cfg.patch, f.str("patch"));
    BUNDLER_TRY(auto br, f.opt_bool("breaking"));
    cfg.breaking = br.value_or(false);
    r.config.push_back(std::move(cfg));
    return {};
  }));
  BUNDLER_CHECK(for_each_table(root, "notes", [&](const tomlu::Fields& f) -> Status {
    BUNDLER_CHECK(f.only({"lang", "path"}));
    RecipeNote n;
    BUNDLER_TRY(n.lang, f.str("lang"));
    BUNDLER_TRY(n.path, f.str("path"));
    r.notes.push_back(std::move(n));
    return {};
  }));
  return for_each_table(root, "files", [&](const tomlu::Fields& f) -> Status {
    BUNDLER_CHECK(f.only({"from", "to", "executable"}));
    RecipeFiles files;
    BUNDLER_TRY(files.from, f.str("from"));
    BUNDLER_TRY(files.to, f.opt_str("to"));
    BUNDLER_TRY(files.executable, f.opt_bool("executable"));
    r.files.push_back(std::move(files));
    return {};
  });
}

Status parse_tables(const toml::table& doc, Recipe& r) {
  const tomlu::Fields root(doc, "", kCls);
  BUNDLER_CHECK(root.only(
      {"release", "build", "delta", "trust_update", "images", "migrations", "databases", "config", "notes", "files"}));
  BUNDLER_CHECK(parse_release(root, r));
  BUNDLER_CHECK(parse_build_and_delta(root, r));
  BUNDLER_CHECK(parse_images_and_migrations(root, r));
  BUNDLER_CHECK(parse_databases(root, r));
  return parse_config_notes_files(root, r);
}

}  // namespace

std::string Recipe::resolve(const std::string& source) const {
  if (!source.empty() && source.front() == '/') return source;
  return dir + "/" + source;
}

Result<Recipe> parse_recipe(std::string_view text, const std::string& recipe_path) {
  const std::string what = "recipe '" + recipe_path + "'";
  auto parsed = tomlu::parse(text, kMaxRecipeBytes, kCls, what);  // its errors name the recipe
  if (!parsed) return fail(std::move(parsed).error());
  Recipe r;
  r.path = recipe_path;
  r.dir = parent_dir(recipe_path);
  if (auto s = parse_tables(*parsed, r); !s) return fail(std::move(s).error().with_context(what));
  return r;
}

Result<Recipe> load_recipe(const std::string& recipe_path) {
  auto text = read_file(recipe_path, kMaxRecipeBytes, ErrorClass::usage);
  if (!text) return fail(ErrorClass::usage, "cannot read recipe: " + text.error().message());
  return parse_recipe(*text, recipe_path);
}

}  // namespace airlock::bundler

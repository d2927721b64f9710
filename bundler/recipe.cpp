// The recipe's TOML reader: parsed through core's TOML front door (core/toml_util.hpp: size,
// UTF-8, control-character and nesting guards before toml++ sees the text; toml++'s exceptions
// are caught there). Strict like the manifest parser: an unknown key is an error, because a misspelt `irreversible`
// or `breaking` silently ignored would change what a release does.
#include "bundler/recipe.hpp"

// toml++ is installed as a compiled library (pkg-config: -DTOML_HEADER_ONLY=0); core links it,
// bundler only needs the declarations.
#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 0
#endif
#ifndef TOML_SHARED_LIB
#define TOML_SHARED_LIB 1
#endif
#include <toml++/toml.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "bundler/propagate.hpp"
#include "core/sys/fs.hpp"
#include "core/toml_util.hpp"

namespace airlock::bundler {

namespace {

// Context for errors: "recipe '<path>': <where>: <what>".
struct Ctx {
  const std::string& file;
  Error err(const std::string& where, const std::string& what) const {
    return Error(ErrorClass::usage, "recipe '" + file + "': " + where + ": " + what);
  }
};

Status only_keys(const Ctx& c, const toml::table& t, const std::string& where,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : t) {
    bool ok = false;
    for (auto a : allowed) ok = ok || k.str() == a;
    if (!ok) return fail(c.err(where, "unknown key '" + std::string(k.str()) + "'"));
  }
  return {};
}

Result<std::optional<std::string>> opt_string(const Ctx& c, const toml::table& t, const std::string& where,
                                              std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<std::string>();
  if (!n->is_string()) return fail(c.err(where + "." + std::string(key), "must be a string"));
  return std::optional<std::string>(n->as_string()->get());
}

Result<std::string> req_string(const Ctx& c, const toml::table& t, const std::string& where, std::string_view key) {
  BUNDLER_TRY(auto v, opt_string(c, t, where, key));
  if (!v) return fail(c.err(where, "missing required key '" + std::string(key) + "'"));
  return *v;
}

Result<std::optional<bool>> opt_bool(const Ctx& c, const toml::table& t, const std::string& where,
                                     std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<bool>();
  if (!n->is_boolean()) return fail(c.err(where + "." + std::string(key), "must be true or false"));
  return std::optional<bool>(n->as_boolean()->get());
}

// An offset date-time (TOML's own type) as a Timestamp; a local date-time has no instant.
Result<std::optional<Timestamp>> opt_time(const Ctx& c, const toml::table& t, const std::string& where,
                                          std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<Timestamp>();
  const std::string at = where + "." + std::string(key);
  if (!n->is_date_time()) return fail(c.err(at, "must be an offset date-time like 2026-05-06T10:00:00Z"));
  const toml::date_time& dt = n->as_date_time()->get();
  if (!dt.offset) return fail(c.err(at, "needs a UTC offset (e.g. 'Z')"));
  char buf[64];
  int off = dt.offset->minutes;
  std::snprintf(buf, sizeof buf, "%04u-%02u-%02uT%02u:%02u:%02u.%09u%c%02d:%02d", unsigned(dt.date.year),
                unsigned(dt.date.month), unsigned(dt.date.day), unsigned(dt.time.hour), unsigned(dt.time.minute),
                unsigned(dt.time.second), unsigned(dt.time.nanosecond), off < 0 ? '-' : '+', std::abs(off) / 60,
                std::abs(off) % 60);
  auto ts = parse_rfc3339(buf);
  if (!ts) return fail(c.err(at, std::string("not a valid instant: ") + buf));
  return std::optional<Timestamp>(*ts);
}

// An array of tables (`[[name]]`), each passed to `each`.
template <class F>
Status for_each_table(const Ctx& c, const toml::table& root, std::string_view name, F&& each) {
  const toml::node* n = root.get(name);
  if (!n) return {};
  const toml::array* arr = n->as_array();
  if (!arr) return fail(c.err(std::string(name), "must be an array of tables ([[" + std::string(name) + "]])"));
  std::size_t i = 0;
  for (const auto& el : *arr) {
    std::string where = std::string(name) + "[" + std::to_string(i++) + "]";
    if (!el.is_table()) return fail(c.err(where, "must be a table"));
    BUNDLER_CHECK(each(*el.as_table(), where));
  }
  return {};
}

Status parse_release(const Ctx& c, const toml::table& root, Recipe& r) {
  const toml::table* rel = root.get_as<toml::table>("release");
  if (!rel) return fail(c.err("release", "missing [release] table"));
  const std::string w = "release";
  BUNDLER_CHECK(only_keys(
      c, *rel, w,
      {"product", "version", "created", "channel", "critical", "min_installed", "rollback_to", "expires", "summary"}));
  BUNDLER_TRY(r.product, req_string(c, *rel, w, "product"));
  BUNDLER_TRY(r.version, req_string(c, *rel, w, "version"));
  BUNDLER_TRY(r.created, opt_time(c, *rel, w, "created"));
  BUNDLER_TRY(auto channel, opt_string(c, *rel, w, "channel"));
  if (channel) r.channel = *channel;
  BUNDLER_TRY(auto critical, opt_bool(c, *rel, w, "critical"));
  r.critical = critical.value_or(false);
  BUNDLER_TRY(r.min_installed, opt_string(c, *rel, w, "min_installed"));
  BUNDLER_TRY(r.rollback_to, opt_string(c, *rel, w, "rollback_to"));
  BUNDLER_TRY(r.expires, opt_time(c, *rel, w, "expires"));
  BUNDLER_TRY(r.summary, opt_string(c, *rel, w, "summary"));
  return {};
}

Status parse_build_and_delta(const Ctx& c, const toml::table& root, Recipe& r) {
  if (const toml::node* b = root.get("build")) {
    if (!b->is_table()) return fail(c.err("build", "must be a table"));
    BUNDLER_CHECK(only_keys(c, *b->as_table(), "build", {"level"}));
    if (const toml::node* l = b->as_table()->get("level")) {
      if (!l->is_integer()) return fail(c.err("build.level", "must be an integer"));
      auto v = l->as_integer()->get();
      if (v < 1 || v > 22) return fail(c.err("build.level", "must be 1..22, got " + std::to_string(v)));
      r.level = static_cast<int>(v);
    }
  }
  if (const toml::node* d = root.get("delta")) {
    if (!d->is_table()) return fail(c.err("delta", "must be a table"));
    BUNDLER_CHECK(only_keys(c, *d->as_table(), "delta", {"base"}));
    BUNDLER_TRY(auto base, req_string(c, *d->as_table(), "delta", "base"));
    r.delta_base = base;
  }
  if (const toml::node* t = root.get("trust_update")) {
    if (!t->is_table()) return fail(c.err("trust_update", "must be a table"));
    BUNDLER_CHECK(only_keys(c, *t->as_table(), "trust_update", {"path"}));
    BUNDLER_TRY(auto p, req_string(c, *t->as_table(), "trust_update", "path"));
    r.trust_update = p;
  }
  return {};
}

Status parse_lists(const Ctx& c, const toml::table& root, Recipe& r) {
  BUNDLER_CHECK(for_each_table(c, root, "images", [&](const toml::table& t, const std::string& w) -> Status {
    BUNDLER_CHECK(only_keys(c, t, w, {"ref", "digest", "layout"}));
    RecipeImage im;
    BUNDLER_TRY(im.ref, req_string(c, t, w, "ref"));
    BUNDLER_TRY(im.digest, req_string(c, t, w, "digest"));
    BUNDLER_TRY(im.layout, opt_string(c, t, w, "layout"));
    r.images.push_back(std::move(im));
    return {};
  }));
  BUNDLER_CHECK(for_each_table(c, root, "migrations", [&](const toml::table& t, const std::string& w) -> Status {
    BUNDLER_CHECK(only_keys(c, t, w, {"id", "database", "up", "down", "irreversible", "fixture"}));
    RecipeMigration m;
    BUNDLER_TRY(m.id, req_string(c, t, w, "id"));
    BUNDLER_TRY(m.database, req_string(c, t, w, "database"));
    BUNDLER_TRY(m.up, req_string(c, t, w, "up"));
    BUNDLER_TRY(m.down, opt_string(c, t, w, "down"));
    BUNDLER_TRY(auto irr, opt_bool(c, t, w, "irreversible"));
    m.irreversible = irr.value_or(false);
    BUNDLER_TRY(m.fixture, opt_string(c, t, w, "fixture"));
    r.migrations.push_back(std::move(m));
    return {};
  }));
  BUNDLER_CHECK(for_each_table(c, root, "config", [&](const toml::table& t, const std::string& w) -> Status {
    BUNDLER_CHECK(only_keys(c, t, w, {"target", "patch", "breaking"}));
    RecipeConfig cfg;
    BUNDLER_TRY(cfg.target, req_string(c, t, w, "target"));
    BUNDLER_TRY(cfg.patch, req_string(c, t, w, "patch"));
    BUNDLER_TRY(auto br, opt_bool(c, t, w, "breaking"));
    cfg.breaking = br.value_or(false);
    r.config.push_back(std::move(cfg));
    return {};
  }));
  BUNDLER_CHECK(for_each_table(c, root, "notes", [&](const toml::table& t, const std::string& w) -> Status {
    BUNDLER_CHECK(only_keys(c, t, w, {"lang", "path"}));
    RecipeNote n;
    BUNDLER_TRY(n.lang, req_string(c, t, w, "lang"));
    BUNDLER_TRY(n.path, req_string(c, t, w, "path"));
    r.notes.push_back(std::move(n));
    return {};
  }));
  return for_each_table(c, root, "files", [&](const toml::table& t, const std::string& w) -> Status {
    BUNDLER_CHECK(only_keys(c, t, w, {"from", "to", "executable"}));
    RecipeFiles f;
    BUNDLER_TRY(f.from, req_string(c, t, w, "from"));
    BUNDLER_TRY(f.to, opt_string(c, t, w, "to"));
    BUNDLER_TRY(f.executable, opt_bool(c, t, w, "executable"));
    r.files.push_back(std::move(f));
    return {};
  });
}

}  // namespace

std::string Recipe::resolve(const std::string& source) const {
  if (!source.empty() && source.front() == '/') return source;
  return dir + "/" + source;
}

Result<Recipe> parse_recipe(std::string_view text, const std::string& recipe_path) {
  Ctx c{recipe_path};
  auto parsed = tomlu::parse(text, kMaxRecipeBytes, ErrorClass::usage, "recipe '" + recipe_path + "'");
  if (!parsed) return fail(std::move(parsed).error());
  const toml::table& root = *parsed;
  Recipe r;
  r.path = recipe_path;
  r.dir = parent_dir(recipe_path);
  Status s =
      only_keys(c, root, "top level",
                {"release", "build", "delta", "trust_update", "images", "migrations", "config", "notes", "files"});
  if (s) s = parse_release(c, root, r);
  if (s) s = parse_build_and_delta(c, root, r);
  if (s) s = parse_lists(c, root, r);
  if (!s) return fail(std::move(s).error());
  return r;
}

Result<Recipe> load_recipe(const std::string& recipe_path) {
  auto text = read_file(recipe_path, kMaxRecipeBytes, ErrorClass::usage);
  if (!text) return fail(ErrorClass::usage, "cannot read recipe: " + text.error().message());
  return parse_recipe(*text, recipe_path);
}

}  // namespace airlock::bundler

// [databases] of site.toml: an SQLite file by its path, or a table naming the kind (a PostgreSQL
// database: its libpq conninfo, never a password, and its migration timeouts).
#include "applier/site_parse.hpp"

#include <algorithm>

#include "core/db/target.hpp"

namespace airlock::applier::site_parse {
namespace {

using tomlu::Fields;

std::string known_kinds() {
  std::string out;
  for (const auto& k : db::target_kinds()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// A database on a server: its libpq conninfo (never a password), whether a superuser role is
// allowed, and the migration's statement and lock timeouts.
Result<db::TargetSpec> server_entry(const toml::table& t, const Fields& e, db::TargetSpec spec) {
  TOMLU_CHECK(e.only({"kind", "connection", "allow_superuser", "statement_timeout", "lock_timeout"}));
  TOMLU_TRY(spec.location, one_line(e, "connection"));
  TOMLU_TRY(auto super, e.opt_bool("allow_superuser"));
  spec.allow_superuser = super.value_or(false);
  TOMLU_TRY(spec.statement_timeout_ms, duration_ms(t, e, "statement_timeout", 0));
  TOMLU_TRY(spec.lock_timeout_ms, duration_ms(t, e, "lock_timeout", spec.lock_timeout_ms));
  if (auto ok = db::check_spec(spec); !ok) return fail(ok.error());
  return spec;
}

// One [databases] entry: a path (an SQLite file), or a table naming the kind and where it is.
Result<db::TargetSpec> database_entry(const Fields& f, const std::string& name, const toml::node& v,
                                      const std::string& base) {
  db::TargetSpec spec{name, "sqlite", "", db::Durability::durable};
  const auto* entry = v.as_table();
  if (!entry) {
    TOMLU_TRY(auto path, one_line(f, name));
    spec.location = resolve(base, path);
    return spec;
  }
  const Fields e(*entry, f.path(name), kCls);
  TOMLU_TRY(spec.kind, one_line(e, "kind"));
  const auto& kinds = db::target_kinds();
  if (std::find(kinds.begin(), kinds.end(), spec.kind) == kinds.end())
    return e.error("kind", "unknown kind '" + spec.kind + "' (" + known_kinds() + ")");
  if (spec.kind == "postgres") return server_entry(*entry, e, std::move(spec));
  TOMLU_CHECK(e.only({"kind", "path"}));
  TOMLU_TRY(auto path, one_line(e, "path"));
  spec.location = resolve(base, path);
  return spec;
}

}  // namespace

Result<std::map<std::string, db::TargetSpec>> database_map(const toml::table& root, const std::string& base) {
  std::map<std::string, db::TargetSpec> out;
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table("databases"));
  if (!t) return out;
  const Fields f(*t, "databases", kCls);
  for (const auto& [k, v] : *t) {
    TOMLU_TRY(auto spec, database_entry(f, std::string(k.str()), v, base));
    out.emplace(spec.name, std::move(spec));
  }
  return out;
}

}  // namespace airlock::applier::site_parse

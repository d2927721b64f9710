#define TOML_HEADER_ONLY 0
#define TOML_SHARED_LIB 1
#include "applier/site_checks.hpp"

#include <algorithm>
#include <set>

#include "core/text.hpp"

namespace airlock::applier {
namespace {

using tomlu::Fields;

constexpr ErrorClass kCls = ErrorClass::usage;

Result<std::string> text(const Fields& f, std::string_view key) {
  TOMLU_TRY(auto v, f.str(key));
  if (v.empty()) return f.error(key, "must not be empty");
  if (printable(v) != v) return f.error(key, "must be printable text");
  return v;
}

bool dotted_path(const std::string& key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  return key.find("..") == std::string::npos;
}

Status set_equals(const toml::node& n, const Fields& f, Condition& c) {
  if (const auto* b = n.as_boolean()) {
    c.equals = b->get();
    c.equals_text = b->get() ? "true" : "false";
  } else if (const auto* i = n.as_integer()) {
    c.equals = i->get();
    c.equals_text = std::to_string(i->get());
  } else if (const auto* d = n.as_floating_point()) {
    c.equals = d->get();
    c.equals_text = std::to_string(d->get());
  } else if (const auto* s = n.as_string()) {
    if (printable(s->get()) != s->get()) return f.error("equals", "must be printable text");
    c.equals = s->get();
    c.equals_text = tomlu::quote(s->get());
  } else {
    return f.error("equals", "expected a boolean, a number or a string, found " + tomlu::type_name(n));
  }
  return {};
}

// A member that sets its own `hard` says something the group overrides: refused, not ignored.
Status member_without_severity(const toml::table& root, const std::string& check, const Fields& f) {
  const toml::array* checks = root["checks"].as_array();
  if (!checks) return {};
  for (const auto& n : *checks) {
    const auto* t = n.as_table();
    if (!t || t->get("name") == nullptr || !t->get("name")->is_string()) continue;
    if (t->get("name")->as_string()->get() == check && t->contains("hard"))
      return f.error(
          "checks",
          "check '" + check + "' sets `hard`, but in a group the group's `hard` decides: remove it from the check");
  }
  return {};
}

Result<CheckGroup> parse_group(const toml::table& t, std::size_t i, const toml::table& root, Site& site,
                               const std::set<std::string>& taken) {
  const Fields f(t, "check_groups[" + std::to_string(i) + "]", kCls);
  TOMLU_CHECK(f.only({"name", "checks", "min_pass", "hard"}));
  CheckGroup g;
  TOMLU_TRY(g.name, text(f, "name"));
  if (taken.count(g.name)) return f.error("name", "'" + g.name + "' is already the name of a check or a group");
  const toml::array* members = t["checks"].as_array();
  if (!members || members->empty()) return f.error("checks", "required: a non-empty array of check names");
  for (const auto& m : *members) {
    if (!m.is_string()) return f.error("checks", "array elements must be strings, found " + tomlu::type_name(m));
    const std::string name = m.as_string()->get();
    auto it = std::find_if(site.checks.begin(), site.checks.end(), [&](const CheckSpec& c) { return c.name == name; });
    if (it == site.checks.end()) return f.error("checks", "no check named '" + printable(name) + "'");
    if (!it->group.empty()) return f.error("checks", "check '" + name + "' is already in group '" + it->group + "'");
    TOMLU_CHECK(member_without_severity(root, name, f));
    it->group = g.name;
    g.checks.push_back(name);
  }
  TOMLU_TRY(g.min_pass, f.integer("min_pass"));
  const auto n = static_cast<std::int64_t>(g.checks.size());
  if (g.min_pass < 1 || g.min_pass > n)
    return f.error("min_pass", std::to_string(g.min_pass) + " is outside 1.." + std::to_string(n));
  TOMLU_TRY(auto hard, f.opt_bool("hard"));
  g.hard = hard.value_or(true);
  return g;
}

}  // namespace

Result<Condition> parse_condition(const toml::table& t, const std::string& where, const Site& site) {
  const Fields f(t, where, kCls);
  TOMLU_CHECK(f.only({"config", "key", "equals"}));
  Condition c;
  TOMLU_TRY(c.config, text(f, "config"));
  if (!site.configs.count(c.config)) return f.error("config", "no config '" + c.config + "' in [config]");
  TOMLU_TRY(c.key, text(f, "key"));
  if (!dotted_path(c.key)) return f.error("key", "'" + c.key + "' is not a dotted key path like \"a.b\"");
  const toml::node* eq = t.get("equals");
  if (!eq) return f.error("equals", "required (a boolean, a number or a string)");
  TOMLU_CHECK(set_equals(*eq, f, c));
  return c;
}

Status parse_check_groups(const toml::table& root, Site& site) {
  TOMLU_TRY(auto tables, Fields(root, "", kCls).tables("check_groups"));
  std::set<std::string> taken;
  for (const auto& c : site.checks) taken.insert(c.name);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TOMLU_TRY(auto g, parse_group(*tables[i], i, root, site, taken));
    taken.insert(g.name);
    site.check_groups.push_back(std::move(g));
  }
  return {};
}

}  // namespace airlock::applier

// Config deltas: see the header for the rules and the re-serialization limitation.
#include "core/config_delta.hpp"

#include <functional>
#include <sstream>

#include "core/toml_util.hpp"

namespace airlock {
namespace {

bool bare_key(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

std::string join(const std::string& prefix, std::string_view key) {
  const std::string k = bare_key(key) ? std::string(key) : tomlu::quote(key);
  return prefix.empty() ? k : prefix + "." + k;
}

// Leaves (non-table values) of t, depth first, with their dotted paths.
using LeafFn = std::function<Status(const std::string& path, const std::vector<std::string_view>& keys,
                                    const toml::node& value)>;
Status each_leaf(const toml::table& t, const std::string& prefix, std::vector<std::string_view>& keys,
                 const LeafFn& fn) {
  for (const auto& [k, v] : t) {
    keys.push_back(k.str());
    const std::string p = join(prefix, k.str());
    Status s = v.is_table() ? each_leaf(*v.as_table(), p, keys, fn) : fn(p, keys, v);
    keys.pop_back();
    if (!s) return s;
  }
  return {};
}

std::vector<std::string> leaf_paths(const toml::table* t) {
  std::vector<std::string> out;
  if (!t) return out;
  std::vector<std::string_view> keys;
  (void)each_leaf(*t, "", keys, [&](const std::string& p, const auto&, const toml::node&) -> Status {
    out.push_back(p);
    return {};
  });
  return out;
}

// The node at keys in t, or nullptr when a step is missing or not a table.
const toml::node* lookup(const toml::table& t, const std::vector<std::string_view>& keys) {
  const toml::table* cur = &t;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const toml::node* n = cur->get(keys[i]);
    if (!n) return nullptr;
    if (i + 1 == keys.size()) return n;
    cur = n->as_table();
    if (!cur) return nullptr;
  }
  return nullptr;
}

bool same(const toml::node& a, const toml::node& b) {
  if (a.type() != b.type()) return false;
  if (const auto* x = a.as_table()) return *x == *b.as_table();
  if (const auto* x = a.as_array()) return *x == *b.as_array();
  return a.visit([&](const auto& v) {
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (toml::is_value<T>) {
      return v == *b.as<typename T::value_type>();
    } else {
      return false;  // tables and arrays handled above
    }
  });
}

std::string show(const toml::node& n) {
  if (const auto* s = n.as_string()) return tomlu::quote(s->get());
  std::ostringstream os;
  os << toml::toml_formatter(n, toml::format_flags::none);
  return os.str();
}

void merge(toml::table& target, const toml::table& set) {
  for (const auto& [k, v] : set) {
    toml::node* existing = target.get(k.str());
    if (v.is_table() && existing && existing->is_table()) {
      merge(*existing->as_table(), *v.as_table());
      continue;
    }
    v.visit([&](const auto& x) { target.insert_or_assign(k, x); });
  }
}

void remove_path(toml::table& target, const std::vector<std::string_view>& keys) {
  toml::table* cur = &target;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    toml::node* n = cur->get(keys[i]);
    cur = n ? n->as_table() : nullptr;
    if (!cur) return;  // absent: nothing to remove
  }
  cur->erase(keys.back());
}

}  // namespace

Result<ConfigPatch> parse_config_patch(std::string_view text) {
  constexpr auto cls = ErrorClass::malformed;
  TOMLU_TRY(auto doc, tomlu::parse(text, kMaxConfigBytes, cls, "config delta"));
  tomlu::Fields root(doc, "", cls);
  TOMLU_CHECK(root.only({"require", "remove", "set"}));
  TOMLU_TRY(const toml::table* require, root.opt_table("require"));
  TOMLU_TRY(const toml::table* remove, root.opt_table("remove"));
  TOMLU_TRY(const toml::table* set, root.opt_table("set"));
  if (remove) {
    std::vector<std::string_view> keys;
    TOMLU_CHECK(each_leaf(*remove, "remove", keys, [&](const std::string& p, const auto&, const toml::node& v) -> Status {
      if (!v.is_boolean() || !v.as_boolean()->get())
        return fail(cls, p + ": a [remove] leaf must be true, found " +
                             (v.is_boolean() ? std::string("false") : tomlu::type_name(v)));
      return {};
    }));
  }
  ConfigPatch out;
  out.text = std::string(text);
  out.require = leaf_paths(require);
  out.remove = leaf_paths(remove);
  out.set = leaf_paths(set);
  return out;
}

Result<std::string> apply_config_patch(std::string_view target_toml, const ConfigPatch& patch) {
  TOMLU_TRY(auto patch_doc, tomlu::parse(patch.text, kMaxConfigBytes, ErrorClass::malformed, "config delta"));
  TOMLU_TRY(auto target, tomlu::parse(target_toml, kMaxConfigBytes, ErrorClass::usage, "config target"));

  // 1. Every precondition first: a mismatch leaves the target untouched.
  if (const toml::table* require = patch_doc["require"].as_table()) {
    std::vector<std::string_view> keys;
    TOMLU_CHECK(each_leaf(*require, "", keys, [&](const std::string& p, const auto& ks, const toml::node& want) -> Status {
      const toml::node* have = lookup(target, ks);
      if (!have) return fail(ErrorClass::policy, "require " + p + ": expected " + show(want) + ", found nothing");
      if (!same(want, *have))
        return fail(ErrorClass::policy, "require " + p + ": expected " + show(want) + ", found " + show(*have));
      return {};
    }));
  }
  // 2. Removals, 3. then the merge.
  if (const toml::table* remove = patch_doc["remove"].as_table()) {
    std::vector<std::string_view> keys;
    (void)each_leaf(*remove, "", keys, [&](const std::string&, const auto& ks, const toml::node&) -> Status {
      remove_path(target, ks);
      return {};
    });
  }
  if (const toml::table* set = patch_doc["set"].as_table()) merge(target, *set);

  std::ostringstream os;
  os << toml::toml_formatter(target, toml::toml_formatter::default_flags & ~toml::format_flags::indentation);
  std::string out = os.str();
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

}  // namespace airlock

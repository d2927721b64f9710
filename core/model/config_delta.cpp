// Config deltas: see the header for the rules. The meaning of a delta is computed on toml++ trees
// (check, remove, merge); the text written back is the operator's own file edited in place when
// config_delta_edit.cpp manages it and the edit provably means the same tree, else a
// re-serialization of the tree.
#include "core/model/config_delta.hpp"

#include <functional>
#include <sstream>

#include "core/model/config_delta_internal.hpp"

namespace airlock {
namespace config_delta {

std::string join(const std::string& prefix, std::string_view key) {
  bool bare = !key.empty();
  for (char c : key)
    bare = bare && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  const std::string k = bare ? std::string(key) : tomlu::quote(key);
  return prefix.empty() ? k : prefix + "." + k;
}

Status each_leaf(const toml::table& t, const std::string& prefix, Keys& keys, const LeafFn& fn) {
  for (const auto& [k, v] : t) {
    keys.push_back(k.str());
    const std::string p = join(prefix, k.str());
    Status s = v.is_table() ? each_leaf(*v.as_table(), p, keys, fn) : fn(p, keys, v);
    keys.pop_back();
    if (!s) return s;
  }
  return {};
}

const toml::node* lookup(const toml::table& t, const Keys& keys) {
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

// toml++'s own formatter writes a key holding a tab, a newline or a ' as a bare key (toml++
// 3.3.0, formatter.inl), which reads back as another key; so keys, and everything holding them,
// are written here, and toml++ formats only scalars.
std::string render_value(const toml::node& n) {
  if (const auto* s = n.as_string()) return tomlu::quote(s->get());
  if (const auto* a = n.as_array()) {
    if (a->empty()) return "[]";
    std::string out = "[ ";
    for (std::size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + render_value((*a)[i]);
    return out + " ]";
  }
  if (const auto* t = n.as_table()) {
    if (t->empty()) return "{}";
    std::string out = "{ ";
    bool first = true;
    for (const auto& [k, v] : *t) {
      out += (first ? "" : ", ") + join("", k.str()) + " = " + render_value(v);
      first = false;
    }
    return out + " }";
  }
  std::ostringstream os;
  os << toml::toml_formatter(n, toml::toml_formatter::default_flags & ~toml::format_flags::indentation);
  return os.str();
}

namespace {

bool is_section(const toml::node& v) { return v.is_table() && !v.as_table()->is_inline(); }

bool is_section_array(const toml::node& v) {
  const auto* a = v.as_array();
  if (!a || a->empty()) return false;
  for (const auto& e : *a)
    if (!is_section(e)) return false;
  return true;
}

// Headers longer than this are not written: the subtree goes under the last header as dotted keys
// instead. tomlu refuses a key or header of more than 32 dotted parts, and a tree may be deeper
// than that (a 20-part header holding 20-part dotted keys): written as headers alone, the result
// of an apply could not be read by the next one.
constexpr std::size_t kMaxHeaderParts = 16;

void render_dotted(const toml::table& t, const std::string& prefix, std::string& out) {
  if (t.empty()) {
    out += prefix + " = {}\n";
    return;
  }
  for (const auto& [k, v] : t) {
    const std::string p = join(prefix, k.str());
    if (is_section(v)) {
      render_dotted(*v.as_table(), p, out);
    } else {
      out += p + " = " + render_value(v) + "\n";
    }
  }
}

// The key/values of t that are not sections, then each section under its own header (or, past
// kMaxHeaderParts, as dotted keys in t's own section).
void render_table(const toml::table& t, const std::string& path, std::size_t parts, std::string& out) {
  const bool headers = parts < kMaxHeaderParts;
  for (const auto& [k, v] : t) {
    if (!is_section(v) && !is_section_array(v)) {
      out += join("", k.str()) + " = " + render_value(v) + "\n";
    } else if (!headers) {
      if (is_section(v)) {
        render_dotted(*v.as_table(), join("", k.str()), out);
      } else {
        out += join("", k.str()) + " = " + render_value(v) + "\n";
      }
    }
  }
  if (!headers) return;
  for (const auto& [k, v] : t) {
    const std::string p = join(path, k.str());
    if (is_section(v)) {
      out += (out.empty() ? "[" : "\n[") + p + "]\n";
      render_table(*v.as_table(), p, parts + 1, out);
    } else if (is_section_array(v)) {
      for (const auto& e : *v.as_array()) {
        out += (out.empty() ? "[[" : "\n[[") + p + "]]\n";
        render_table(*e.as_table(), p, parts + 1, out);
      }
    }
  }
}

}  // namespace

std::string render_document(const toml::table& t) {
  std::string out;
  render_table(t, "", 0, out);
  return out;
}

}  // namespace config_delta

namespace {

using namespace config_delta;

std::vector<std::string> leaf_paths(const toml::table* t) {
  std::vector<std::string> out;
  if (!t) return out;
  Keys keys;
  (void)each_leaf(*t, "", keys, [&](const std::string& p, const Keys&, const toml::node&) -> Status {
    out.push_back(p);
    return {};
  });
  return out;
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

std::string show(const toml::node& n) { return render_value(n); }

void merge(toml::table& target, const toml::table& set) {
  for (const auto& entry : set) {
    const toml::key& k = entry.first;
    const toml::node& v = entry.second;
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
    Keys keys;
    TOMLU_CHECK(
        each_leaf(*remove, "remove", keys, [&](const std::string& p, const auto&, const toml::node& v) -> Status {
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

namespace {

Status check_require(const toml::table& target, const toml::table& require) {
  Keys keys;
  return each_leaf(require, "", keys, [&](const std::string& p, const Keys& ks, const toml::node& want) -> Status {
    const toml::node* have = lookup(target, ks);
    if (!have) return fail(ErrorClass::policy, "require " + p + ": expected " + show(want) + ", found nothing");
    if (!same(want, *have))
      return fail(ErrorClass::policy, "require " + p + ": expected " + show(want) + ", found " + show(*have));
    return {};
  });
}

}  // namespace

Result<std::string> apply_config_patch(std::string_view target_toml, const ConfigPatch& patch) {
  TOMLU_TRY(auto patch_doc, tomlu::parse(patch.text, kMaxConfigBytes, ErrorClass::malformed, "config delta"));
  TOMLU_TRY(auto original, tomlu::parse(target_toml, kMaxConfigBytes, ErrorClass::usage, "config target"));
  const toml::table* require = patch_doc["require"].as_table();
  const toml::table* remove = patch_doc["remove"].as_table();
  const toml::table* set = patch_doc["set"].as_table();

  // 1. Every precondition first: a mismatch leaves the target untouched.
  if (require) TOMLU_CHECK(check_require(original, *require));
  // 2. Removals, 3. then the merge: this tree is the meaning of the result.
  toml::table target = original;
  if (remove) {
    Keys keys;
    (void)each_leaf(*remove, "", keys, [&](const std::string&, const Keys& ks, const toml::node&) -> Status {
      remove_path(target, ks);
      return {};
    });
  }
  if (set) merge(target, *set);

  // Prefer the operator's own text with lines edited; keep it only when it means the same tree.
  if (auto edited = edit_in_place(target_toml, original, remove, set)) {
    auto again = tomlu::parse(*edited, kMaxConfigBytes, ErrorClass::usage, "edited config");
    if (again && *again == target) return *edited;
  }
  std::string out = render_document(target);
  // A tree can be deeper than one key or header may be long (a 32-part header holding 31-part
  // dotted keys), and then its text breaks the reader's limits: it is refused here, by the
  // reader's own rules, before anything is written, not written for the next apply to refuse.
  auto again = tomlu::parse(out, kMaxConfigBytes, ErrorClass::preflight, "the config this delta would write");
  if (!again) return fail(again.error());
  return out;
}

}  // namespace airlock

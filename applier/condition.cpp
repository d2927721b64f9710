#define TOML_HEADER_ONLY 0
#define TOML_SHARED_LIB 1
#include "applier/condition.hpp"

#include "core/model/config_delta.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"
#include "core/toml_util.hpp"

namespace airlock::applier {
namespace {

// The value at the dotted path as TOML text, for the message.
std::string shown(const toml::node& n) {
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* d = n.as_floating_point()) return std::to_string(d->get());
  if (const auto* s = n.as_string()) return tomlu::quote(printable(s->get()));
  return "a " + tomlu::type_name(n);
}

bool equal(const toml::node& n, const Condition& c) {
  return std::visit(
      [&](const auto& want) {
        using T = std::decay_t<decltype(want)>;
        if constexpr (std::is_same_v<T, bool>) return n.is_boolean() && n.as_boolean()->get() == want;
        if constexpr (std::is_same_v<T, std::int64_t>) return n.is_integer() && n.as_integer()->get() == want;
        if constexpr (std::is_same_v<T, double>) return n.is_floating_point() && n.as_floating_point()->get() == want;
        if constexpr (std::is_same_v<T, std::string>) return n.is_string() && n.as_string()->get() == want;
      },
      c.equals);
}

// Dotted keys walk tables only: "a.b" is key b of table a.
const toml::node* at(const toml::table& root, const std::string& key) {
  const toml::node* n = &root;
  std::size_t from = 0;
  for (;;) {
    const auto dot = key.find('.', from);
    const auto* t = n->as_table();
    if (!t) return nullptr;
    n = t->get(key.substr(from, dot == std::string::npos ? std::string::npos : dot - from));
    if (!n || dot == std::string::npos) return n;
    from = dot + 1;
  }
}

}  // namespace

std::optional<std::string> condition_unmet(const Site& site, const Condition& when) {
  const std::string head = when.config + ": " + when.key;
  const std::string need = ", the check runs when it is " + when.equals_text;
  auto path = site.configs.find(when.config);
  if (path == site.configs.end()) return head + " is not set (no such config)" + need;
  auto text = read_file(path->second, kMaxConfigBytes, ErrorClass::io);
  if (!text) return head + " cannot be read (" + text.error().what() + ")" + need;
  auto root = tomlu::parse(*text, kMaxConfigBytes, ErrorClass::io, path->second);
  if (!root) return head + " cannot be read (" + root.error().what() + ")" + need;
  const toml::node* n = at(*root, when.key);
  if (!n) return head + " is not set" + need;
  if (!equal(*n, when)) return head + " is " + shown(*n) + need;
  return std::nullopt;
}

}  // namespace airlock::applier

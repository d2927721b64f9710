// [ui]: `airlock serve`'s page. A listen address off the loopback needs TLS: the password and the
// session cookie must never cross a network in clear.
#include "applier/site_parse.hpp"

#include <string>
#include <vector>

#include "core/text.hpp"

namespace airlock::applier::site_parse {
namespace {

using tomlu::Fields;

Result<std::vector<std::string>> host_list(const toml::table& t, const Fields& f) {
  std::vector<std::string> out;
  const toml::node* n = t.get("hosts");
  if (!n) return out;
  const auto* a = n->as_array();
  if (!a) return f.error("hosts", "must be an array of host names");
  for (const auto& e : *a) {
    const auto* h = e.as_string();
    if (!h || h->get().empty() || h->get().size() > 255 || has_control(h->get()))
      return f.error("hosts", "every entry must be a host name like \"updates.example\" or \"10.0.0.5:8480\"");
    out.push_back(h->get());
  }
  return out;
}

bool loopback_listen(const std::string& listen) {
  return listen.rfind("127.", 0) == 0 || listen.rfind("[::1]:", 0) == 0 || listen.rfind("localhost:", 0) == 0;
}

}  // namespace

Status parse_ui(const toml::table& root, Site& s) {
  s.ui.password_file = s.state_dir + "/ui-password";
  s.ui.inbox = s.state_dir + "/inbox";
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table("ui"));
  if (!t) return {};
  const Fields f(*t, "ui", kCls);
  TOMLU_CHECK(f.only(
      {"listen", "hosts", "password_file", "tls_cert", "tls_key", "inbox", "stick", "upload_limit", "inbox_limit"}));
  UiSettings& u = s.ui;
  TOMLU_TRY(u.listen, opt_text(f, "listen", u.listen));
  const auto colon = u.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == u.listen.size())
    return f.error("listen", "'" + printable(u.listen) + "' is not an address like 127.0.0.1:8480");
  TOMLU_TRY(u.hosts, host_list(*t, f));
  for (auto [key, slot] : {std::pair{"password_file", &u.password_file},
                           {"tls_cert", &u.tls_cert},
                           {"tls_key", &u.tls_key},
                           {"inbox", &u.inbox},
                           {"stick", &u.stick}}) {
    TOMLU_TRY(auto v, opt_text(f, key, ""));
    if (!v.empty()) *slot = resolve(s.base_dir, v);
  }
  if (u.tls_cert.empty() != u.tls_key.empty()) return f.error("tls_cert", "tls_cert and tls_key go together");
  if (!loopback_listen(u.listen) && u.tls_cert.empty())
    return f.error("listen", "'" + printable(u.listen) + "' is not loopback: it needs tls_cert and tls_key");
  if (t->contains("upload_limit")) {
    TOMLU_TRY(auto lim, f.integer("upload_limit"));
    if (lim < 1024 || lim > (1LL << 40)) return f.error("upload_limit", std::to_string(lim) + " is outside 1024..2^40");
    u.upload_limit = static_cast<std::uint64_t>(lim);
  }
  if (t->contains("inbox_limit")) {
    TOMLU_TRY(auto lim, f.integer("inbox_limit"));
    if (lim < 1024 || lim > (1LL << 44)) return f.error("inbox_limit", std::to_string(lim) + " is outside 1024..2^44");
    u.inbox_limit = static_cast<std::uint64_t>(lim);
  }
  return {};
}

}  // namespace airlock::applier::site_parse

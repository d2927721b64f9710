// The one file of the applier that wraps toml++ (it throws toml::parse_error; caught here).
// toml++ is used as the compiled library, as core uses it (pkg-config's flags): compiled
// header-only, 3.3.0 reaches TOML_UNREACHABLE on some non-ASCII input
// (tests/applier/site_regression_test.cpp).
#define TOML_HEADER_ONLY 0
#define TOML_SHARED_LIB 1
#include "applier/site.hpp"

#include <toml++/toml.h>
#include <filesystem>
#include <limits>
#include <set>

#include "core/fs.hpp"
#include "core/time.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;

tl::unexpected<Error> bad(const std::string& key, const std::string& why) {
  return fail(ErrorClass::usage, "site key '" + key + "': " + why);
}

Status only_keys(const toml::table& t, const std::string& where, const std::set<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str())))
      return bad(where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()), "unknown key");
  }
  return {};
}

std::string resolve(const std::string& base, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : fs::path(base) / path).lexically_normal().string();
}

Result<std::string> req_string(const toml::table& t, const std::string& key, const std::string& where) {
  auto v = t[key].value<std::string>();
  if (!v || v->empty()) return bad(where + key, "required non-empty string");
  return *v;
}

// Every timeout is at most a week: deadlines are steady_clock::now() + timeout, which overflows
// for timeouts near 292 years (int64 nanoseconds), and no hook, check or migration should wait
// longer than a maintenance window anyway.
constexpr std::int64_t kMaxTimeoutMs = 7LL * 24 * 3600 * 1000;

Result<std::int64_t> duration_ms(const toml::table& t, const std::string& key, const std::string& where,
                                 std::int64_t dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  std::int64_t ms = 0;
  if (auto s = n->value<std::string>()) {
    auto secs = parse_duration(*s);
    if (!secs || *secs <= 0) return bad(where + key, "expected a duration like \"5s\" or \"2m\"");
    // Compared in seconds first: milliseconds might not fit in int64 (fuzz finding:
    // "10000000390770813s" overflowed here).
    if (*secs > kMaxTimeoutMs / 1000) return bad(where + key, "'" + *s + "' is longer than the limit of 7d");
    ms = *secs * 1000;
  } else if (auto i = n->value<std::int64_t>(); i && *i > 0) {
    if (*i > kMaxTimeoutMs) return bad(where + key, std::to_string(*i) + " ms is longer than the limit of 7d");
    ms = *i;
  } else {
    return bad(where + key, "expected a duration like \"5s\" (or milliseconds as an integer)");
  }
  return ms;
}

Result<std::vector<std::string>> command(const toml::node* n, const std::string& key) {
  if (!n) return bad(key, "required (a string run by /bin/sh -c, or an array of arguments)");
  if (auto s = n->value<std::string>()) return std::vector<std::string>{"/bin/sh", "-c", *s};
  std::vector<std::string> argv;
  if (const auto* a = n->as_array()) {
    for (const auto& e : *a) {
      auto s = e.value<std::string>();
      if (!s) return bad(key, "array elements must be strings");
      argv.push_back(*s);
    }
  }
  if (argv.empty()) return bad(key, "expected a string or a non-empty array of strings");
  return argv;
}

Result<Hook> parse_hook(const toml::table& t, const std::string& name) {
  std::string where = "hooks." + name + ".";
  AIRLOCK_CHECK(only_keys(t, "hooks." + name, {"run", "timeout"}), "site.toml");
  Hook h;
  AIRLOCK_TRY(h.argv, command(t.get("run"), where + "run"), "site.toml");
  AIRLOCK_TRY(h.timeout_ms, duration_ms(t, "timeout", where, 30000), "site.toml");
  return h;
}

std::optional<CheckKind> kind_of(const std::string& s) {
  for (auto k : {CheckKind::exec, CheckKind::http, CheckKind::tcp, CheckKind::sqlite, CheckKind::disk_free,
                 CheckKind::cert, CheckKind::latency})
    if (s == check_kind_name(k)) return k;
  return std::nullopt;
}

Status parse_check_fields(const toml::table& t, const std::string& w, const Site& site, CheckSpec& c) {
  switch (c.kind) {
    case CheckKind::exec: {
      AIRLOCK_TRY(c.argv, command(t.get("run"), w + "run"), "check");
      return {};
    }
    case CheckKind::http:
    case CheckKind::latency: {
      AIRLOCK_TRY(c.url, req_string(t, "url", w), "check");
      if (c.url.rfind("http://", 0) != 0) return bad(w + "url", "only http:// URLs on loopback are supported");
      c.expect_status = static_cast<int>(t["expect_status"].value_or(std::int64_t{200}));
      c.samples = static_cast<int>(t["samples"].value_or(std::int64_t{5}));
      c.max_increase_percent = t["max_increase_percent"].value_or(100.0);
      if (c.samples < 1 || c.samples > 1000) return bad(w + "samples", "must be 1..1000");
      return {};
    }
    case CheckKind::tcp: {
      AIRLOCK_TRY(c.address, req_string(t, "address", w), "check");
      return {};
    }
    case CheckKind::sqlite: {
      AIRLOCK_TRY(c.database, req_string(t, "database", w), "check");
      if (!site.databases.count(c.database))
        return bad(w + "database", "no database '" + c.database + "' in [databases]");
      AIRLOCK_TRY(c.query, req_string(t, "query", w), "check");
      auto e = t["expect"];
      if (auto s = e.value<std::string>())
        c.expect = *s;
      else if (auto i = e.value<std::int64_t>())
        c.expect = std::to_string(*i);
      else
        return bad(w + "expect", "required (string or integer)");
      return {};
    }
    case CheckKind::disk_free: {
      AIRLOCK_TRY(auto p, req_string(t, "path", w), "check");
      c.path = resolve(site.base_dir, p);
      auto m = t["min_free_bytes"].value<std::int64_t>();
      if (!m || *m < 0) return bad(w + "min_free_bytes", "required non-negative integer");
      c.min_free_bytes = static_cast<std::uint64_t>(*m);
      return {};
    }
    case CheckKind::cert: {
      AIRLOCK_TRY(auto p, req_string(t, "path", w), "check");
      c.path = resolve(site.base_dir, p);
      c.min_days = t["min_days"].value_or(std::int64_t{0});
      return {};
    }
  }
  return {};
}

Result<CheckSpec> parse_check(const toml::table& t, std::size_t i, const Site& site) {
  std::string w = "checks[" + std::to_string(i) + "].";
  AIRLOCK_CHECK(
      only_keys(t, "checks[" + std::to_string(i) + "]",
                {"name", "kind", "hard", "timeout", "run", "url", "expect_status", "samples", "max_increase_percent",
                 "address", "database", "query", "expect", "path", "min_free_bytes", "min_days"}),
      "site.toml");
  CheckSpec c;
  AIRLOCK_TRY(c.name, req_string(t, "name", w), "site.toml");
  AIRLOCK_TRY(auto kind, req_string(t, "kind", w), "site.toml");
  auto k = kind_of(kind);
  if (!k) return bad(w + "kind", "unknown kind '" + kind + "' (exec, http, tcp, sqlite, disk_free, cert, latency)");
  c.kind = *k;
  c.hard = t["hard"].value_or(true);
  AIRLOCK_TRY(c.timeout_ms, duration_ms(t, "timeout", w, 5000), "site.toml");
  AIRLOCK_CHECK(parse_check_fields(t, w, site, c), "site.toml");
  return c;
}

Result<std::map<std::string, std::string>> name_map(const toml::table& root, const std::string& key,
                                                    const std::string& base) {
  std::map<std::string, std::string> out;
  const toml::node* n = root.get(key);
  if (!n) return out;
  const auto* t = n->as_table();
  if (!t) return bad(key, "expected a table of name = \"path\"");
  for (const auto& [k, v] : *t) {
    auto s = v.value<std::string>();
    if (!s || s->empty()) return bad(key + "." + std::string(k.str()), "expected a path string");
    out[std::string(k.str())] = resolve(base, *s);
  }
  return out;
}

Status parse_top(const toml::table& root, Site& s) {
  AIRLOCK_CHECK(only_keys(root, "", {"site", "databases", "config", "hooks", "checks"}), "site.toml");
  const auto* st = root["site"].as_table();
  if (!st) return bad("site", "required table");
  AIRLOCK_CHECK(only_keys(*st, "site", {"name", "product", "state_dir", "trust_root", "channel", "migration_timeout"}),
                "site.toml");
  AIRLOCK_TRY(s.name, req_string(*st, "name", "site."), "site.toml");
  AIRLOCK_TRY(s.product, req_string(*st, "product", "site."), "site.toml");
  AIRLOCK_TRY(auto state, req_string(*st, "state_dir", "site."), "site.toml");
  s.state_dir = resolve(s.base_dir, state);
  AIRLOCK_TRY(auto trust, req_string(*st, "trust_root", "site."), "site.toml");
  s.trust_root = resolve(s.base_dir, trust);
  auto ch = (*st)["channel"].value_or(std::string("recommended"));
  auto c = parse_channel(ch);
  if (!c) return bad("site.channel", "unknown channel '" + ch + "' (recommended, rc, beta)");
  s.channel = *c;
  AIRLOCK_TRY(s.migration_timeout_ms, duration_ms(*st, "migration_timeout", "site.", 60000), "site.toml");
  AIRLOCK_TRY(s.databases, name_map(root, "databases", s.base_dir), "site.toml");
  AIRLOCK_TRY(s.configs, name_map(root, "config", s.base_dir), "site.toml");
  return {};
}

Status parse_hooks(const toml::table& root, Site& s) {
  const toml::node* n = root.get("hooks");
  if (!n) return {};
  const auto* t = n->as_table();
  if (!t) return bad("hooks", "expected a table");
  AIRLOCK_CHECK(only_keys(*t, "hooks", {"drain", "resume", "notify"}), "site.toml");
  for (auto [name, slot] : {std::pair{"drain", &s.drain}, {"resume", &s.resume}, {"notify", &s.notify}}) {
    const toml::node* h = t->get(name);
    if (!h) continue;
    if (!h->as_table()) return bad(std::string("hooks.") + name, "expected a table { run, timeout }");
    AIRLOCK_TRY(*slot, parse_hook(*h->as_table(), name), "site.toml");
  }
  return {};
}

// Before toml++ sees the text: valid UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF) and no control character but tab, LF and CR. TOML allows nothing else, so this refuses
// only what is not TOML, whatever toml++ would make of it.
Status check_bytes(std::string_view t, const std::string& file) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < t.size();) {
    auto c = static_cast<unsigned char>(t[i]);
    auto where = [&] { return "site file '" + file + "', line " + std::to_string(line) + ": "; };
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        return fail(ErrorClass::usage, where() + "control character " + std::to_string(c));
      line += c == '\n';
      ++i;
      continue;
    }
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > t.size()) return fail(ErrorClass::usage, where() + "invalid UTF-8");
    std::uint32_t cp = c & (0xff >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(t[i + k]);
      if ((cc & 0xc0) != 0x80) return fail(ErrorClass::usage, where() + "invalid UTF-8");
      cp = (cp << 6) | (cc & 0x3f);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return fail(ErrorClass::usage, where() + "invalid UTF-8");
    i += n;
  }
  return {};
}

}  // namespace

const char* check_kind_name(CheckKind k) {
  switch (k) {
    case CheckKind::exec:
      return "exec";
    case CheckKind::http:
      return "http";
    case CheckKind::tcp:
      return "tcp";
    case CheckKind::sqlite:
      return "sqlite";
    case CheckKind::disk_free:
      return "disk_free";
    case CheckKind::cert:
      return "cert";
    case CheckKind::latency:
      return "latency";
  }
  return "?";
}

Result<Site> parse_site(const std::string& text, const std::string& file) {
  Site s;
  s.file = fs::absolute(file).lexically_normal().string();
  s.base_dir = fs::path(s.file).parent_path().string();
  AIRLOCK_CHECK(check_bytes(text, file), "site file");
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return fail(ErrorClass::usage, "site file '" + file + "': " + std::string(e.description()) + " at line " +
                                       std::to_string(e.source().begin.line));
  }
  AIRLOCK_CHECK(parse_top(root, s), "site file '" + file + "'");
  AIRLOCK_CHECK(parse_hooks(root, s), "site file '" + file + "'");
  if (const toml::node* n = root.get("checks")) {
    const auto* arr = n->as_array();
    if (!arr) return fail(bad("checks", "expected an array of tables [[checks]]").value().with_context(file));
    std::set<std::string> names;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* t = (*arr)[i].as_table();
      if (!t)
        return fail(ErrorClass::usage, "site file '" + file + "': checks[" + std::to_string(i) + "] is not a table");
      AIRLOCK_TRY(auto c, parse_check(*t, i, s), "site file '" + file + "'");
      if (!names.insert(c.name).second)
        return fail(ErrorClass::usage, "site file '" + file + "': duplicate check name '" + c.name + "'");
      s.checks.push_back(std::move(c));
    }
  }
  return s;
}

namespace {

constexpr int kMaxLinkHops = 40;  // as the kernel's ELOOP limit

// A path with every symlink resolved. A link whose target does not exist yet (the database a first
// install creates) resolves to that target, not to the link; a missing file or folder at the end
// is kept as written under its resolved parent.
Result<std::string> real_path(const std::string& path, const std::string& key) {
  std::error_code ec;
  fs::path p(path);
  for (int hops = 0; fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    if (hops == kMaxLinkHops) return bad(key, "'" + path + "': too many levels of symbolic links");
    fs::path to = fs::read_symlink(p, ec);
    if (ec) return bad(key, "cannot read the link '" + p.string() + "': " + ec.message());
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  fs::path real = fs::weakly_canonical(p, ec);
  if (ec) return bad(key, "cannot resolve '" + path + "': " + ec.message());
  const std::string out = real.lexically_normal().string();
  // The path is printed by status and stored in snapshots: printable UTF-8 only.
  bool printable = check_bytes(out, key).has_value();
  for (char c : out) printable = printable && static_cast<unsigned char>(c) >= 0x20;
  if (!printable) return bad(key, "'" + path + "' resolves to a path that is not printable UTF-8");
  return out;
}

// Every target to its real path, once: reads, writes and snapshots then all reach the file the
// service uses. A write-back renamed over a symlink would replace the link with a regular file
// and leave the file behind it (which migrations, through the link, did change) out of step.
Status resolve_targets(Site& s) {
  AIRLOCK_TRY(s.state_dir, real_path(s.state_dir, "site.state_dir"), "resolving symlinks");
  AIRLOCK_TRY(s.trust_root, real_path(s.trust_root, "site.trust_root"), "resolving symlinks");
  for (auto& [name, path] : s.databases) {
    AIRLOCK_TRY(path, real_path(path, "databases." + name), "resolving symlinks");
  }
  for (auto& [name, path] : s.configs) {
    AIRLOCK_TRY(path, real_path(path, "config." + name), "resolving symlinks");
  }
  return {};
}

}  // namespace

Result<Site> load_site(const std::string& path) {
  auto text = read_file(path, kMaxSiteBytes, ErrorClass::usage);
  if (!text) {
    Error e = text.error();
    return fail(Error(ErrorClass::usage, e.what()).with_context("reading site file"));
  }
  auto site = parse_site(*text, path);
  if (site) AIRLOCK_CHECK(resolve_targets(*site), "site file '" + path + "'");
  return site;
}

}  // namespace airlock::applier

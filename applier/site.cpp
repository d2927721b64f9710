// site.toml through core's TOML front door (core/toml_util.hpp): the same pre-parse guards
// (size, UTF-8, control characters, nesting depth) as every other TOML document, and typed
// reads: a value of the wrong type is refused, never replaced by a default.
#include "applier/site.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "applier/channel.hpp"
#include "applier/services.hpp"
#include "applier/site_checks.hpp"
#include "applier/site_parse.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/local_time.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"
#include "core/toml_util.hpp"

namespace airlock::applier {

namespace fs = std::filesystem;
using tomlu::Fields;

namespace site_parse {

std::string resolve(const std::string& base, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : fs::path(base) / path).lexically_normal().string();
}

// A control character in a one-line value (a TOML escape such as "\u001b" can put one there)
// would reach the terminal and history through names and details.
bool has_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0))
      return true;
  }
  return false;
}

Result<std::string> one_line(const Fields& f, std::string_view key) {
  TOMLU_TRY(auto v, f.str(key));
  if (v.empty()) return f.error(key, "must not be empty");
  if (has_control(v)) return f.error(key, "must not contain control characters");
  return v;
}

Result<std::string> opt_text(const Fields& f, std::string_view key, const std::string& dflt) {
  TOMLU_TRY(auto v, f.opt_str(key));
  if (!v) return dflt;
  return one_line(f, key);
}

// Every timeout is at most a week: deadlines are steady_clock::now() + timeout, which overflows
// for timeouts near 292 years (int64 nanoseconds), and no hook, check or migration should wait
// longer than a maintenance window anyway.
constexpr std::int64_t kMaxTimeoutMs = 7LL * 24 * 3600 * 1000;

Result<std::int64_t> duration_ms(const toml::table& t, const Fields& f, std::string_view key, std::int64_t dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (const auto* s = n->as_string()) {
    auto secs = parse_duration(s->get());
    if (!secs || *secs <= 0) return f.error(key, "expected a duration like \"5s\" or \"2m\"");
    // Compared in seconds first: milliseconds might not fit in int64 ("10000000390770813s").
    if (*secs > kMaxTimeoutMs / 1000) return f.error(key, "'" + s->get() + "' is longer than the limit of 7d");
    return *secs * 1000;
  }
  if (const auto* i = n->as_integer(); i && i->get() > 0) {
    if (i->get() > kMaxTimeoutMs) return f.error(key, std::to_string(i->get()) + " ms is longer than the limit of 7d");
    return i->get();
  }
  return f.error(
      key, "expected a duration like \"5s\" (or milliseconds as a positive integer), found " + tomlu::type_name(*n));
}

}  // namespace site_parse

namespace {

using namespace site_parse;

Result<std::optional<std::int64_t>> opt_int(const Fields& f, const toml::table& t, std::string_view key,
                                            std::int64_t lo, std::int64_t hi) {
  if (!t.contains(key)) return std::optional<std::int64_t>{};
  TOMLU_TRY(auto v, f.integer(key));
  if (v < lo || v > hi)
    return f.error(key, std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return std::optional<std::int64_t>(v);
}

Result<std::vector<std::string>> command(const toml::table& t, const Fields& f, std::string_view key) {
  const toml::node* n = t.get(key);
  if (!n) return f.error(key, "required (a string run by /bin/sh -c, or an array of arguments)");
  if (const auto* s = n->as_string(); s && !s->get().empty())
    return std::vector<std::string>{"/bin/sh", "-c", s->get()};
  std::vector<std::string> argv;
  if (const auto* a = n->as_array()) {
    for (const auto& e : *a) {
      if (!e.is_string()) return f.error(key, "array elements must be strings, found " + tomlu::type_name(e));
      argv.push_back(e.as_string()->get());
    }
  }
  if (argv.empty()) return f.error(key, "expected a non-empty string or a non-empty array of strings");
  return argv;
}

Result<Hook> parse_hook(const toml::table& t, const std::string& name) {
  const Fields f(t, "hooks." + name, kCls);
  TOMLU_CHECK(f.only({"run", "timeout"}));
  Hook h;
  TOMLU_TRY(h.argv, command(t, f, "run"));
  TOMLU_TRY(h.timeout_ms, duration_ms(t, f, "timeout", 30000));
  return h;
}

std::optional<CheckKind> kind_of(const std::string& s) {
  for (auto k : {CheckKind::exec, CheckKind::http, CheckKind::tcp, CheckKind::sqlite, CheckKind::disk_free,
                 CheckKind::cert, CheckKind::latency, CheckKind::systemd, CheckKind::restarts, CheckKind::postgres})
    if (s == check_kind_name(k)) return k;
  return std::nullopt;
}

// The keys a check of each kind may have, besides name, kind, hard and timeout: a key of another
// kind is a mistake (a `url` on a tcp check is not what the operator meant).
std::vector<std::string_view> keys_of(CheckKind k) {
  switch (k) {
    case CheckKind::exec:
      return {"run"};
    case CheckKind::http:
      return {"url", "expect_status"};
    case CheckKind::latency:
      return {"url", "expect_status", "samples", "max_increase_percent", "max_increase_ms"};
    case CheckKind::tcp:
      return {"address"};
    case CheckKind::sqlite:
    case CheckKind::postgres:
      return {"database", "query", "expect"};
    case CheckKind::disk_free:
      return {"path", "min_free_bytes"};
    case CheckKind::cert:
      return {"path", "min_days", "ca", "host"};
    case CheckKind::systemd:
      return {"unit", "max_restarts"};
    case CheckKind::restarts:
      return {"run", "max_restarts"};
  }
  return {};
}

Status only_keys_of(const toml::table& t, const Fields& f, CheckKind k) {
  auto allowed = keys_of(k);
  for (std::string_view common : {"name", "kind", "hard", "timeout", "within", "first_attempt", "when"})
    allowed.push_back(common);
  for (const auto& [key, v] : t)
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
      return f.error(key.str(), std::string("unknown key for a check of kind ") + check_kind_name(k));
  return {};
}

// Checks reach only this host: a literal loopback address or "localhost".
bool loopback_host(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const int n = std::stoi(std::string(p));
  return n >= 1 && n <= 65535;
}

// "host:port", the host a loopback name or address ("[::1]:8080" for IPv6).
Status check_host_port(const Fields& f, std::string_view key, const std::string& hostport, bool port_required) {
  if (hostport.empty()) return f.error(key, "no host");
  const auto close = hostport.find(']');
  const auto colon = hostport.rfind(':');
  const bool has_port = colon != std::string::npos && (close == std::string::npos || colon > close) &&
                        (hostport.front() == '[' || hostport.find(':') == colon);
  if (!has_port && port_required) return f.error(key, "'" + hostport + "' has no port (host:port)");
  const std::string host = has_port ? hostport.substr(0, colon) : hostport;
  if (has_port && !valid_port(std::string_view(hostport).substr(colon + 1)))
    return f.error(key, "'" + hostport + "': the port must be 1..65535");
  if (!loopback_host(host))
    return f.error(key, "'" + host + "' is not a loopback address (127.0.0.0/8, ::1, localhost)");
  return {};
}

Status parse_url_fields(const toml::table& t, const Fields& f, CheckSpec& c) {
  TOMLU_TRY(c.url, one_line(f, "url"));
  if (!c.url.starts_with("http://")) return f.error("url", "only http:// URLs on loopback are supported");
  const std::string rest = c.url.substr(7);
  TOMLU_CHECK(check_host_port(f, "url", rest.substr(0, rest.find('/')), false));
  TOMLU_TRY(auto status, opt_int(f, t, "expect_status", 100, 599));
  c.expect_status = static_cast<int>(status.value_or(200));
  if (c.kind != CheckKind::latency) return {};
  TOMLU_TRY(auto samples, opt_int(f, t, "samples", 1, 1000));
  c.samples = static_cast<int>(samples.value_or(5));
  if (const toml::node* n = t.get("max_increase_percent")) {
    if (!n->is_number()) return f.error("max_increase_percent", "expected a number, found " + tomlu::type_name(*n));
    c.max_increase_percent =
        n->is_integer() ? static_cast<double>(n->as_integer()->get()) : n->as_floating_point()->get();
    if (!(c.max_increase_percent >= 0 && c.max_increase_percent <= 1e6))
      return f.error("max_increase_percent", "must be a number of percent in 0..1000000");
  }
  TOMLU_TRY(auto floor_ms, opt_int(f, t, "max_increase_ms", 0, 3600000));
  if (floor_ms) c.max_increase_ms = static_cast<double>(*floor_ms);
  return {};
}

Status parse_sqlite_fields(const toml::table& t, const Fields& f, const Site& site, CheckSpec& c) {
  TOMLU_TRY(c.database, one_line(f, "database"));
  if (!site.databases.count(c.database)) return f.error("database", "no database '" + c.database + "' in [databases]");
  TOMLU_TRY(c.query, f.str("query"));
  if (c.query.empty()) return f.error("query", "must not be empty");
  const toml::node* e = t.get("expect");
  if (!e) return f.error("expect", "required (a string or an integer)");
  if (e->is_string())
    c.expect = e->as_string()->get();
  else if (e->is_integer())
    c.expect = std::to_string(e->as_integer()->get());
  else
    return f.error("expect", "expected a string or an integer, found " + tomlu::type_name(*e));
  return {};
}

// A postgres check: its database is a PostgreSQL one; without a query it proves the database
// accepts writes (the probe writes and rolls back a row of a temporary table).
Status parse_postgres_fields(const toml::table& t, const Fields& f, const Site& site, CheckSpec& c) {
  TOMLU_TRY(c.database, one_line(f, "database"));
  auto d = site.databases.find(c.database);
  if (d == site.databases.end()) return f.error("database", "no database '" + c.database + "' in [databases]");
  if (d->second.kind != "postgres") return f.error("database", "'" + c.database + "' is not a postgres database");
  if (!t.contains("query") && !t.contains("expect")) return {};
  return parse_sqlite_fields(t, f, site, c);
}

Status parse_check_fields(const toml::table& t, const Fields& f, const Site& site, CheckSpec& c) {
  switch (c.kind) {
    case CheckKind::exec: {
      TOMLU_TRY(c.argv, command(t, f, "run"));
      return {};
    }
    case CheckKind::http:
    case CheckKind::latency:
      return parse_url_fields(t, f, c);
    case CheckKind::tcp: {
      TOMLU_TRY(c.address, one_line(f, "address"));
      return check_host_port(f, "address", c.address, true);
    }
    case CheckKind::sqlite:
      return parse_sqlite_fields(t, f, site, c);
    case CheckKind::postgres:
      return parse_postgres_fields(t, f, site, c);
    case CheckKind::disk_free: {
      TOMLU_TRY(auto p, one_line(f, "path"));
      c.path = resolve(site.base_dir, p);
      TOMLU_TRY(auto m, f.integer("min_free_bytes"));
      if (m < 0) return f.error("min_free_bytes", "must not be negative");
      c.min_free_bytes = static_cast<std::uint64_t>(m);
      return {};
    }
    case CheckKind::cert: {
      TOMLU_TRY(auto p, one_line(f, "path"));
      c.path = resolve(site.base_dir, p);
      TOMLU_TRY(auto days, opt_int(f, t, "min_days", 0, 36500));
      c.min_days = days.value_or(0);
      TOMLU_TRY(auto ca, opt_text(f, "ca", ""));
      if (!ca.empty()) c.ca = resolve(site.base_dir, ca);
      TOMLU_TRY(c.host, opt_text(f, "host", ""));
      return {};
    }
    case CheckKind::systemd:
    case CheckKind::restarts: {
      if (c.kind == CheckKind::systemd) {
        TOMLU_TRY(c.unit, one_line(f, "unit"));
      } else {
        TOMLU_TRY(c.argv, command(t, f, "run"));
      }
      TOMLU_TRY(auto n, opt_int(f, t, "max_restarts", 0, 1000000));
      c.max_restarts = n.value_or(0);
      return {};
    }
  }
  return {};
}

// Kinds that probe a service which may still be starting after resume keep trying until their
// deadline (a postgres server restarting counts); the others decide on their first attempt (a
// query, a script, a file do not improve by being asked again). systemd and restarts watch their
// whole window instead.
bool retries_by_default(CheckKind k) {
  return k == CheckKind::http || k == CheckKind::tcp || k == CheckKind::latency || k == CheckKind::postgres;
}

Status parse_deadline(const toml::table& t, const Fields& f, const Site& site, CheckSpec& c) {
  TOMLU_TRY(c.timeout_ms, duration_ms(t, f, "timeout", 5000));
  TOMLU_TRY(c.within_ms, duration_ms(t, f, "within", kDefaultWithinMs));
  if (c.within_ms > kMaxWithinMs) return f.error("within", "is longer than the limit of 15m");
  TOMLU_TRY(auto first, f.opt_bool("first_attempt"));
  const bool window = c.kind == CheckKind::systemd || c.kind == CheckKind::restarts;
  if (first && window) return f.error("first_attempt", "a systemd or restarts check watches its whole `within` window");
  c.retry = first ? !*first : retries_by_default(c.kind);
  TOMLU_TRY(const toml::table* when, f.opt_table("when"));
  if (!when) return {};
  TOMLU_TRY(c.when, parse_condition(*when, f.path("when"), site));
  return {};
}

Result<CheckSpec> parse_check(const toml::table& t, std::size_t i, const Site& site) {
  const Fields f(t, "checks[" + std::to_string(i) + "]", kCls);
  CheckSpec c;
  TOMLU_TRY(c.name, one_line(f, "name"));
  TOMLU_TRY(auto kind, one_line(f, "kind"));
  auto k = kind_of(kind);
  if (!k)
    return f.error("kind", "unknown kind '" + kind +
                               "' (exec, http, tcp, sqlite, disk_free, cert, latency, systemd, restarts, postgres)");
  c.kind = *k;
  auto checked = [&]() -> Status {
    TOMLU_CHECK(only_keys_of(t, f, c.kind));
    TOMLU_TRY(auto hard, f.opt_bool("hard"));
    c.hard = hard.value_or(true);
    TOMLU_CHECK(parse_deadline(t, f, site, c));
    return parse_check_fields(t, f, site, c);
  }();
  if (!checked) return fail(checked.error().with_context("check '" + c.name + "' (" + kind + ")"));
  return c;
}

Result<std::map<std::string, std::string>> name_map(const toml::table& root, const std::string& key,
                                                    const std::string& base) {
  std::map<std::string, std::string> out;
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table(key));
  if (!t) return out;
  const Fields f(*t, key, kCls);
  for (const auto& [k, v] : *t) {
    TOMLU_TRY(auto path, one_line(f, k.str()));
    out[std::string(k.str())] = resolve(base, path);
  }
  return out;
}

// A notes language as bundles name them (`lang` of [[notes]]): letters, digits and '-'.
bool valid_language(const std::string& l) {
  return l.size() <= 35 && std::all_of(l.begin(), l.end(), [](char ch) {
           return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
         });
}

// [policy] (docs/site.md): the bound of a critical release's delay can be shortened, never raised.
Status parse_policy(const toml::table& root, Site& s) {
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table("policy"));
  if (!t) return {};
  const Fields f(*t, "policy", kCls);
  TOMLU_CHECK(f.only({"critical_max_delay", "auto_apply_overdue_critical"}));
  TOMLU_TRY(s.critical_max_delay_ms, duration_ms(*t, f, "critical_max_delay", kMaxCriticalDelayMs));
  TOMLU_TRY(auto auto_apply, f.opt_bool("auto_apply_overdue_critical"));
  s.auto_apply_overdue_critical = auto_apply.value_or(true);
  return {};
}

Status parse_top(const toml::table& root, Site& s) {
  const Fields top(root, "", kCls);
  TOMLU_CHECK(top.only(
      {"site", "databases", "config", "hooks", "checks", "check_groups", "services", "policy", "ui", "telemetry"}));
  TOMLU_TRY(const toml::table* st, top.table("site"));
  const Fields f(*st, "site", kCls);
  TOMLU_CHECK(f.only({"name", "product", "state_dir", "trust_root", "channel", "migration_timeout", "staged_keep",
                      "language", "timezone"}));
  TOMLU_TRY(s.name, one_line(f, "name"));
  TOMLU_TRY(s.product, one_line(f, "product"));
  TOMLU_TRY(auto state, one_line(f, "state_dir"));
  s.state_dir = resolve(s.base_dir, state);
  TOMLU_TRY(auto trust, one_line(f, "trust_root"));
  s.trust_root = resolve(s.base_dir, trust);
  TOMLU_TRY(auto ch, opt_text(f, "channel", "recommended"));
  auto c = parse_channel(ch);
  if (!c) return f.error("channel", "unknown channel '" + ch + "' (recommended, rc, beta)");
  s.channel = s.channel_default = *c;
  TOMLU_TRY(s.migration_timeout_ms, duration_ms(*st, f, "migration_timeout", 60000));
  if (st->contains("staged_keep")) {
    TOMLU_TRY(s.staged_keep, f.integer("staged_keep"));
    if (s.staged_keep < 1 || s.staged_keep > 100)
      return f.error("staged_keep", std::to_string(s.staged_keep) + " is outside 1..100");
  }
  TOMLU_TRY(s.language, opt_text(f, "language", "en"));
  if (!valid_language(s.language))
    return f.error("language", "'" + s.language + "' is not a language tag like \"en\" or \"pt-BR\"");
  TOMLU_TRY(s.timezone, opt_text(f, "timezone", "UTC"));
  if (auto tz = check_time_zone(s.timezone); !tz) return f.error("timezone", tz.error().what());
  TOMLU_TRY(s.databases, database_map(root, s.base_dir));
  TOMLU_TRY(s.configs, name_map(root, "config", s.base_dir));
  TOMLU_CHECK(parse_ui(root, s));
  TOMLU_CHECK(parse_telemetry(root, s));
  return parse_policy(root, s);
}

Status parse_hooks(const toml::table& root, Site& s) {
  TOMLU_TRY(const toml::table* t, Fields(root, "", kCls).opt_table("hooks"));
  if (!t) return {};
  const Fields f(*t, "hooks", kCls);
  TOMLU_CHECK(f.only({"drain", "resume", "notify", "images"}));
  for (auto [name, slot] :
       {std::pair{"drain", &s.drain}, {"resume", &s.resume}, {"notify", &s.notify}, {"images", &s.images}}) {
    TOMLU_TRY(const toml::table* h, f.opt_table(name));
    if (!h) continue;
    TOMLU_TRY(*slot, parse_hook(*h, name));
  }
  return {};
}

Status parse_checks(const toml::table& root, Site& s) {
  TOMLU_TRY(auto tables, Fields(root, "", kCls).tables("checks"));
  std::set<std::string> names;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TOMLU_TRY(auto c, parse_check(*tables[i], i, s));
    if (!names.insert(c.name).second) return fail(kCls, "duplicate check name '" + c.name + "'");
    s.checks.push_back(std::move(c));
  }
  return {};
}

// [[services]]: `ready` is the name of a [[checks]] entry or an inline check table (its name, when
// it has none, "<service> ready"). A latency check only compares with the preflight baseline, so it
// cannot say a service is ready.
constexpr std::int64_t kMaxReadyWithinMs = 15 * 60 * 1000;

Result<std::optional<CheckSpec>> parse_ready(const toml::table& t, const Fields& f, std::size_t i, const Site& s,
                                             const std::string& service) {
  const toml::node* n = t.get("ready");
  if (!n) return std::optional<CheckSpec>{};
  std::optional<CheckSpec> c;
  if (const auto* name = n->as_string()) {
    for (const auto& check : s.checks)
      if (check.name == name->get()) c = check;
    if (!c) return f.error("ready", "no [[checks]] entry is named '" + printable(name->get()) + "'");
  } else if (const auto* inline_check = n->as_table()) {
    toml::table copy = *inline_check;
    if (!copy.contains("name")) copy.insert("name", service + " ready");
    auto parsed = parse_check(copy, i, s);
    if (!parsed) return fail(parsed.error().with_context(f.path("ready")));
    c = std::move(*parsed);
  } else {
    return f.error("ready", "expected the name of a [[checks]] entry or a check table, found " + tomlu::type_name(*n));
  }
  if (c->kind == CheckKind::latency) return f.error("ready", "a latency check cannot tell that a service is ready");
  c->hard = true;
  return c;
}

Result<std::vector<std::string>> name_list(const toml::table& t, const Fields& f, std::string_view key) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const auto* a = n->as_array();
  if (!a) return f.error(key, "expected an array of service names, found " + tomlu::type_name(*n));
  for (const auto& e : *a) {
    if (!e.is_string()) return f.error(key, "array elements must be strings, found " + tomlu::type_name(e));
    out.push_back(e.as_string()->get());
  }
  return out;
}

Result<ServiceSpec> parse_service(const toml::table& t, std::size_t i, const Site& s) {
  const Fields f(t, "services[" + std::to_string(i) + "]", kCls);
  TOMLU_CHECK(f.only({"name", "restart", "rolling", "rollback", "timeout", "ready", "ready_within", "after"}));
  ServiceSpec sv;
  TOMLU_TRY(sv.name, one_line(f, "name"));
  if (t.contains("restart") == t.contains("rolling"))
    return f.error("restart", "a service has exactly one of 'restart' and 'rolling'");
  sv.mode = t.contains("rolling") ? ServiceMode::rolling : ServiceMode::restart;
  TOMLU_TRY(sv.command, command(t, f, service_mode_name(sv.mode)));
  if (t.contains("rollback")) {
    TOMLU_TRY(sv.rollback, command(t, f, "rollback"));
  }
  TOMLU_TRY(sv.timeout_ms, duration_ms(t, f, "timeout", 300000));
  TOMLU_TRY(sv.ready, parse_ready(t, f, i, s, sv.name));
  TOMLU_TRY(sv.ready_within_ms, duration_ms(t, f, "ready_within", 60000));
  if (sv.ready_within_ms > kMaxReadyWithinMs) return f.error("ready_within", "is longer than the limit of 15m");
  TOMLU_TRY(sv.after, name_list(t, f, "after"));
  return sv;
}

Status parse_services(const toml::table& root, Site& s) {
  TOMLU_TRY(auto tables, Fields(root, "", kCls).tables("services"));
  std::vector<ServiceSpec> services;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TOMLU_TRY(auto sv, parse_service(*tables[i], i, s));
    services.push_back(std::move(sv));
  }
  TOMLU_TRY(s.services, order_services(std::move(services)));
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
    case CheckKind::systemd:
      return "systemd";
    case CheckKind::restarts:
      return "restarts";
    case CheckKind::postgres:
      return "postgres";
  }
  return "?";
}

Result<Site> parse_site(const std::string& text, const std::string& file) {
  Site s;
  s.file = fs::absolute(file).lexically_normal().string();
  s.base_dir = fs::path(s.file).parent_path().string();
  const std::string what = "site file '" + file + "'";
  TOMLU_TRY(auto root, tomlu::parse(text, kMaxSiteBytes, kCls, what));
  AIRLOCK_CHECK(parse_top(root, s), what);
  AIRLOCK_CHECK(parse_hooks(root, s), what);
  AIRLOCK_CHECK(parse_checks(root, s), what);
  AIRLOCK_CHECK(parse_check_groups(root, s), what);
  AIRLOCK_CHECK(parse_services(root, s), what);
  return s;
}

namespace {

constexpr int kMaxLinkHops = 40;  // as the kernel's ELOOP limit

// A path with every symlink resolved. A link whose target does not exist yet (the database a first
// install creates) resolves to that target, not to the link; a missing file or folder at the end
// is kept as written under its resolved parent.
Error bad_target(const std::string& key, const std::string& why) {
  return Error(ErrorClass::usage, "site key '" + key + "': " + why);
}

Result<std::string> real_path(const std::string& path, const std::string& key) {
  std::error_code ec;
  fs::path p(path);
  for (int hops = 0; fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    if (hops == kMaxLinkHops) return fail(bad_target(key, "'" + path + "': too many levels of symbolic links"));
    fs::path to = fs::read_symlink(p, ec);
    if (ec) return fail(bad_target(key, "cannot read the link '" + p.string() + "': " + ec.message()));
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  fs::path real = fs::weakly_canonical(p, ec);
  if (ec) return fail(bad_target(key, "cannot resolve '" + path + "': " + ec.message()));
  const std::string out = real.lexically_normal().string();
  // The path is printed by status and stored in snapshots: printable UTF-8 only.
  if (printable(out) != out)
    return fail(bad_target(key, "'" + path + "' resolves to a path that is not printable UTF-8"));
  return out;
}

// Every target to its real path, once: reads, writes and snapshots then all reach the file the
// service uses. A write-back renamed over a symlink would replace the link with a regular file
// and leave the file behind it (which migrations, through the link, did change) out of step.
Status resolve_targets(Site& s) {
  AIRLOCK_TRY(s.state_dir, real_path(s.state_dir, "site.state_dir"), "resolving symlinks");
  AIRLOCK_TRY(s.trust_root, real_path(s.trust_root, "site.trust_root"), "resolving symlinks");
  for (auto& [name, spec] : s.databases) {
    if (spec.kind != "sqlite") continue;  // a server's conninfo is no path
    AIRLOCK_TRY(spec.location, real_path(spec.location, "databases." + name), "resolving symlinks");
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
  if (site) AIRLOCK_CHECK(apply_chosen_channel(*site), "site file '" + path + "'");
  return site;
}

}  // namespace airlock::applier

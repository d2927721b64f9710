// site.toml (docs/site.md): the typed form and a strict parser. Relative paths are resolved
// against the folder holding site.toml. Every fault is ErrorClass::usage naming the key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/db/target.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

inline constexpr std::size_t kMaxSiteBytes = 256 * 1024;
inline constexpr std::int64_t kMaxCriticalDelayMs = 7LL * 24 * 3600 * 1000;

struct Hook {
  std::vector<std::string> argv;  // a string in the file becomes {"/bin/sh", "-c", s}
  std::int64_t timeout_ms = 30000;
};

enum class CheckKind { exec, http, tcp, sqlite, disk_free, cert, latency, systemd, restarts, postgres };
const char* check_kind_name(CheckKind k);

// `when = { config = "topology", key = "bgp_stress.enabled", equals = true }`: the check runs only
// when that key of that site config file holds that value (read after the config delta).
struct Condition {
  std::string config;  // logical name in [config]
  std::string key;     // dotted path
  std::variant<bool, std::int64_t, double, std::string> equals;
  std::string equals_text;  // as written, for the "skipped" detail
};

// The longest a check may keep the decision open (`within`), and its default.
inline constexpr std::int64_t kMaxWithinMs = 15 * 60 * 1000;
inline constexpr std::int64_t kDefaultWithinMs = 60 * 1000;

struct CheckSpec {
  std::string name;
  CheckKind kind = CheckKind::exec;
  bool hard = true;
  std::int64_t timeout_ms = 5000;             // one attempt
  std::int64_t within_ms = kDefaultWithinMs;  // the check's deadline, from the start of the health phase
  bool retry = false;  // keep trying with backoff until the deadline; false: the first attempt decides
  std::optional<Condition> when;
  std::string group;                  // the [[check_groups]] it belongs to ("" = none): the group's severity decides
  std::vector<std::string> argv;      // exec
  std::string url;                    // http, latency: http://127.0.0.1:PORT/path
  int expect_status = 200;            // http
  std::string address;                // tcp: host:port (loopback)
  std::string database;               // sqlite, postgres: logical name
  std::string query;                  // sqlite; postgres: "" = the write test
  std::string expect;                 // sqlite, postgres: first column of the first row, as text
  std::string path;                   // disk_free, cert
  std::uint64_t min_free_bytes = 0;   // disk_free
  std::int64_t min_days = 0;          // cert
  std::string ca;                     // cert: CA bundle the chain must verify against ("" = none)
  std::string host;                   // cert: the name the certificate must be valid for ("" = any)
  int samples = 5;                    // latency
  double max_increase_percent = 100;  // latency: median within baseline * (1 + x/100) ...
  double max_increase_ms = 5;         // ... or within baseline + this, whichever is larger
  std::string unit;                   // systemd
  std::int64_t max_restarts = 0;      // systemd, restarts: allowed growth of the counter in the window
};

// `[[check_groups]]`: passes when at least min_pass of its checks pass; fails as soon as that can
// no longer happen. A member's own failure is a soft warning.
struct CheckGroup {
  std::string name;
  std::vector<std::string> checks;
  std::int64_t min_pass = 1;
  bool hard = true;
};

// A service airlock replaces after the resume hook ([[services]], docs/site.md): its command runs
// as a child, then its readiness check is tried until it passes or `ready_within` has passed.
enum class ServiceMode { restart, rolling };
const char* service_mode_name(ServiceMode m);

struct ServiceSpec {
  std::string name;
  ServiceMode mode = ServiceMode::restart;
  std::vector<std::string> command;                  // `restart` or `rolling`
  std::optional<std::vector<std::string>> rollback;  // absent: `command` again, on the old release
  std::int64_t timeout_ms = 300000;                  // each command's own deadline
  std::optional<CheckSpec> ready;                    // inline, or a copy of the [[checks]] entry it names
  std::int64_t ready_within_ms = 60000;              // how long readiness may take
  std::vector<std::string> after;                    // services replaced before this one
};

// [ui] (docs/site.md): the local Updates page of `airlock serve`. Paths are resolved like every
// other; the password file and the inbox default to the state folder.
inline constexpr std::uint64_t kDefaultUploadLimit = 4ULL << 30;
inline constexpr std::uint64_t kDefaultInboxLimit = 16ULL << 30;
struct UiSettings {
  std::string listen = "127.0.0.1:8480";  // host:port; another than loopback needs tls_cert and tls_key
  std::vector<std::string> hosts;         // Host headers accepted; empty: the listen address, localhost forms
  std::string password_file;              // default <state_dir>/ui-password (`airlock ui passwd`)
  std::string tls_cert, tls_key;          // PEM files; both or neither
  std::string inbox;                      // default <state_dir>/inbox: sideloaded bundles
  std::string stick;                      // "" = none: a mounted stick folder also listed
  std::uint64_t upload_limit = kDefaultUploadLimit;
  std::uint64_t inbox_limit = kDefaultInboxLimit;  // the inbox's total bytes an upload may bring it to
};

struct Site {
  std::string file;      // absolute path of site.toml
  std::string base_dir;  // its folder
  std::string name;
  std::string product;
  std::string state_dir;
  std::string trust_root;
  Channel channel = Channel::recommended;           // the operator's choice in <state>/channel, else site.toml's
  Channel channel_default = Channel::recommended;   // site.toml's
  bool channel_chosen = false;                      // <state>/channel set it (applier/channel.hpp)
  std::map<std::string, db::TargetSpec> databases;  // logical -> kind and location
  std::map<std::string, std::string> configs;       // logical -> file
  std::optional<Hook> drain, resume, notify;
  std::optional<Hook> images;  // after the image store changed, before resume (docs/site.md)
  std::vector<CheckSpec> checks;
  std::vector<CheckGroup> check_groups;
  std::vector<ServiceSpec> services;          // in the order they are replaced (every `after` before it)
  std::int64_t migration_timeout_ms = 60000;  // progress-handler deadline per migration
  std::int64_t staged_keep = 3;               // staged releases kept at most (docs/site.md)
  std::string language = "en";                // the operator's language for release notes
  std::string timezone = "UTC";               // IANA zone of wall times (`schedule add --at HH:MM`)
  // [policy]: how long a critical release may be delayed after the site first met it (at most 7
  // days), and whether a runner applies an overdue one by itself.
  std::int64_t critical_max_delay_ms = kMaxCriticalDelayMs;
  bool auto_apply_overdue_critical = true;
  UiSettings ui;
  // [telemetry] (docs/telemetry.md): off unless the operator enables it; check names are exported
  // hashed unless check_names allows them in clear.
  struct Telemetry {
    bool enabled = false, check_names = false;
  } telemetry;
};

[[nodiscard]] Result<Site> parse_site(const std::string& text, const std::string& file);
// Reads and parses the file, then resolves every target (databases, configs, trust root, state
// folder) to its real path, symlinks followed (docs/site.md): the site reads and writes those.
[[nodiscard]] Result<Site> load_site(const std::string& path);

}  // namespace airlock::applier

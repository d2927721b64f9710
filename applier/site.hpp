// site.toml (docs/site.md): the typed form and a strict parser. Relative paths are resolved
// against the folder holding site.toml. Every fault is ErrorClass::usage naming the key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/manifest.hpp"

namespace airlock::applier {

inline constexpr std::size_t kMaxSiteBytes = 256 * 1024;

struct Hook {
  std::vector<std::string> argv;  // a string in the file becomes {"/bin/sh", "-c", s}
  std::int64_t timeout_ms = 30000;
};

enum class CheckKind { exec, http, tcp, sqlite, disk_free, cert, latency };
const char* check_kind_name(CheckKind k);

struct CheckSpec {
  std::string name;
  CheckKind kind = CheckKind::exec;
  bool hard = true;
  std::int64_t timeout_ms = 5000;
  std::vector<std::string> argv;      // exec
  std::string url;                    // http, latency: http://127.0.0.1:PORT/path
  int expect_status = 200;            // http
  std::string address;                // tcp: host:port (loopback)
  std::string database;               // sqlite: logical name
  std::string query;                  // sqlite
  std::string expect;                 // sqlite: first column of the first row, as text
  std::string path;                   // disk_free, cert
  std::uint64_t min_free_bytes = 0;   // disk_free
  std::int64_t min_days = 0;          // cert
  int samples = 5;                    // latency
  double max_increase_percent = 100;  // latency: median within baseline * (1 + x/100)
};

struct Site {
  std::string file;      // absolute path of site.toml
  std::string base_dir;  // its folder
  std::string name;
  std::string product;
  std::string state_dir;
  std::string trust_root;
  Channel channel = Channel::recommended;
  std::map<std::string, std::string> databases;  // logical -> file
  std::map<std::string, std::string> configs;    // logical -> file
  std::optional<Hook> drain, resume, notify;
  std::vector<CheckSpec> checks;
  std::int64_t migration_timeout_ms = 60000;  // progress-handler deadline per migration
  std::int64_t staged_keep = 3;               // staged releases kept at most (docs/site.md)
};

[[nodiscard]] Result<Site> parse_site(const std::string& text, const std::string& file);
// Reads and parses the file, then resolves every target (databases, configs, trust root, state
// folder) to its real path, symlinks followed (docs/site.md): the site reads and writes those.
[[nodiscard]] Result<Site> load_site(const std::string& path);

}  // namespace airlock::applier

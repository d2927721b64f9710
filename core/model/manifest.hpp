// manifest.toml of spec §4: the typed form, a strict parser (TOML 1.0 via toml++, no BOM, no
// unknown keys, every field validated) and a deterministic writer used by the bundler.
// parse_manifest(render_manifest(m)) == m for every valid m.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/model/semver.hpp"
#include "core/sys/time.hpp"

namespace airlock {

enum class Channel { recommended = 0, rc = 1, beta = 2 };  // lower = more stable
const char* channel_name(Channel c);
std::optional<Channel> parse_channel(std::string_view s);

struct ImageRef {
  std::string ref;
  std::string digest;  // "sha256:<64 hex>"
  std::optional<std::string> layout;
};

struct Migration {
  std::string id;
  std::string database;
  std::string up;
  std::optional<std::string> down;  // nullopt = irreversible
};

struct ConfigDelta {
  std::string target;
  std::string patch;
  bool breaking = false;
};

struct Note {
  std::string lang;
  std::string path;
};

struct FileEntry {
  std::string path;
  std::uint64_t size = 0;
  std::string sha256;  // 64 lower-case hex
  bool executable = false;
};

struct Release {
  std::string product;
  SemVer version;
  Timestamp created;
  Channel channel = Channel::recommended;
  bool critical = false;
  std::optional<SemVer> min_installed;
  std::optional<SemVer> rollback_to;
  std::optional<Timestamp> expires;
  std::optional<std::string> summary;
};

struct Manifest {
  Release release;
  std::vector<ImageRef> images;
  std::optional<std::string> delta_base;
  std::vector<Migration> migrations;
  std::vector<ConfigDelta> config;
  std::optional<std::string> trust_update;  // path of the new trust.toml in the payload
  std::vector<Note> notes;
  std::vector<FileEntry> files;

  const FileEntry* find_file(std::string_view path) const;
  std::uint64_t total_size() const;
};

// Every fault is ErrorClass::malformed naming the key path and the rule.
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view bytes);
// Deterministic TOML text; fields in spec order. Optional fields are written only when set.
std::string render_manifest(const Manifest& m);
// The cross-field rules of spec §4 (paths exist in [[files]], irreversible -> rollback_to, en
// notes, unique ids/langs, layout blob names, ...). parse_manifest calls it; the bundler too.
[[nodiscard]] Status validate_manifest(const Manifest& m);

}  // namespace airlock

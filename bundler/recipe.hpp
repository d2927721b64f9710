// A release recipe (docs/recipe.md): what HQ writes to describe one release. parse_recipe turns
// the TOML text into this typed form and checks only its shape (unknown keys, types, required
// keys): a fault is ErrorClass::usage (2) naming the recipe file and the key. Release rules
// (reverse migrations, notes, digests, ...) are checked later by bundler/rules.hpp.
// Source paths stay as written (relative to the recipe's folder); resolve() makes them absolute.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/sys/time.hpp"

namespace airlock::bundler {

struct RecipeImage {
  std::string ref;
  std::string digest;
  std::optional<std::string> layout;  // source folder of an OCI image layout
};

struct RecipeMigration {
  std::string id;
  std::string database;
  std::string up;                   // source .sql
  std::optional<std::string> down;  // source .sql
  bool irreversible = false;
  std::optional<std::string> fixture;  // the database as it is before this release
};

// `[databases.<name>]`: the kind of a logical database, so the build checks its migrations the
// way a site of that kind runs them (core/db/target.hpp), and for postgres the scratch server the
// check may use (an empty database it may change; without one, a throwaway cluster).
struct RecipeDatabase {
  std::string kind = "sqlite";
  std::optional<std::string> scratch;  // postgres: a libpq conninfo
};

struct RecipeConfig {
  std::string target;
  std::string patch;  // source .toml
  bool breaking = false;
};

struct RecipeNote {
  std::string lang;
  std::string path;  // source .md
};

struct RecipeFiles {
  std::string from;                // a file or a folder
  std::optional<std::string> to;   // payload path (file) or payload folder (folder)
  std::optional<bool> executable;  // overrides the source's x bit
};

struct Recipe {
  std::string path;  // the recipe file itself
  std::string dir;   // its folder: base of every source path

  std::string product;
  std::string version;
  std::optional<Timestamp> created;
  std::string channel = "recommended";
  bool critical = false;
  std::optional<std::string> min_installed;
  std::optional<std::string> rollback_to;
  std::optional<Timestamp> expires;
  std::optional<std::string> summary;
  bool delta = false;                     // a [delta] table: the bundle is a delta
  std::optional<std::string> delta_base;  // [delta] base: the base bundle (a source path)

  std::optional<int> level;  // [build] level

  std::vector<RecipeImage> images;
  std::vector<RecipeMigration> migrations;
  std::map<std::string, RecipeDatabase> databases;  // a database not named here is SQLite
  std::vector<RecipeConfig> config;
  std::vector<RecipeNote> notes;
  std::vector<RecipeFiles> files;
  std::optional<std::string> trust_update;  // source trust.toml

  // Source path relative to the recipe's folder (absolute paths are kept).
  std::string resolve(const std::string& source) const;
};

inline constexpr std::size_t kMaxRecipeBytes = 1024 * 1024;

[[nodiscard]] Result<Recipe> parse_recipe(std::string_view text, const std::string& recipe_path);
// Reads and parses; unreadable -> usage too (the recipe is the user's input, spec §8 code 2).
[[nodiscard]] Result<Recipe> load_recipe(const std::string& recipe_path);

}  // namespace airlock::bundler

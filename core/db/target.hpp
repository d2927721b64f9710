// core/db/target: one database a release migrates, whatever its kind — the one interface the
// applier's phases (preflight, snapshot, apply, rollback, restore, health checks) and the bundler's
// build-time round-trip check use. A Target is made by open_target() from a TargetSpec (a
// `[databases.*]` entry of site.toml, or a scratch database of the build's check); the kind picks
// the implementation, so a new kind adds one class (and one row of the factory), never a branch in
// the callers. The kinds: SQLite ("sqlite", core/db/sqlite_target.cpp) and PostgreSQL ("postgres",
// core/db/postgres_target.cpp).
//
// A Target holds no connection between calls: each operation connects, works and lets go, so a
// restore that replaces the database underneath never meets a handle to the old one. Errors are
// ErrorClass::internal (a bad statement, a refusal of the sandbox) or io (the disk or the file),
// naming the database; the caller says what it was doing and reclasses where the phase decides
// (preflight, build_refused, rollback_failed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/db/db.hpp"
#include "core/error.hpp"

namespace airlock::db {

// How much a write must survive: a scratch database of the build's check is thrown away, so it
// need not wait for the disk.
enum class Durability { durable, scratch };

struct TargetSpec {
  std::string name;             // the logical name, for messages
  std::string kind = "sqlite";  // one of target_kinds()
  std::string location;         // sqlite: the database file's path; postgres: a libpq conninfo
  Durability durability = Durability::durable;
  // postgres: a superuser role is refused unless allowed; the migration's statement timeout
  // (0: the migration's own deadline) and lock timeout.
  bool allow_superuser = false;
  std::int64_t statement_timeout_ms = 0;
  std::int64_t lock_timeout_ms = 10000;
};

// What a kind refuses in a spec before anything connects (postgres: a password in the conninfo),
// as ErrorClass::usage naming `key` (by default the site file's "databases.<name>.connection").
[[nodiscard]] Status check_spec(const TargetSpec& spec, const std::string& key = "");

// The kinds open_target() knows, in the order messages list them.
const std::vector<std::string>& target_kinds();

enum class Direction { up, down };

// One migration script and its bookkeeping row in `_airlock_migrations`.
struct MigrationStep {
  std::string id;
  std::string release;  // recorded next to the id
  std::string sql;
  Direction direction = Direction::up;
  std::int64_t timeout_ms = 60000;
};

// Whether ready() may create a database that does not exist yet (a site with nothing installed).
enum class Missing { refuse, create };

// A hardened session for untrusted SQL (the migration sandbox of the target's kind: for SQLite,
// core/db/db_sandbox.hpp). The script's deadline runs from the session's opening.
class Session {
 public:
  virtual ~Session() = default;
  // Runs an untrusted script; a refusal, a limit or a bad statement is internal, the disk io.
  [[nodiscard]] virtual Status run(const std::string& sql) = 0;
};

// What a health probe asks: one query, answered within `wait_ms` of lock waits, interrupted once
// `stop` returns true.
struct ProbeRequest {
  std::string query;
  std::int64_t wait_ms = 1;
  std::function<bool()> stop;
};

// What a snapshot records of the server beside the copy (empty for a file database).
struct SnapshotFacts {
  std::string server_version;
  std::string last_migration;  // the last recorded migration's id, "" when none
};

class Target {
 public:
  virtual ~Target() = default;
  const TargetSpec& spec() const { return spec_; }
  // Where the database is, for messages: "file '<path>'".
  virtual std::string where() const = 0;

  // Whether the database exists (SQLite: the file).
  [[nodiscard]] virtual Result<bool> exists() = 0;
  // Preflight: the database is there and sound (SQLite: PRAGMA quick_check). The messages name
  // the logical database; the caller reclasses them.
  [[nodiscard]] virtual Status ready(Missing missing) = 0;
  // Creates the database empty when it does not exist (the build's scratch databases).
  [[nodiscard]] virtual Status create() = 0;

  // Migrate: the step in its own transaction, recorded (up) or unrecorded (down) in that same
  // transaction. Up is skipped when the id is recorded, down when it is not; true when the script
  // ran. The reverse of the last recorded migration also drops the bookkeeping table, so a first
  // install rolled back leaves the database exactly as it was.
  [[nodiscard]] virtual Result<bool> migrate(const MigrationStep& m) = 0;
  [[nodiscard]] virtual Result<bool> migration_recorded(const std::string& id) = 0;

  // A hardened session for untrusted SQL with the given deadline (the build's check runs recipe
  // scripts and fixtures in it).
  [[nodiscard]] virtual Result<std::unique_ptr<Session>> open_session(std::int64_t timeout_ms) = 0;

  // Snapshot: the name of the snapshot file inside a snapshot folder, and the copy itself into
  // `dest` (a file the caller made private and syncs afterwards); returns the schema version the
  // copy has (SQLite: user_version). Safe while another connection writes.
  virtual std::string snapshot_file() const = 0;
  [[nodiscard]] virtual Result<std::int64_t> snapshot_to(const std::string& dest) = 0;
  // Restore: replaces the database whole by the snapshot file `file`. `midway` runs when the old
  // state is gone and before the copy arrives (the crash-point tests stop there).
  [[nodiscard]] virtual Status restore_from(const std::string& file, const std::function<void()>& midway) = 0;
  // Whether a restore may replace the database now (postgres: no other connection is live; the
  // error names them). Asked before anything changes.
  [[nodiscard]] virtual Status restore_ready() { return {}; }
  [[nodiscard]] virtual Result<SnapshotFacts> snapshot_facts() { return SnapshotFacts{}; }
  // Replaces the database by a copy of `file`, a database of this kind (the build's fixtures).
  [[nodiscard]] virtual Status copy_from(const std::string& file) = 0;
  [[nodiscard]] virtual Result<std::int64_t> schema_version() = 0;
  // The schema version the database has once exactly these migrations (ids, in order) are
  // recorded, when the kind's version follows from them (postgres: their number); nullopt when the
  // scripts set it themselves (SQLite's user_version). A restore's guard compares it with a
  // snapshot's.
  virtual std::optional<std::int64_t> schema_version_after(const std::vector<std::string>& ids) const {
    (void)ids;
    return std::nullopt;
  }

  // Compare: the schema as text, one object a line, normalised so that the same schema compares
  // equal whichever way it was reached (the build's round trip); and whether the content (schema
  // version, schema and every row) equals the snapshot file `file` (a restore's guard), found
  // without holding either in memory.
  [[nodiscard]] virtual Result<std::string> schema_text() = 0;
  [[nodiscard]] virtual Result<bool> same_content_as(const std::string& file) = 0;

  // Bytes a snapshot of the database needs now (0 when it does not exist).
  virtual std::uint64_t size_estimate() const = 0;

  // Health probe: the first column of the query's first row, nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<Value>> probe(const ProbeRequest& p) = 0;

 protected:
  explicit Target(TargetSpec spec) : spec_(std::move(spec)) {}

 private:
  TargetSpec spec_;
};

// The target of `spec.kind`. Nothing is opened yet; an unknown kind is ErrorClass::usage naming
// the database, the kind and the kinds there are.
[[nodiscard]] Result<std::unique_ptr<Target>> open_target(const TargetSpec& spec);

}  // namespace airlock::db

// The SQLite target. Every operation opens its own connection (a restore replaces the file
// underneath, so nothing may hold one across calls).
#include "core/db/sqlite_target.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <utility>

#include "core/db/db_sandbox.hpp"
#include "core/db/sqlite_schema.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"

// Propagate an error as it is: the caller names the operation and the database (the messages are
// the ones the callers made when they talked to SQLite themselves).
#define TARGET_TRY_IMPL(tmp, decl, expr)                                       \
  auto tmp = (expr);                                                           \
  if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define TARGET_TRY(decl, expr) TARGET_TRY_IMPL(AIRLOCK_CONCAT(_target_r_, __LINE__), decl, expr)
#define TARGET_CHECK(expr)                                                                                            \
  do {                                                                                                                \
    if (auto _target_s = (expr); !_target_s) return ::tl::unexpected<::airlock::Error>(std::move(_target_s).error()); \
  } while (0)

namespace airlock::db {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBookkeeping =
    "CREATE TABLE IF NOT EXISTS _airlock_migrations(id TEXT PRIMARY KEY, release TEXT NOT NULL)";
// How long a writer waits for another connection's commit before SQLITE_BUSY.
constexpr int kBusyWaitMs = 5000;

Status remove_side_files(const std::string& db_path) {
  for (const char* suffix : {"-journal", "-wal", "-shm"}) {
    std::string p = db_path + suffix;
    if (sys::unlink(p.c_str()) != 0 && errno != ENOENT) return fail(errno_error("remove", p, errno));
  }
  return fsync_dir(parent_dir(db_path));
}

Result<std::int64_t> user_version(Database& d) {
  TARGET_TRY(auto uv, d.query("PRAGMA user_version"));
  return uv.empty() ? 0 : std::get<std::int64_t>(uv[0][0]);
}

// A script's hardened connection and its sandbox; the sandbox points into the connection, so the
// two live and die together, the connection last.
class SqliteSession final : public Session {
 public:
  SqliteSession(Database d, std::int64_t timeout_ms) : db_(std::move(d)), timeout_ms_(timeout_ms) {}
  Status harden() {
    TARGET_TRY(auto sb, Sandbox::harden(db_, timeout_ms_));
    sandbox_ = std::make_unique<Sandbox>(std::move(sb));
    return {};
  }
  Status run(const std::string& sql) override { return sandbox_->run(sql); }

 private:
  Database db_;
  std::int64_t timeout_ms_;
  std::unique_ptr<Sandbox> sandbox_;
};

class SqliteTarget final : public Target {
 public:
  explicit SqliteTarget(const TargetSpec& spec) : Target(spec) {}

  std::string where() const override { return "file '" + path() + "'"; }
  Result<bool> exists() override { return fs::exists(path()); }
  Status ready(Missing missing) override;
  Status create() override {
    return open(OpenMode::create).map([](Database&&) {});
  }
  Result<bool> migrate(const MigrationStep& m) override;
  Result<bool> migration_recorded(const std::string& id) override;
  Result<std::unique_ptr<Session>> open_session(std::int64_t timeout_ms) override;
  std::string snapshot_file() const override { return "db-" + spec().name + ".sqlite"; }
  Result<std::int64_t> snapshot_to(const std::string& dest) override;
  Status restore_from(const std::string& file, const std::function<void()>& midway) override;
  Status copy_from(const std::string& file) override;
  Result<std::int64_t> schema_version() override;
  Result<std::string> schema_text() override;
  Result<bool> same_content_as(const std::string& file) override;
  std::uint64_t size_estimate() const override;
  Result<std::optional<Value>> probe(const ProbeRequest& p) override;

 private:
  const std::string& path() const { return spec().location; }
  // A connection; a scratch database does not wait for the disk on every statement.
  Result<Database> open(OpenMode mode) const {
    auto d = Database::open(path(), mode);
    if (d && spec().durability == Durability::scratch && mode != OpenMode::read_only)
      TARGET_CHECK(d->exec("PRAGMA synchronous = OFF"));
    return d;
  }
  Result<bool> migrate_in(Database& d, Sandbox& sandbox, const MigrationStep& m);
};

// A site with nothing installed may start without its database file: the first release creates
// its schema, so an empty database is made here.
Status SqliteTarget::ready(Missing missing) {
  const std::string& name = spec().name;
  if (!fs::exists(path())) {
    if (missing == Missing::refuse)
      return fail(ErrorClass::preflight, "database '" + name + "': file '" + path() + "' does not exist");
    std::error_code ec;
    fs::create_directories(fs::path(path()).parent_path(), ec);
    AIRLOCK_TRY(auto d, open(OpenMode::create), "creating database '" + name + "'");
    TARGET_CHECK(d.exec("PRAGMA user_version = 0"));
  }
  AIRLOCK_TRY(auto d, open(OpenMode::read_write), "database '" + name + "'");
  (void)d.busy_timeout_ms(kBusyWaitMs);
  AIRLOCK_TRY(auto rows, d.query("PRAGMA quick_check"), "database '" + name + "'");
  const auto* got = rows.empty() ? nullptr : std::get_if<std::string>(&rows.front().front());
  if (!got || *got != "ok")
    return fail(ErrorClass::preflight,
                "database '" + name + "' ('" + path() + "') fails PRAGMA quick_check: " + (got ? *got : ""));
  return {};
}

Result<bool> SqliteTarget::migration_recorded(const std::string& id) {
  TARGET_TRY(auto d, Database::open(path(), OpenMode::read_only));
  TARGET_TRY(auto t, d.query("SELECT 1 FROM sqlite_schema WHERE name = '_airlock_migrations'"));
  if (t.empty()) return false;
  TARGET_TRY(auto rows, d.query("SELECT 1 FROM _airlock_migrations WHERE id = ?", {id}));
  return !rows.empty();
}

Result<bool> SqliteTarget::migrate(const MigrationStep& m) {
  TARGET_TRY(auto d, open(OpenMode::read_write));
  TARGET_CHECK(d.busy_timeout_ms(kBusyWaitMs));
  TARGET_TRY(auto sandbox, Sandbox::harden(d, m.timeout_ms));
  // The bookkeeping table is created inside the transaction: a failed migration leaves no trace.
  TARGET_CHECK(d.exec("BEGIN IMMEDIATE"));
  auto ran = migrate_in(d, sandbox, m);
  if (!ran) {
    (void)d.exec("ROLLBACK");
    return ran;
  }
  TARGET_CHECK(d.exec(*ran ? "COMMIT" : "ROLLBACK"));
  return *ran;
}

// The step inside the open transaction; false when there is nothing to do.
Result<bool> SqliteTarget::migrate_in(Database& d, Sandbox& sandbox, const MigrationStep& m) {
  TARGET_CHECK(d.exec(kBookkeeping));
  TARGET_TRY(auto rows, d.query("SELECT 1 FROM _airlock_migrations WHERE id = ?", {m.id}));
  if (!rows.empty() == (m.direction == Direction::up)) return false;
  if (auto s = sandbox.run(m.sql); !s) return fail(s.error());
  if (m.direction == Direction::up) {
    TARGET_CHECK(d.query("INSERT INTO _airlock_migrations(id, release) VALUES(?, ?)", {m.id, m.release}));
    return true;
  }
  TARGET_CHECK(d.query("DELETE FROM _airlock_migrations WHERE id = ?", {m.id}));
  // The reverse of the first migration ever also takes back the bookkeeping table the up created.
  TARGET_TRY(auto left, d.query("SELECT count(*) FROM _airlock_migrations"));
  if (std::get<std::int64_t>(left[0][0]) == 0) TARGET_CHECK(d.exec("DROP TABLE _airlock_migrations"));
  return true;
}

Result<std::unique_ptr<Session>> SqliteTarget::open_session(std::int64_t timeout_ms) {
  TARGET_TRY(auto d, open(OpenMode::read_write));
  auto s = std::make_unique<SqliteSession>(std::move(d), timeout_ms);
  TARGET_CHECK(s->harden());
  return std::unique_ptr<Session>(std::move(s));
}

Result<std::int64_t> SqliteTarget::snapshot_to(const std::string& dest) {
  TARGET_TRY(auto d, Database::open(path(), OpenMode::read_only));
  TARGET_TRY(auto uv, user_version(d));
  // Whatever failed while copying, the snapshot was not written: an I/O failure of the snapshot.
  if (auto b = d.backup_to(dest, Database::BackupDest::unpublished); !b)
    return fail(b.error().reclassed(ErrorClass::io));
  return uv;
}

Status SqliteTarget::restore_from(const std::string& file, const std::function<void()>& midway) {
  AIRLOCK_CHECK(remove_side_files(path()), "restoring '" + spec().name + "'");
  if (midway) midway();
  AIRLOCK_CHECK(copy_file_synced(file, path()), "restoring db '" + spec().name + "'");
  return {};
}

Status SqliteTarget::copy_from(const std::string& file) {
  TARGET_TRY(auto src, Database::open(file, OpenMode::read_only));
  AIRLOCK_CHECK(src.backup_to(path()), "copying '" + file + "'");
  return {};
}

Result<std::int64_t> SqliteTarget::schema_version() {
  TARGET_TRY(auto d, Database::open(path(), OpenMode::read_only));
  return user_version(d);
}

Result<std::string> SqliteTarget::schema_text() {
  TARGET_TRY(auto d, Database::open(path(), OpenMode::read_only));
  return normalized_schema(d);
}

// Content, not bytes (a backup differs from its source byte-wise), compared row by row: a
// restore must not hold copies of a large database in memory.
Result<bool> SqliteTarget::same_content_as(const std::string& file) {
  AIRLOCK_TRY(auto a, Database::open(path(), OpenMode::read_only), "comparing");
  AIRLOCK_TRY(auto b, Database::open(file, OpenMode::read_only), "comparing");
  AIRLOCK_TRY(auto ua, a.query("PRAGMA user_version"), "comparing");
  AIRLOCK_TRY(auto ub, b.query("PRAGMA user_version"), "comparing");
  if (ua != ub) return false;
  return a.same_content(b);
}

std::uint64_t SqliteTarget::size_estimate() const {
  std::error_code ec;
  auto n = fs::file_size(path(), ec);
  return ec ? 0 : n;
}

Result<std::optional<Value>> SqliteTarget::probe(const ProbeRequest& p) {
  TARGET_TRY(auto d, Database::open(path(), OpenMode::read_only));
  (void)d.busy_timeout_ms(static_cast<int>(std::clamp<std::int64_t>(p.wait_ms, 1, 60000)));
  // Interrupted past the attempt's deadline or once the run is decided.
  const std::function<bool()> never = [] { return false; };
  TARGET_TRY(auto rows, d.query_until(p.query, p.stop ? p.stop : never));
  if (rows.empty() || rows.front().empty()) return std::optional<Value>();
  return std::optional<Value>(rows.front().front());
}

}  // namespace

std::unique_ptr<Target> make_sqlite_target(const TargetSpec& spec) { return std::make_unique<SqliteTarget>(spec); }

}  // namespace airlock::db

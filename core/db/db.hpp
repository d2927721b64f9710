// core/db: the one SQLite layer: the applier's state.db, and under the database targets
// (core/db/target.hpp) the SQLite databases a release migrates. One RAII owner for sqlite3* and
// sqlite3_stmt*; errors carry the SQL error message and the database path.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace airlock::db {

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using Row = std::vector<Value>;

// The class of an error SQLite reported with result code `rc` (primary or extended): io for the
// disk's own failures (SQLITE_IOERR*, SQLITE_FULL, SQLITE_CANTOPEN), internal for everything else.
ErrorClass error_class_of(int rc);

// create_private: as create, but the file is 0600 whatever the umask (an existing one is narrowed);
// SQLite gives a database's journal the database's mode, so the journal is private too.
enum class OpenMode { read_only, read_write, create, create_private };

class Statement;
class Sandbox;

// One query's rows, stepped one at a time: memory stays flat whatever the table's size. Owns its
// statement; must not outlive the Database that made it.
class Cursor {
 public:
  Cursor(Cursor&&) noexcept;
  Cursor& operator=(Cursor&&) = delete;
  ~Cursor();
  // The next row into `row`; false at the end (and after it).
  [[nodiscard]] Result<bool> next(Row& row);

 private:
  friend class Database;
  Cursor(sqlite3* db, sqlite3_stmt* stmt, std::string path, std::string sql)
      : db_(db), stmt_(stmt), path_(std::move(path)), sql_(std::move(sql)) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string path_, sql_;
  bool done_ = false;  // SQLite would run the statement again on a step after the end
};

class Database {
 public:
  [[nodiscard]] static Result<Database> open(const std::string& path, OpenMode mode);
  [[nodiscard]] static Result<Database> open_memory();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  const std::string& path() const { return path_; }

  // Runs one or more statements (no results).
  [[nodiscard]] Status exec(const std::string& sql);
  // One statement with bound parameters; returns every row.
  [[nodiscard]] Result<std::vector<Row>> query(const std::string& sql, const std::vector<Value>& params = {});
  // The same, as a cursor over the rows.
  [[nodiscard]] Result<Cursor> cursor(const std::string& sql, const std::vector<Value>& params = {});
  [[nodiscard]] Status busy_timeout_ms(int ms);
  // query(), interrupted (an error naming "interrupted") once `stop` returns true; SQLite asks it
  // every thousand virtual-machine steps, so a runaway query ends promptly.
  [[nodiscard]] Result<std::vector<Row>> query_until(const std::string& sql, const std::function<bool()>& stop);

  // SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY ... as text, for comparisons.
  [[nodiscard]] Result<std::string> schema_dump();
  // Full logical dump (schema + every row of every table, ordered) for crash-test comparisons.
  [[nodiscard]] Result<std::string> full_dump();
  // Whether full_dump() of both would be equal, found by stepping both side by side: memory stays
  // flat (SQLite's sorter spills to temporary files) instead of holding two dumps.
  [[nodiscard]] Result<bool> same_content(Database& other);
  // Online backup API into a new file at `dest`. `live`: `dest` is a database in use, written
  // through its journal and synced by SQLite. `unpublished`: `dest` is a fresh file nobody opens
  // until the caller has synced it and published it (a snapshot sealed afterwards), so it is
  // written without a journal and without SQLite's syncs; the caller's one fsync makes it durable.
  enum class BackupDest { live, unpublished };
  [[nodiscard]] Status backup_to(const std::string& dest, BackupDest how = BackupDest::live);

 private:
  friend class Sandbox;  // hardens the connection itself
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace airlock::db

// core/db: the one place that talks to sqlite3. Statements are owned by a unique_ptr with
// sqlite3_finalize as deleter; the connection by Database (sqlite3_close_v2 in the destructor).
// SQL errors come back as ErrorClass::internal naming the database and SQLite's message: whether a
// failing statement is a bug, a refused build or a failed apply is the caller's call. The one
// exception is the disk itself (an I/O error, a full disk, a file that cannot be opened): that is
// ErrorClass::io whatever the statement was. Every connection goes through the fault-injecting VFS
// of core/db/db_vfs.cpp (installed as the default before the first open).
#include "core/db/db.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <utility>

#include "core/db/db_vfs.hpp"
#include "core/sys/fs.hpp"

namespace airlock::db {

namespace {

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct DbDeleter {
  void operator()(sqlite3* d) const { sqlite3_close_v2(d); }
};
using DbPtr = std::unique_ptr<sqlite3, DbDeleter>;

Error sql_error(sqlite3* db, const std::string& path, const std::string& what) {
  return Error(error_class_of(sqlite3_extended_errcode(db)),
               "database '" + path + "': " + what + ": " + sqlite3_errmsg(db));
}

Result<StmtPtr> prepare(sqlite3* db, const std::string& path, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return fail(sql_error(db, path, "preparing '" + sql + "'"));
  }
  return StmtPtr(raw);
}

int bind_one(sqlite3_stmt* s, int i, const Value& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) return sqlite3_bind_null(s, i);
  if (const auto* n = std::get_if<std::int64_t>(&v)) return sqlite3_bind_int64(s, i, *n);
  if (const auto* d = std::get_if<double>(&v)) return sqlite3_bind_double(s, i, *d);
  const auto& t = std::get<std::string>(v);
  return sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}

Value column_value(sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL:
      return nullptr;
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(s, i);
    default: {  // TEXT and BLOB both as bytes
      const void* p = sqlite3_column_blob(s, i);
      int n = sqlite3_column_bytes(s, i);
      return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
    }
  }
}

// One value as a dump line fragment: NULL, 42, 1.5, 'text' (quotes doubled; other bytes as is).
std::string render(const Value& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) return "NULL";
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  std::string out = "'";
  for (char c : std::get<std::string>(v)) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

constexpr const char* kSchemaSql = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name";
constexpr const char* kTablesSql =
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name";

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ErrorClass error_class_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return ErrorClass::io;
    default:
      return ErrorClass::internal;
  }
}

Result<Database> Database::open(const std::string& path, OpenMode mode) {
  install_fault_vfs();
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case OpenMode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case OpenMode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case OpenMode::create_private:
      AIRLOCK_CHECK(make_private_file(path), "open database '" + path + "'");
      [[fallthrough]];
    case OpenMode::create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr owner(raw);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return fail(ErrorClass::io, "open database '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  // A default wait instead of an immediate SQLITE_BUSY when another connection is committing;
  // callers may change it with busy_timeout_ms.
  sqlite3_busy_timeout(raw, 5000);
  // sqlite3_open_v2 is lazy: a file that is not a database only shows on first read.
  if (sqlite3_exec(raw, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail(ErrorClass::io, "open database '" + path + "': " + sqlite3_errmsg(raw));
  return Database(owner.release(), path);
}

Result<Database> Database::open_memory() { return open(":memory:", OpenMode::create); }

Database::Database(Database&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Status Database::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return fail(error_class_of(sqlite3_extended_errcode(db_)), "database '" + path_ + "': " + text);
  }
  return {};
}

Result<std::vector<Row>> Database::query(const std::string& sql, const std::vector<Value>& params) {
  auto opened = cursor(sql, params);
  if (!opened) return fail(opened.error());  // cursor() names the query already
  Cursor cur = std::move(*opened);
  std::vector<Row> rows;
  Row row;
  for (;;) {
    AIRLOCK_TRY(bool more, cur.next(row), "query");
    if (!more) break;
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {
int ask_stop(void* p) { return (*static_cast<const std::function<bool()>*>(p))() ? 1 : 0; }
}  // namespace

Result<std::vector<Row>> Database::query_until(const std::string& sql, const std::function<bool()>& stop) {
  sqlite3_progress_handler(db_, 1000, ask_stop, const_cast<std::function<bool()>*>(&stop));
  auto rows = query(sql);
  sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  return rows;
}

Result<Cursor> Database::cursor(const std::string& sql, const std::vector<Value>& params) {
  AIRLOCK_TRY(auto stmt, prepare(db_, path_, sql), "query");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (bind_one(stmt.get(), static_cast<int>(i + 1), params[i]) != SQLITE_OK)
      return fail(sql_error(db_, path_, "binding parameter " + std::to_string(i + 1)));
  }
  return Cursor(db_, stmt.release(), path_, sql);
}

Cursor::Cursor(Cursor&& o) noexcept
    : db_(o.db_),
      stmt_(std::exchange(o.stmt_, nullptr)),
      path_(std::move(o.path_)),
      sql_(std::move(o.sql_)),
      done_(o.done_) {}

Cursor::~Cursor() { sqlite3_finalize(stmt_); }

Result<bool> Cursor::next(Row& row) {
  row.clear();
  if (done_) return false;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_DONE) {
    done_ = true;
    return false;
  }
  if (rc != SQLITE_ROW) return fail(sql_error(db_, path_, "running '" + sql_ + "'"));
  const int ncol = sqlite3_column_count(stmt_);
  row.reserve(static_cast<std::size_t>(ncol));
  for (int c = 0; c < ncol; ++c) row.push_back(column_value(stmt_, c));
  return true;
}

Status Database::busy_timeout_ms(int ms) {
  if (sqlite3_busy_timeout(db_, ms) != SQLITE_OK) return fail(sql_error(db_, path_, "setting busy timeout"));
  return {};
}

Result<std::string> Database::schema_dump() {
  AIRLOCK_TRY(auto rows, query(kSchemaSql), "dumping schema");
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i) out += " | ";
      out += render(r[i]);
    }
    out += '\n';
  }
  return out;
}

namespace {

// Every row of a table, ordered by every column, so that the order does not depend on where rows
// sit in the file.
Result<std::string> ordered_rows_sql(Database& d, const std::string& name) {
  AIRLOCK_TRY(auto cols, d.query("SELECT count(*) FROM pragma_table_info(?)", {name}), "table '" + name + "'");
  auto ncol = std::get<std::int64_t>(cols.at(0).at(0));
  std::string order;
  for (std::int64_t i = 1; i <= ncol; ++i) order += (i > 1 ? "," : "") + std::to_string(i);
  return "SELECT * FROM " + quote_ident(name) + (ncol ? " ORDER BY " + order : "");
}

// Steps both cursors side by side; true when they yield the same rows.
Result<bool> same_rows(Cursor& a, Cursor& b) {
  Row ra, rb;
  for (;;) {
    AIRLOCK_TRY(bool more_a, a.next(ra), "comparing");
    AIRLOCK_TRY(bool more_b, b.next(rb), "comparing");
    if (more_a != more_b || ra != rb) return false;
    if (!more_a) return true;
  }
}

}  // namespace

Result<bool> Database::same_content(Database& other) {
  AIRLOCK_TRY(auto sa, cursor(kSchemaSql), "comparing schemas");
  AIRLOCK_TRY(auto sb, other.cursor(kSchemaSql), "comparing schemas");
  AIRLOCK_TRY(bool same, same_rows(sa, sb), "comparing schemas");
  if (!same) return false;
  // Same schema, so the same tables with the same columns.
  AIRLOCK_TRY(auto tables, query(kTablesSql), "comparing");
  for (const auto& t : tables) {
    const auto& name = std::get<std::string>(t[0]);
    AIRLOCK_TRY(auto sql, ordered_rows_sql(*this, name), "comparing");
    AIRLOCK_TRY(auto ca, cursor(sql), "comparing table '" + name + "'");
    AIRLOCK_TRY(auto cb, other.cursor(sql), "comparing table '" + name + "'");
    AIRLOCK_TRY(same, same_rows(ca, cb), "comparing table '" + name + "'");
    if (!same) return false;
  }
  return true;
}

Result<std::string> Database::full_dump() {
  AIRLOCK_TRY(std::string out, schema_dump(), "full dump");
  AIRLOCK_TRY(auto tables, query(kTablesSql), "full dump");
  for (const auto& t : tables) {
    const auto& name = std::get<std::string>(t[0]);
    AIRLOCK_TRY(auto sql, ordered_rows_sql(*this, name), "full dump of '" + name + "'");
    AIRLOCK_TRY(auto rows, query(sql), "full dump of '" + name + "'");
    out += "-- table " + name + " (" + std::to_string(rows.size()) + " rows)\n";
    for (const auto& r : rows) {
      for (std::size_t i = 0; i < r.size(); ++i) out += (i ? ", " : "") + render(r[i]);
      out += '\n';
    }
  }
  return out;
}

Status Database::backup_to(const std::string& dest, BackupDest how) {
  AIRLOCK_TRY(Database target, open(dest, OpenMode::create), "backup of '" + path_ + "'");
  // A journal would only guard pages the unpublished file never had, and SQLite's syncs at every
  // spill and at the commit would wait for the disk a second and third time: the caller syncs once.
  if (how == BackupDest::unpublished)
    AIRLOCK_CHECK(target.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF"), "backup of '" + path_ + "'");
  sqlite3_backup* b = sqlite3_backup_init(target.db_, "main", db_, "main");
  if (!b) return fail(sql_error(target.db_, dest, "starting backup from '" + path_ + "'"));
  int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return fail(ErrorClass::io, "backup of database '" + path_ + "' to '" + dest + "': " + sqlite3_errstr(rc));
  }
  return {};
}

}  // namespace airlock::db

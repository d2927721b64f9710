// The migration sandbox (db_sandbox.hpp). Everything is an allow-list: an SQL function, a
// virtual-table module or a PRAGMA that is not named here is refused while the script runs, so a
// function a future libsqlite3 adds (or a distribution enables, like the two-argument
// fts3_tokenizer) is refused until someone decides it is safe.
#include "core/db/db_sandbox.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <utility>

namespace airlock::db {

using Clock = std::chrono::steady_clock;

struct Sandbox::Guard {
  bool script = false;  // the untrusted script's statements are being prepared or run
  std::string refused;  // why the authorizer refused, for the error message
  Clock::time_point deadline;
  bool timed_out = false;
};

namespace {

// The ordinary functions a schema migration uses: core scalar and aggregate functions, window
// functions, date and time, math, JSON. Left out on purpose: load_extension, fts3_tokenizer
// (leaks a pointer with one argument, installs one with two), fts5() (hands out an API pointer),
// the full-text and R*Tree auxiliary and debug functions (matchinfo, offsets, snippet, highlight,
// bm25, optimize, rtreenode, rtreedepth, rtreecheck), sqlite_compileoption_*, sqlite_log, and
// everything a host may add (readfile, writefile, edit, ...).
const std::set<std::string, std::less<>> kFunctions = {
    // core scalar
    "abs", "changes", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "ifnull", "iif", "instr",
    "last_insert_rowid", "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif",
    "octet_length", "printf", "quote", "random", "randomblob", "replace", "round", "rtrim", "sign", "soundex", "substr",
    "substring", "total_changes", "trim", "typeof", "unhex", "unicode", "unlikely", "upper", "zeroblob",
    // aggregate
    "avg", "count", "group_concat", "string_agg", "sum", "total",
    // window
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
    // date and time
    "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff", "current_date", "current_time",
    "current_timestamp",
    // math
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh", "degrees", "exp",
    "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians", "sin", "sinh", "sqrt", "tan", "tanh",
    "trunc",
    // JSON
    "json", "json_array", "json_array_length", "json_error_position", "json_extract", "json_insert", "json_object",
    "json_patch", "json_pretty", "json_quote", "json_remove", "json_replace", "json_set", "json_type", "json_valid",
    "json_group_array", "json_group_object", "->", "->>",
    // SQLite's own helpers for ALTER TABLE: internal functions, callable only from the SQL that
    // SQLite itself runs for an ALTER TABLE (a script gets "no such function").
    "sqlite_rename_column", "sqlite_rename_table", "sqlite_rename_test", "sqlite_rename_quotefix",
    "sqlite_drop_column"};

// Virtual-table modules a migration may create or drop: FTS5 and R*Tree. Both keep their data in
// shadow tables that defensive mode makes read-only to SQL, and neither takes a pointer from SQL.
// FTS3/FTS4 are left out: their tokenizer registry is what fts3_tokenizer() reaches.
const std::set<std::string, std::less<>> kModules = {"fts5", "rtree", "rtree_i32"};

// PRAGMAs: reading schema facts, checking integrity, and user_version (read or set). page_size and
// data_version only read, without an argument: the R*Tree and FTS5 modules read them when a table
// is created.
enum class PragmaArg { any, none };
const std::map<std::string, PragmaArg, std::less<>> kPragmas = {
    {"user_version", PragmaArg::any},     {"table_info", PragmaArg::any},        {"table_xinfo", PragmaArg::any},
    {"index_info", PragmaArg::any},       {"index_xinfo", PragmaArg::any},       {"index_list", PragmaArg::any},
    {"foreign_key_list", PragmaArg::any}, {"foreign_key_check", PragmaArg::any}, {"integrity_check", PragmaArg::any},
    {"quick_check", PragmaArg::any},      {"page_size", PragmaArg::none},        {"data_version", PragmaArg::none}};

std::string lower(const char* s) {
  std::string out = s ? s : "";
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

int deny(Sandbox::Guard& g, std::string why) {
  g.refused = std::move(why) + " is not allowed in a migration";
  return SQLITE_DENY;
}

int check_pragma(Sandbox::Guard& g, const char* name, const char* arg) {
  std::string n = lower(name);
  auto it = kPragmas.find(n);
  if (it == kPragmas.end() || (it->second == PragmaArg::none && arg)) return deny(g, "PRAGMA " + n);
  return SQLITE_OK;
}

bool is_dbpage(const char* table) { return table && lower(table) == "sqlite_dbpage"; }

int authorizer(void* p, int action, const char* a1, const char* a2, const char*, const char*) {
  auto& g = *static_cast<Sandbox::Guard*>(p);
  if (!g.script) return SQLITE_OK;
  switch (action) {
    case SQLITE_ATTACH:  // VACUUM runs one too
      return deny(g, "ATTACH (and VACUUM)");
    case SQLITE_DETACH:
      return deny(g, "DETACH");
    case SQLITE_TRANSACTION:
      return deny(g, "transaction control (each migration runs in its own)");
    case SQLITE_SAVEPOINT:
      return deny(g, "SAVEPOINT");
    case SQLITE_FUNCTION:
      return kFunctions.count(lower(a2)) ? SQLITE_OK : deny(g, "the SQL function " + lower(a2) + "()");
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return kModules.count(lower(a2)) ? SQLITE_OK : deny(g, "the virtual-table module " + lower(a2));
    case SQLITE_PRAGMA:
      return check_pragma(g, a1, a2);
    case SQLITE_READ:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      return is_dbpage(a1) ? deny(g, "sqlite_dbpage") : SQLITE_OK;
    default:
      return SQLITE_OK;
  }
}

int progress(void* p) {
  auto& g = *static_cast<Sandbox::Guard*>(p);
  if (g.script && Clock::now() > g.deadline) {
    g.timed_out = true;
    return 1;  // interrupts the statement
  }
  return 0;
}

// The first keyword of a prepared statement's text, skipping whitespace, comments and the empty
// statements (lone `;`) that sqlite3_prepare_v2 consumes in front of it.
std::string first_keyword(const char* sql) {
  const char* p = sql;
  for (;;) {
    while (*p && (std::isspace(static_cast<unsigned char>(*p)) || *p == ';')) ++p;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') ++p;
    } else if (p[0] == '/' && p[1] == '*') {
      const char* e = std::strstr(p + 2, "*/");
      p = e ? e + 2 : p + std::strlen(p);
    } else {
      break;
    }
  }
  std::string w;
  while (*p && std::isalpha(static_cast<unsigned char>(*p))) w += static_cast<char>(std::toupper(*p++));
  return w;
}

Status config(sqlite3* db, int op, int want, const char* what) {
  int now = -1;
  if (sqlite3_db_config(db, op, want, &now) != SQLITE_OK || now != want)
    return fail(ErrorClass::internal, std::string("cannot turn ") + what + (want ? " on" : " off"));
  return {};
}

Status set_limit(sqlite3* db, int id, int value, const char* what) {
  sqlite3_limit(db, id, value);
  if (sqlite3_limit(db, id, -1) != value)
    return fail(ErrorClass::internal, std::string("cannot set ") + what + " to " + std::to_string(value));
  return {};
}

Status harden_config(sqlite3* db) {
  AIRLOCK_CHECK(config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, "SQLITE_DBCONFIG_DEFENSIVE"), "sandbox");
  AIRLOCK_CHECK(config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "trusted_schema"), "sandbox");
  AIRLOCK_CHECK(config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "extension loading"), "sandbox");
  AIRLOCK_CHECK(config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, "the two-argument fts3_tokenizer()"), "sandbox");
  AIRLOCK_CHECK(config(db, SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0, "writable_schema"), "sandbox");
  if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK)
    return fail(ErrorClass::internal, "sandbox: cannot turn extension loading off");
  return {};
}

struct Limit {
  int id;
  int value;
  const char* name;
};

Status harden_limits(sqlite3* db) {
  const Limit limits[] = {
      {SQLITE_LIMIT_LENGTH, kSandboxMaxLength, "SQLITE_LIMIT_LENGTH"},
      {SQLITE_LIMIT_SQL_LENGTH, kSandboxMaxSqlLength, "SQLITE_LIMIT_SQL_LENGTH"},
      {SQLITE_LIMIT_EXPR_DEPTH, kSandboxMaxExprDepth, "SQLITE_LIMIT_EXPR_DEPTH"},
      {SQLITE_LIMIT_COMPOUND_SELECT, kSandboxMaxCompoundSelect, "SQLITE_LIMIT_COMPOUND_SELECT"},
      {SQLITE_LIMIT_VDBE_OP, kSandboxMaxVdbeOps, "SQLITE_LIMIT_VDBE_OP"},
      {SQLITE_LIMIT_FUNCTION_ARG, kSandboxMaxFunctionArgs, "SQLITE_LIMIT_FUNCTION_ARG"},
      {SQLITE_LIMIT_LIKE_PATTERN_LENGTH, kSandboxMaxLikePattern, "SQLITE_LIMIT_LIKE_PATTERN_LENGTH"},
      {SQLITE_LIMIT_TRIGGER_DEPTH, kSandboxMaxTriggerDepth, "SQLITE_LIMIT_TRIGGER_DEPTH"},
      {SQLITE_LIMIT_ATTACHED, 0, "SQLITE_LIMIT_ATTACHED"},
      {SQLITE_LIMIT_WORKER_THREADS, 0, "SQLITE_LIMIT_WORKER_THREADS"},
  };
  for (const auto& l : limits) AIRLOCK_CHECK(set_limit(db, l.id, l.value, l.name), "sandbox");
  return {};
}

// SQLite's heap may grow by kSandboxHeapBytes while one statement of the script is prepared and
// run; the previous (process-wide) limits come back when it ends.
class HeapCeiling {
 public:
  HeapCeiling() : hard_(sqlite3_hard_heap_limit64(-1)), soft_(sqlite3_soft_heap_limit64(-1)) {
    const sqlite3_int64 cap = sqlite3_memory_used() + kSandboxHeapBytes;
    if (hard_ <= 0 || cap < hard_) sqlite3_hard_heap_limit64(cap);
  }
  ~HeapCeiling() {
    sqlite3_hard_heap_limit64(hard_);
    sqlite3_soft_heap_limit64(soft_);
  }
  HeapCeiling(const HeapCeiling&) = delete;
  HeapCeiling& operator=(const HeapCeiling&) = delete;

 private:
  sqlite3_int64 hard_, soft_;
};

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Marks the script as running (so the authorizer checks) until the scope ends, whatever the path.
class ScriptScope {
 public:
  explicit ScriptScope(Sandbox::Guard& g) : g_(g) { g_.script = true; }
  ~ScriptScope() { g_.script = false; }
  ScriptScope(const ScriptScope&) = delete;
  ScriptScope& operator=(const ScriptScope&) = delete;

 private:
  Sandbox::Guard& g_;
};

std::string mib(std::int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Why statement execution stopped with `rc`, and its class: a refusal, a limit, or SQLite's message.
Error step_error(sqlite3* db, const Sandbox::Guard& g, int rc) {
  if (g.timed_out) return Error(ErrorClass::internal, "exceeded its time limit (progress deadline)");
  if ((rc & 0xff) == SQLITE_NOMEM)
    return Error(ErrorClass::internal, "needed more than the sandbox's memory limit of " + mib(kSandboxHeapBytes));
  std::string why = g.refused.empty() ? std::string(sqlite3_errmsg(db)) : g.refused;
  if ((rc & 0xff) == SQLITE_TOOBIG)
    why += " (the sandbox's limits: a value " + mib(kSandboxMaxLength) + ", a statement " + mib(kSandboxMaxSqlLength) +
           ")";
  return Error(error_class_of(sqlite3_extended_errcode(db)), why);
}

}  // namespace

Sandbox::Sandbox(sqlite3* db, std::unique_ptr<Guard> g) : db_(db), guard_(std::move(g)) {}

Sandbox::Sandbox(Sandbox&& o) noexcept : db_(std::exchange(o.db_, nullptr)), guard_(std::move(o.guard_)) {}

Sandbox::~Sandbox() {
  if (!db_) return;
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  sqlite3_progress_handler(db_, 0, nullptr, nullptr);
}

Result<Sandbox> Sandbox::harden(Database& d, std::int64_t timeout_ms) {
  sqlite3* db = d.db_;
  AIRLOCK_CHECK(harden_config(db), "database '" + d.path() + "'");
  AIRLOCK_CHECK(harden_limits(db), "database '" + d.path() + "'");
  auto g = std::make_unique<Guard>();
  g->deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (sqlite3_set_authorizer(db, authorizer, g.get()) != SQLITE_OK)
    return fail(ErrorClass::internal, "database '" + d.path() + "': sandbox: cannot install the authorizer");
  sqlite3_progress_handler(db, 1000, progress, g.get());
  return Sandbox(db, std::move(g));
}

Status Sandbox::run(const std::string& sql) {
  if (auto nul = sql.find('\0'); nul != std::string::npos)
    return fail(ErrorClass::internal, "the script holds a NUL byte at offset " + std::to_string(nul));
  Guard& g = *guard_;
  ScriptScope scope(g);
  const char* p = sql.c_str();
  const char* const end = p + sql.size();
  while (p < end) {
    g.refused.clear();
    HeapCeiling heap;
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    // -1: the text is NUL-terminated. A byte count would make SQLITE_LIMIT_SQL_LENGTH apply to the
    // rest of the script instead of to the one statement.
    int rc = sqlite3_prepare_v2(db_, p, -1, &raw, &tail);
    StmtPtr st(raw);
    if (rc != SQLITE_OK) return fail(step_error(db_, g, rc));
    // Prepare consumes empty statements (a lone `;`) and comments in front of a statement, whose
    // text then starts with them; no statement means only such were left. Either way the script
    // goes on from the tail, so nothing after an empty statement is skipped.
    p = tail && tail > p ? tail : end;
    if (!st) continue;
    if (first_keyword(sqlite3_sql(st.get())) == "VACUUM")
      return fail(ErrorClass::internal, "VACUUM (and VACUUM INTO) is not allowed in a migration");
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return fail(step_error(db_, g, rc));
  }
  return {};
}

namespace {
bool db_config_on(sqlite3* db, int op) {
  int on = -1;
  sqlite3_db_config(db, op, -1, &on);
  return on == 1;
}
}  // namespace

SandboxSettings Sandbox::settings() const {
  auto limit = [this](int id) { return sqlite3_limit(db_, id, -1); };
  return {limit(SQLITE_LIMIT_LENGTH),
          limit(SQLITE_LIMIT_SQL_LENGTH),
          limit(SQLITE_LIMIT_EXPR_DEPTH),
          limit(SQLITE_LIMIT_COMPOUND_SELECT),
          limit(SQLITE_LIMIT_VDBE_OP),
          limit(SQLITE_LIMIT_FUNCTION_ARG),
          limit(SQLITE_LIMIT_LIKE_PATTERN_LENGTH),
          limit(SQLITE_LIMIT_TRIGGER_DEPTH),
          limit(SQLITE_LIMIT_ATTACHED),
          db_config_on(db_, SQLITE_DBCONFIG_DEFENSIVE),
          db_config_on(db_, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER)};
}

std::int64_t sqlite_heap_limit() { return sqlite3_hard_heap_limit64(-1); }

}  // namespace airlock::db

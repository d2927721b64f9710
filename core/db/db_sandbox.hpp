// core/db_sandbox: the hardened SQLite connection that untrusted migration SQL runs on — at the
// site (applier/migrate) and in the build's round-trip check (bundler/migration_check), so that a
// migration the site refuses is refused by `airlock build` too, for the same reason.
//
// Sandbox::harden() sets, on a Database the caller owns (it must outlive the Sandbox):
//  - SQLITE_DBCONFIG_DEFENSIVE on (no writable_schema, no shadow-table or sqlite_dbpage writes),
//    trusted_schema off, extension loading off, the two-argument fts3_tokenizer() off, writable
//    schema off — each read back and verified;
//  - the per-connection limits below, SQLITE_LIMIT_ATTACHED 0, no worker threads;
//  - an authorizer that, while Sandbox::run() executes the script, allows only the SQL functions,
//    virtual-table modules and PRAGMAs of the allow-lists in db_sandbox.cpp (docs/site.md lists
//    them) and refuses ATTACH/DETACH, transaction control, SAVEPOINT and any use of sqlite_dbpage;
//  - a progress handler that interrupts the script at its deadline.
// run() executes a script one statement at a time: empty statements are skipped (never the end of
// the script), VACUUM is refused by the prepared statement's text, a NUL byte is refused. While a
// statement of the script runs, SQLite's heap may grow by at most kSandboxHeapBytes: that one knob
// (sqlite3_hard_heap_limit64) is process-wide, so it is held only for the duration of each
// statement and restored after it; other connections of the process share the ceiling meanwhile.
// The caller's own statements on the same connection (bookkeeping, schema reads) are not checked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/db/db.hpp"
#include "core/error.hpp"

namespace airlock::db {

inline constexpr int kSandboxMaxLength = 64 << 20;              // bytes of one string, blob or row
inline constexpr int kSandboxMaxSqlLength = 4 << 20;            // bytes of one statement's text
inline constexpr int kSandboxMaxExprDepth = 200;                // parse-tree depth (stack use)
inline constexpr int kSandboxMaxCompoundSelect = 100;           // terms of one UNION/EXCEPT chain
inline constexpr int kSandboxMaxVdbeOps = 1000000;              // instructions of one prepared statement
inline constexpr int kSandboxMaxFunctionArgs = 64;              // arguments of one function call
inline constexpr int kSandboxMaxLikePattern = 10000;            // bytes of a LIKE or GLOB pattern
inline constexpr int kSandboxMaxTriggerDepth = 10;              // nesting of recursive triggers
inline constexpr std::int64_t kSandboxHeapBytes = 256ll << 20;  // heap growth while a statement runs

// A connection's hardening as SQLite reports it now: what harden() must have left behind.
struct SandboxSettings {
  int length, sql_length, expr_depth, compound_select, vdbe_ops, function_args, like_pattern, trigger_depth, attached;
  bool defensive, fts3_tokenizer;
};

// The process-wide hard heap limit of SQLite now (0: none).
std::int64_t sqlite_heap_limit();

class Sandbox {
 public:
  // Hardens `d` for untrusted SQL; the script's deadline is `timeout_ms` from now.
  [[nodiscard]] static Result<Sandbox> harden(Database& d, std::int64_t timeout_ms);
  Sandbox(Sandbox&&) noexcept;
  Sandbox& operator=(Sandbox&&) = delete;
  Sandbox(const Sandbox&) = delete;
  ~Sandbox();  // removes the authorizer and the progress handler; the connection stays hardened

  // Runs an untrusted script. A refusal, a limit or a bad statement is ErrorClass::internal with
  // the reason; a failing disk is io. The caller adds what ran where (migration, database).
  [[nodiscard]] Status run(const std::string& sql);
  SandboxSettings settings() const;

  struct Guard;  // the authorizer's and progress handler's state (db_sandbox.cpp)

 private:
  Sandbox(sqlite3* db, std::unique_ptr<Guard> g);
  sqlite3* db_ = nullptr;
  std::unique_ptr<Guard> guard_;
};

}  // namespace airlock::db

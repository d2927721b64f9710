// The PostgreSQL target. libpq's handles live in their RAII owners (core/db/pg_handles.hpp);
// pg_dump and pg_restore run through core/db/pg_tools.hpp.
#include "core/db/postgres_target.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <utility>

#include "core/db/pg_handles.hpp"
#include "core/db/pg_script.hpp"
#include "core/db/pg_tools.hpp"
#include "core/text.hpp"

// Propagate an error as it is: the messages already name the database.
#define PG_TRY_IMPL(tmp, decl, expr)                                           \
  auto tmp = (expr);                                                           \
  if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define PG_TRY(decl, expr) PG_TRY_IMPL(AIRLOCK_CONCAT(_pg_r_, __LINE__), decl, expr)
#define PG_CHECK(expr)                                                                                    \
  do {                                                                                                    \
    if (auto _pg_s = (expr); !_pg_s) return ::tl::unexpected<::airlock::Error>(std::move(_pg_s).error()); \
  } while (0)

namespace airlock::db {
namespace {

constexpr const char* kBookkeeping =
    "CREATE TABLE IF NOT EXISTS _airlock_migrations(id text PRIMARY KEY, release text NOT NULL, "
    "seq bigint GENERATED ALWAYS AS IDENTITY)";
constexpr const char* kConnectTimeoutS = "10";
constexpr int kGraceMs = 1000;
constexpr int kGraceStepMs = 50;

// A server's text as it is: the Error that carries it makes it printable, once.
std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A live connection and the logical name its errors carry.
class Pg {
 public:
  static Result<Pg> connect(const TargetSpec& spec);
  Status exec(const std::string& sql) {
    return query(sql).map([](PgResultPtr&&) {});
  }
  Result<PgResultPtr> query(const std::string& sql, const std::vector<std::string>& params = {});
  // The first column of the first row, "" when there is none.
  Result<std::string> scalar(const std::string& sql, const std::vector<std::string>& params = {});
  PGconn* get() const { return conn_.get(); }
  Error error(ErrorClass cls, const std::string& what) const { return Error(cls, "database '" + name_ + "': " + what); }

 private:
  Pg(PgConnPtr c, std::string name) : conn_(std::move(c)), name_(std::move(name)) {}
  PgConnPtr conn_;
  std::string name_;
};

Result<Pg> Pg::connect(const TargetSpec& spec) {
  const char* keys[] = {"dbname", "fallback_application_name", "connect_timeout", nullptr};
  const char* vals[] = {spec.location.c_str(), "airlock", kConnectTimeoutS, nullptr};
  PgConnPtr c(PQconnectdbParams(keys, vals, 1));
  if (!c) return fail(ErrorClass::io, "database '" + spec.name + "': out of memory connecting");
  if (PQstatus(c.get()) != CONNECTION_OK)
    return fail(ErrorClass::io, "database '" + spec.name + "': cannot connect: " + trimmed(PQerrorMessage(c.get())));
  // A library never prints: the server's notices would go to stderr.
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  const char* super = PQparameterStatus(c.get(), "is_superuser");
  if (!spec.allow_superuser && super && std::string(super) == "on")
    return fail(ErrorClass::usage, "database '" + spec.name + "': role '" + trimmed(PQuser(c.get())) +
                                       "' is a superuser; connect as a role without superuser (its privileges bound "
                                       "what a migration can do) or set allow_superuser = true");
  return Pg(std::move(c), spec.name);
}

Result<PgResultPtr> Pg::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> vals;
  for (const auto& p : params) vals.push_back(p.c_str());
  PgResultPtr r(params.empty() ? PQexec(get(), sql.c_str())
                               : PQexecParams(get(), sql.c_str(), static_cast<int>(vals.size()), nullptr, vals.data(),
                                              nullptr, nullptr, 0));
  auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return r;
  ErrorClass cls = PQstatus(get()) == CONNECTION_BAD ? ErrorClass::io : ErrorClass::internal;
  return fail(error(cls, trimmed(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(get()))));
}

Result<std::string> Pg::scalar(const std::string& sql, const std::vector<std::string>& params) {
  PG_TRY(auto r, query(sql, params));
  if (PQntuples(r.get()) == 0 || PQnfields(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return std::string();
  return std::string(PQgetvalue(r.get(), 0, 0));
}

Result<bool> has_bookkeeping(Pg& c) {
  auto t = c.scalar("SELECT to_regclass('_airlock_migrations') IS NOT NULL");
  if (!t) return fail(t.error());
  return *t == "t";
}

Result<std::int64_t> recorded_count(Pg& c) {
  auto has = has_bookkeeping(c);
  if (!has) return fail(has.error());
  if (!*has) return 0;
  auto n = c.scalar("SELECT count(*) FROM _airlock_migrations");
  if (!n) return fail(n.error());
  return std::stoll(*n);
}

// A private temporary file for a dump, removed with its owner.
class TempFile {
 public:
  static Result<TempFile> make() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/airlock-pg-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    if (fd < 0) return fail(errno_error("mkstemp", tmpl, errno));
    ::close(fd);
    return TempFile(buf.data());
  }
  TempFile(TempFile&& o) noexcept : path_(std::exchange(o.path_, "")) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempFile(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

// A dump's text without what differs between two dumps of the same content: comments (they carry
// versions and times), blank lines and the session settings.
bool keep_line(const std::string& l) {
  // \restrict and \unrestrict carry a random key per dump.
  return !(l.empty() || l.starts_with("--") || l.starts_with("SET ") || l.starts_with("SELECT pg_catalog.set_config") ||
           l.starts_with("\\restrict ") || l.starts_with("\\unrestrict "));
}

Result<std::string> normalized_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorClass::io, "cannot read '" + path + "'");
  std::string out, line;
  while (std::getline(in, line))
    if (keep_line(line)) out += line + "\n";
  return out;
}

// Line by line, never the whole dumps in memory.
bool same_normalized(const std::string& a, const std::string& b) {
  std::ifstream fa(a), fb(b);
  std::string la, lb;
  for (;;) {
    bool ga = false, gb = false;
    while ((ga = bool(std::getline(fa, la))) && !keep_line(la)) {
    }
    while ((gb = bool(std::getline(fb, lb))) && !keep_line(lb)) {
    }
    if (ga != gb) return false;
    if (!ga) return true;
    if (la != lb) return false;
  }
}

class PgSession final : public Session {
 public:
  explicit PgSession(Pg c) : c_(std::move(c)) {}
  Status run(const std::string& sql) override { return c_.exec(sql); }

 private:
  Pg c_;
};

class PostgresTarget final : public Target {
 public:
  explicit PostgresTarget(const TargetSpec& spec) : Target(spec) {}

  std::string where() const override { return "server '" + spec().location + "'"; }
  Result<bool> exists() override {
    return connect().map([](Pg&&) { return true; });
  }
  Status ready(Missing) override;
  Status create() override {
    return connect().map([](Pg&&) {});
  }
  Result<bool> migrate(const MigrationStep& m) override;
  Result<bool> migration_recorded(const std::string& id) override;
  Result<std::unique_ptr<Session>> open_session(std::int64_t timeout_ms) override;
  std::string snapshot_file() const override { return "db-" + spec().name + ".pgdump"; }
  Result<std::int64_t> snapshot_to(const std::string& dest) override;
  Status restore_from(const std::string& file, const std::function<void()>& midway) override;
  Status restore_ready() override;
  Result<SnapshotFacts> snapshot_facts() override;
  Status copy_from(const std::string& file) override {
    return fail(ErrorClass::usage, "database '" + spec().name + "': a postgres database cannot be copied from '" +
                                       file + "' (fixtures are SQLite files)");
  }
  Result<std::int64_t> schema_version() override;
  std::optional<std::int64_t> schema_version_after(const std::vector<std::string>& ids) const override {
    return static_cast<std::int64_t>(ids.size());
  }
  Result<std::string> schema_text() override;
  Result<bool> same_content_as(const std::string& file) override;
  std::uint64_t size_estimate() const override;
  Result<std::optional<Value>> probe(const ProbeRequest& p) override;

 private:
  Result<Pg> connect() const { return Pg::connect(spec()); }
  Result<bool> migrate_in(Pg& c, const MigrationStep& m);
  Status live_connections(Pg& c);
  Result<std::string> drop_schemas_sql() const;
  Status dump(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{pg_tool("pg_dump"), "--dbname=" + spec().location};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_tool({argv});
  }
};

Status PostgresTarget::ready(Missing) {
  // The server's administrator creates the database: a missing one is never made here.
  PG_TRY(auto c, connect());
  PG_CHECK(c.exec("SELECT 1"));
  return {};
}

Result<bool> PostgresTarget::migration_recorded(const std::string& id) {
  PG_TRY(auto c, connect());
  PG_TRY(bool has, has_bookkeeping(c));
  if (!has) return false;
  PG_TRY(auto r, c.scalar("SELECT 1 FROM _airlock_migrations WHERE id = $1", {id}));
  return !r.empty();
}

std::string ms(std::int64_t v) { return "'" + std::to_string(v) + "ms'"; }

Result<bool> PostgresTarget::migrate(const MigrationStep& m) {
  PG_TRY(auto c, connect());
  std::int64_t stmt = spec().statement_timeout_ms > 0 ? spec().statement_timeout_ms : m.timeout_ms;
  PG_CHECK(c.exec("BEGIN"));
  auto ran = [&]() -> Result<bool> {
    PG_CHECK(c.exec("SET LOCAL statement_timeout = " + ms(stmt)));
    PG_CHECK(c.exec("SET LOCAL lock_timeout = " + ms(spec().lock_timeout_ms)));
    return migrate_in(c, m);
  }();
  if (!ran) {
    (void)c.exec("ROLLBACK");
    return ran;
  }
  PG_CHECK(c.exec(*ran ? "COMMIT" : "ROLLBACK"));
  return *ran;
}

// The step inside the open transaction; false when there is nothing to do.
Result<bool> PostgresTarget::migrate_in(Pg& c, const MigrationStep& m) {
  PG_CHECK(c.exec(kBookkeeping));
  // One migrator at a time: a second one waits here (within lock_timeout) and then sees the first's row.
  PG_CHECK(c.exec("LOCK TABLE _airlock_migrations IN SHARE ROW EXCLUSIVE MODE"));
  PG_TRY(auto row, c.scalar("SELECT 1 FROM _airlock_migrations WHERE id = $1", {m.id}));
  if (!row.empty() == (m.direction == Direction::up)) return false;
  // Refused before it runs: one statement past a COMMIT would already be committed.
  if (auto why = pg_script_problem(m.sql))
    return fail(c.error(ErrorClass::internal, "migration " + m.id + " is refused: " + *why));
  PG_CHECK(c.exec(m.sql));
  // A script that ended the transaction would have committed half a migration.
  if (PQtransactionStatus(c.get()) != PQTRANS_INTRANS)
    return fail(c.error(ErrorClass::internal, "migration " + m.id +
                                                  " ended airlock's transaction (COMMIT or ROLLBACK "
                                                  "in the script)"));
  if (m.direction == Direction::up) {
    PG_CHECK(c.query("INSERT INTO _airlock_migrations(id, release) VALUES($1, $2)", {m.id, m.release}));
    return true;
  }
  PG_CHECK(c.query("DELETE FROM _airlock_migrations WHERE id = $1", {m.id}));
  // The reverse of the first migration ever also takes back the bookkeeping table the up created.
  PG_TRY(auto left, c.scalar("SELECT count(*) FROM _airlock_migrations"));
  if (left == "0") PG_CHECK(c.exec("DROP TABLE _airlock_migrations"));
  return true;
}

Result<std::unique_ptr<Session>> PostgresTarget::open_session(std::int64_t timeout_ms) {
  PG_TRY(auto c, connect());
  PG_CHECK(c.exec("SET statement_timeout = " + ms(timeout_ms)));
  PG_CHECK(c.exec("SET lock_timeout = " + ms(spec().lock_timeout_ms)));
  return std::unique_ptr<Session>(std::make_unique<PgSession>(std::move(c)));
}

Result<std::int64_t> PostgresTarget::snapshot_to(const std::string& dest) {
  PG_TRY(auto version, schema_version());
  // Whatever failed while dumping, the snapshot was not written: an I/O failure of the snapshot.
  if (auto d = dump({"--format=custom", "--file=" + dest}); !d) return fail(d.error().reclassed(ErrorClass::io));
  return version;
}

Result<SnapshotFacts> PostgresTarget::snapshot_facts() {
  PG_TRY(auto c, connect());
  SnapshotFacts f;
  PG_TRY(f.server_version, c.scalar("SHOW server_version"));
  PG_TRY(bool has, has_bookkeeping(c));
  if (has) {
    PG_TRY(f.last_migration, c.scalar("SELECT id FROM _airlock_migrations ORDER BY seq DESC LIMIT 1"));
  }
  return f;
}

Status PostgresTarget::restore_ready() {
  PG_TRY(auto c, connect());
  // A backend outlives its client's goodbye by a few milliseconds (the health probe that just
  // closed): what is still there after the grace is live.
  for (int i = 0;; ++i) {
    auto s = live_connections(c);
    if (s || i * kGraceStepMs >= kGraceMs) return s;
    ::usleep(kGraceStepMs * 1000);
  }
}

Status PostgresTarget::live_connections(Pg& c) {
  PG_TRY(auto r,
         c.query("SELECT pid, coalesce(usename, ''), coalesce(application_name, ''), "
                 "coalesce(client_addr::text, 'local') FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid"));
  int n = PQntuples(r.get());
  if (n == 0) return {};
  std::string who;
  for (int i = 0; i < n; ++i)
    who += std::string(i ? ", " : "") + "pid " + PQgetvalue(r.get(), i, 0) + " (role '" + PQgetvalue(r.get(), i, 1) +
           "', application '" + PQgetvalue(r.get(), i, 2) + "', from " + PQgetvalue(r.get(), i, 3) + ")";
  return fail(c.error(ErrorClass::usage, std::to_string(n) + " other connection" + (n == 1 ? " is" : "s are") +
                                             " live, so it is not replaced: " + who +
                                             "; drain the services that use it first"));
}

// What replaces every schema the role may drop: each one dropped whole (tables a failed release
// added go with it), then public as initdb makes it (pg_dump does not recreate it).
Result<std::string> PostgresTarget::drop_schemas_sql() const {
  PG_TRY(auto c, connect());
  PG_TRY(auto schemas, c.query("SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                               "AND nspname <> 'information_schema' AND pg_has_role(nspowner, 'USAGE')"));
  std::string sql;
  for (int i = 0; i < PQntuples(schemas.get()); ++i)
    sql += "DROP SCHEMA " + std::string(PQgetvalue(schemas.get(), i, 0)) + " CASCADE;";
  return sql +
         "CREATE SCHEMA IF NOT EXISTS public AUTHORIZATION pg_database_owner; GRANT USAGE ON SCHEMA public TO PUBLIC;"
         "COMMENT ON SCHEMA public IS 'standard public schema';";
}

// One transaction: the schemas dropped and the snapshot's objects and rows restored commit together
// or not at all, so a restore that fails half-way (a full disk, a refused statement, a killed
// psql) leaves the database as it was. The archive is first turned into its SQL script, which
// touches nothing: a damaged snapshot stops there.
Status PostgresTarget::restore_from(const std::string& file, const std::function<void()>& midway) {
  const std::string what = "restoring database '" + spec().name + "'";
  AIRLOCK_CHECK(restore_ready(), "restoring");
  AIRLOCK_TRY(auto script, TempFile::make(), what);
  AIRLOCK_CHECK(run_tool({{pg_tool("pg_restore"), "--file=" + script.path(), file}}), what);
  AIRLOCK_TRY(auto drop, drop_schemas_sql(), what);
  if (midway) midway();
  AIRLOCK_CHECK(
      run_tool({{pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                 "--output=/dev/null", "--dbname=" + spec().location, "--command=" + drop, "--file=" + script.path()}}),
      what);
  return {};
}

Result<std::int64_t> PostgresTarget::schema_version() {
  PG_TRY(auto c, connect());
  return recorded_count(c);
}

Result<std::string> PostgresTarget::schema_text() {
  AIRLOCK_TRY(auto t, TempFile::make(), "schema of database '" + spec().name + "'");
  AIRLOCK_CHECK(dump({"--schema-only", "--no-owner", "--no-privileges", "--file=" + t.path()}),
                "schema of database '" + spec().name + "'");
  return normalized_file(t.path());
}

Result<bool> PostgresTarget::same_content_as(const std::string& file) {
  AIRLOCK_TRY(auto now, TempFile::make(), "comparing");
  AIRLOCK_TRY(auto snap, TempFile::make(), "comparing");
  AIRLOCK_CHECK(dump({"--format=plain", "--file=" + now.path()}), "comparing");
  AIRLOCK_CHECK(run_tool({{pg_tool("pg_restore"), "--file=" + snap.path(), file}}), "comparing");
  return same_normalized(now.path(), snap.path());
}

std::uint64_t PostgresTarget::size_estimate() const {
  auto c = connect();
  if (!c) return 0;
  auto n = c->scalar("SELECT pg_database_size(current_database())");
  return n && !n->empty() ? std::stoull(*n) : 0;
}

Value value_of(const PGresult* r) {
  if (PQgetisnull(r, 0, 0)) return nullptr;
  std::string v = PQgetvalue(r, 0, 0);
  switch (PQftype(r, 0)) {
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return static_cast<std::int64_t>(std::stoll(v));
    case 700:  // float4
    case 701:  // float8
      return std::stod(v);
    case 16:  // bool: as SQLite would give it
      return static_cast<std::int64_t>(v == "t");
    default:
      return v;
  }
}

Result<std::optional<Value>> PostgresTarget::probe(const ProbeRequest& p) {
  PG_TRY(auto c, connect());
  PG_CHECK(c.exec("SET lock_timeout = " + ms(std::max<std::int64_t>(p.wait_ms, 1))));
  PG_CHECK(c.exec("SET statement_timeout = " + ms(std::max<std::int64_t>(p.wait_ms, 1000))));
  PG_TRY(auto r, c.query(p.query));
  if (PQntuples(r.get()) == 0 || PQnfields(r.get()) == 0) return std::optional<Value>();
  return std::optional<Value>(value_of(r.get()));
}

}  // namespace

std::unique_ptr<Target> make_postgres_target(const TargetSpec& spec) { return std::make_unique<PostgresTarget>(spec); }

Status check_postgres_spec(const TargetSpec& spec, const std::string& key) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(spec.location.c_str(), &err);
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> owned(opts, PQconninfoFree);
  if (!opts) {
    std::string why = trimmed(err);
    PQfreemem(err);
    return fail(ErrorClass::usage, key + ": not a libpq connection string: " + why);
  }
  for (const auto* o = opts; o->keyword; ++o)
    if (std::string(o->keyword) == "password" && o->val && *o->val)
      return fail(ErrorClass::usage, key +
                                         ": carries a password; put it in a PGPASSFILE or a service file, never in "
                                         "site.toml");
  return {};
}

}  // namespace airlock::db

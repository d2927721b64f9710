#include "core/db/pg_scratch.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/db/pg_handles.hpp"
#include "core/db/pg_tools.hpp"

namespace airlock::db {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAdmin = "airlock_admin";
constexpr const char* kApp = "airlock_app";
constexpr const char* kOwner = "nobody";  // who runs the cluster when we are root
constexpr std::int64_t kStartMs = 120000;

// argv run as the cluster's owner: `nobody` when we are root (initdb refuses root).
std::vector<std::string> as_owner(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out{"runuser", "-u", kOwner, "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

Status exec_on(const std::string& conninfo, const std::string& sql) {
  PgConnPtr c(PQconnectdb(conninfo.c_str()));
  if (!c || PQstatus(c.get()) != CONNECTION_OK)
    return fail(ErrorClass::io, "scratch PostgreSQL: cannot connect: " + std::string(c ? PQerrorMessage(c.get()) : ""));
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  PgResultPtr r(PQexec(c.get(), sql.c_str()));
  auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return fail(ErrorClass::internal, "scratch PostgreSQL: " + sql + ": " + PQresultErrorMessage(r.get()));
  return {};
}

Result<std::string> private_folder() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/airlock-pg-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return fail(errno_error("mkdtemp", tmpl, errno));
  std::string dir = buf.data();
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam(kOwner);
    if (!pw || ::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return fail(ErrorClass::io, "cannot hand '" + dir + "' to the user " + kOwner + " for the scratch PostgreSQL");
  }
  return dir;
}

}  // namespace

ScratchServer::ScratchServer(ScratchServer&& o) noexcept
    : dir_(std::exchange(o.dir_, "")), bindir_(std::move(o.bindir_)), running_(std::exchange(o.running_, false)) {}

ScratchServer::~ScratchServer() {
  if (running_)
    (void)run_tool({as_owner({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"})});
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string ScratchServer::admin(const std::string& dbname) const {
  return "host=" + dir_ + " user=" + kAdmin + " dbname=" + dbname;
}
std::string ScratchServer::app(const std::string& dbname) const {
  return "host=" + dir_ + " user=" + kApp + " dbname=" + dbname;
}

Result<ScratchServer> ScratchServer::start() {
  std::string initdb = pg_tool("initdb");
  if (initdb == "initdb")
    return fail(ErrorClass::usage,
                "no PostgreSQL server is installed (initdb and pg_ctl under /usr/lib/postgresql/<major>/bin)");
  ScratchServer s;
  s.bindir_ = fs::path(initdb).parent_path().string();
  AIRLOCK_TRY(s.dir_, private_folder(), "scratch PostgreSQL");
  const std::string data = s.dir_ + "/data";
  AIRLOCK_CHECK(
      run_tool({as_owner({initdb, "-D", data, "-U", kAdmin, "-A", "trust", "-E", "UTF8", "--no-sync"}), kStartMs}),
      "scratch PostgreSQL");
  AIRLOCK_CHECK(run_tool({as_owner({s.bindir_ + "/pg_ctl", "-D", data, "-l", s.dir_ + "/log", "-w", "-o",
                                    "-k " + s.dir_ + " -c listen_addresses='' -c fsync=off", "start"}),
                          kStartMs}),
                "scratch PostgreSQL");
  s.running_ = true;
  AIRLOCK_CHECK(exec_on(s.admin("postgres"), std::string("CREATE ROLE ") + kApp + " LOGIN"), "scratch PostgreSQL");
  return s;
}

Result<std::string> ScratchServer::fresh_database(const std::string& name) {
  AIRLOCK_CHECK(exec_on(admin("postgres"), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"), "scratch PostgreSQL");
  AIRLOCK_CHECK(exec_on(admin("postgres"), "CREATE DATABASE " + name + " OWNER " + kApp), "scratch PostgreSQL");
  return app(name);
}

}  // namespace airlock::db

#include "tests/support/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "core/db/pg_handles.hpp"
#include "core/db/pg_scratch.hpp"

namespace airlock::test {
namespace {

struct Cluster {
  std::optional<db::ScratchServer> server;
  std::string why;
  Cluster() {
    auto s = db::ScratchServer::start();
    if (s)
      server.emplace(std::move(*s));
    else
      why = s.error().what();
  }
};

std::optional<Cluster>& cluster_slot() {
  static std::optional<Cluster> c;
  return c;
}

Cluster& cluster() {
  auto& c = cluster_slot();
  if (!c) c.emplace();
  return *c;
}

// Stops the cluster once every test has run (a static's destructor would run after gtest's
// output is closed, and a crashed binary would leave the server behind either way).
class PgEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { cluster_slot().reset(); }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

const PgCluster g_handle;

std::string exec(const std::string& dbname, const std::string& sql, bool want_value) {
  if (!cluster().server) return "no cluster: " + cluster().why;
  db::PgConnPtr conn(PQconnectdb(cluster().server->admin(dbname).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) return PQerrorMessage(conn.get());
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  db::PgResultPtr res(PQexec(conn.get(), sql.c_str()));
  auto st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return want_value ? "" : PQresultErrorMessage(res.get());
  if (!want_value || PQntuples(res.get()) == 0) return "";
  return PQgetvalue(res.get(), 0, 0);
}

}  // namespace

std::string PgCluster::admin(const std::string& dbname) const { return cluster().server->admin(dbname); }
std::string PgCluster::app(const std::string& dbname) const { return cluster().server->app(dbname); }

const PgCluster* pg_cluster() { return cluster().server ? &g_handle : nullptr; }
std::string pg_cluster_why() { return cluster().why; }

std::string pg_admin_exec(const std::string& dbname, const std::string& sql) { return exec(dbname, sql, false); }
std::string pg_admin_query(const std::string& dbname, const std::string& sql) { return exec(dbname, sql, true); }

std::string pg_fresh_database(const std::string& name) {
  if (!cluster().server) return "";
  auto c = cluster().server->fresh_database(name);
  if (!c) ADD_FAILURE() << c.error().what();
  return c ? *c : "";
}

}  // namespace airlock::test

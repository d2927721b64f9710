// The tests' private PostgreSQL cluster: core/db's ScratchServer (initdb + pg_ctl on a Unix socket
// in a temp folder, as `nobody` when the tests run as root). One per test binary: started by the
// first test that asks for it, stopped and removed when the binary ends (a gtest Environment).
#pragma once

#include <string>

namespace airlock::test {

struct PgCluster {
  // The superuser's conninfo (administration only) and the role without superuser's.
  std::string admin(const std::string& dbname) const;
  std::string app(const std::string& dbname) const;
};

// The shared cluster, or nullptr when it cannot start (pg_cluster_why() says why).
const PgCluster* pg_cluster();
std::string pg_cluster_why();

// A fresh, empty database owned by the role without superuser; returns its conninfo.
std::string pg_fresh_database(const std::string& name);
// Runs one SQL text as the superuser on `dbname`; returns "" or the error.
std::string pg_admin_exec(const std::string& dbname, const std::string& sql);
// The first column of the first row of `sql` run as the superuser on `dbname` ("" when none).
std::string pg_admin_query(const std::string& dbname, const std::string& sql);

}  // namespace airlock::test

// Skips the test when PostgreSQL is not installed.
#define AIRLOCK_NEED_PG()                                                                  \
  do {                                                                                     \
    if (!::airlock::test::pg_cluster()) GTEST_SKIP() << ::airlock::test::pg_cluster_why(); \
  } while (0)

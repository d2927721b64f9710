// The one RAII owner of each libpq handle: PGconn (PQfinish) and PGresult (PQclear). Only core/db
// (and the tests' private cluster) include libpq.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace airlock::db {

struct PgConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnFree>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultFree>;

}  // namespace airlock::db

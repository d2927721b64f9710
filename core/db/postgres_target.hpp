// The PostgreSQL target (core/db/target.hpp): a database on a server, named by a libpq conninfo
// that carries no password (it comes from PGPASSFILE or a service file). Every operation connects
// as the site's role (a superuser is refused unless allowed: the role's privileges are the
// migration's sandbox), works and lets go.
//  - migrate: one transaction per migration with SET LOCAL statement_timeout and lock_timeout,
//    recorded in `_airlock_migrations` (id, release, seq); a failed one rolls back whole; the
//    schema version is the number of recorded migrations (the last one's id is in the snapshot's
//    facts);
//  - snapshot: `pg_dump -Fc`; restore: refused while another connection is live (naming it), then
//    every schema the role owns is dropped and `public` recreated in one transaction, then
//    `pg_restore --single-transaction`, so tables a failed release added do not survive.
#pragma once

#include <memory>

#include "core/db/target.hpp"

namespace airlock::db {

std::unique_ptr<Target> make_postgres_target(const TargetSpec& spec);
// A password in the conninfo, or a conninfo libpq cannot read: ErrorClass::usage naming `key`.
[[nodiscard]] Status check_postgres_spec(const TargetSpec& spec, const std::string& key);

}  // namespace airlock::db

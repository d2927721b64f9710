// The reverse-migration rule: every `down` must undo its `up`. For each database the recipe
// migrates, a scratch database lives in a temporary folder, started from the migration's
// `fixture` (an SQLite file, copied; or a .sql script, run on an empty database) or empty.
// Migrations run in recipe order, and for each one: schema before, run up, run down, schema must
// equal before, run up again (it must still work: the state the next migration and the site
// see). Schemas are compared with their SQL text normalised (SQLite rewrites CREATE text on ALTER
// TABLE). An irreversible migration is just run up. Every script (and a .sql fixture) runs in the
// migration sandbox the sites use (core/db/db_sandbox.hpp), so what a site refuses is refused here and
// recipe SQL cannot reach past the scratch database. Every breach is build_refused naming the
// recipe, the migration and what differed.
#pragma once

#include "bundler/recipe.hpp"
#include "core/error.hpp"

namespace airlock::bundler {

[[nodiscard]] Status check_migrations(const Recipe& r);

}  // namespace airlock::bundler

// Runs every migration of the recipe on scratch databases (core/db targets) to prove its reverse
// works. SQL errors from core/db come back as internal; here they are the recipe's fault:
// build_refused.
#include "bundler/migration_check.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "bundler/propagate.hpp"
#include "core/db/pg_scratch.hpp"
#include "core/db/pg_script.hpp"
#include "core/db/target.hpp"
#include "core/sys/fs.hpp"

namespace airlock::bundler {

namespace {

inline constexpr std::size_t kMaxSqlBytes = 16 * 1024 * 1024;
// The deadline of each script on the scratch database: a site's default migration_timeout.
inline constexpr std::int64_t kScriptTimeoutMs = 60000;

// A private temporary folder, removed with everything in it when the check ends.
class ScratchDir {
 public:
  static Result<ScratchDir> create() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/airlock-migrations-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return fail(errno_error("mkdtemp", tmpl, errno));
    return ScratchDir(buf.data());
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

Error refused(const Recipe& r, const RecipeMigration& m, const std::string& what) {
  return Error(ErrorClass::build_refused,
               "recipe '" + r.path + "': migration '" + m.id + "' (database '" + m.database + "'): " + what);
}

// The refusal of an error met on the way, its text kept as it is: it is printable already, and a
// new Error made of it would escape its escapes a second time (a server's newline shown as
// \\u000a).
Error refused(const Recipe& r, const RecipeMigration& m, const std::string& what, const Error& cause) {
  std::string ctx = "recipe '" + r.path + "': migration '" + m.id + "' (database '" + m.database + "')";
  return cause.reclassed(ErrorClass::build_refused).with_context(what.empty() ? ctx : ctx + ": " + what);
}

// Lines in one schema dump and not the other, for a message that says what the down left behind.
std::string schema_difference(const std::string& before, const std::string& after) {
  auto lines = [](const std::string& s) {
    std::map<std::string, int> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out[l]++;
    return out;
  };
  auto b = lines(before), a = lines(after);
  std::string out;
  for (const auto& [l, n] : b)
    if (a[l] < n) out += "\n  missing after down: " + l;
  for (const auto& [l, n] : a)
    if (b[l] < n) out += "\n  left over after down: " + l;
  return out;
}

Result<std::string> read_sql(const Recipe& r, const RecipeMigration& m, const std::string& source) {
  auto text = read_file(r.resolve(source), kMaxSqlBytes, ErrorClass::build_refused);
  if (!text) return fail(refused(r, m, "", text.error()));
  return std::move(*text);
}

// Runs recipe SQL the way every site runs a migration (the target's hardened session): what a site
// refuses, the build refuses, and the SQL cannot reach past the scratch database on the build host.
Status sandboxed(db::Target& d, const std::string& sql) {
  auto session = d.open_session(kScriptTimeoutMs);
  if (!session) return fail(session.error());
  return (*session)->run(sql);
}

// What a site of the database's kind refuses before running a script, the build refuses: for
// postgres, transaction control and CONCURRENTLY (core/db/pg_script.hpp).
Status script_allowed(const Recipe& r, const RecipeMigration& m, const db::Target& d, const std::string& source,
                      const std::string& sql) {
  if (d.spec().kind != "postgres") return {};
  if (auto why = db::pg_script_problem(sql)) return fail(refused(r, m, "'" + source + "': " + *why));
  return {};
}

// Where the scratch database of a logical database is: a file in the scratch folder (sqlite, the
// kind of a database the recipe does not declare), or for postgres the server the recipe names,
// else a database of a throwaway cluster started once for the whole check.
Result<db::TargetSpec> scratch_spec(const Recipe& r, const RecipeMigration& m, const std::string& dir, std::size_t n,
                                    std::optional<db::ScratchServer>& server) {
  auto declared = r.databases.find(m.database);
  const RecipeDatabase kind = declared == r.databases.end() ? RecipeDatabase{} : declared->second;
  db::TargetSpec spec{m.database, kind.kind, "", db::Durability::scratch};
  if (kind.kind != "postgres") {
    spec.location = dir + "/db-" + std::to_string(n) + ".sqlite";
    return spec;
  }
  spec.allow_superuser = true;  // the build host's own server: the scripts are the recipe's
  if (kind.scratch) {
    spec.location = *kind.scratch;
    return spec;
  }
  if (!server) {
    auto started = db::ScratchServer::start();
    if (!started)
      return fail(refused(r, m, "no scratch PostgreSQL to check it on", started.error())
                      .with_note(" (name an empty database in the recipe ([databases." + m.database +
                                 "] scratch = \"<libpq conninfo>\") or install PostgreSQL's server (Debian "
                                 "package postgresql) so that airlock starts a throwaway cluster)"));
    server.emplace(std::move(*started));
  }
  AIRLOCK_TRY(spec.location, server->fresh_database("scratch_" + std::to_string(n)),
              "scratch database for migration '" + m.id + "'");
  return spec;
}

Result<std::unique_ptr<db::Target>> open_scratch(const Recipe& r, const RecipeMigration& m,
                                                 const db::TargetSpec& spec) {
  AIRLOCK_TRY(auto d, db::open_target(spec), "scratch database for migration '" + m.id + "'");
  if (m.fixture && m.fixture->ends_with(".sql")) {
    // A fixture written as SQL: run it on an empty database.
    BUNDLER_TRY(std::string sql, read_sql(r, m, *m.fixture));
    BUNDLER_CHECK(script_allowed(r, m, *d, *m.fixture, sql));
    AIRLOCK_CHECK(d->create(), "scratch database for migration '" + m.id + "'");
    // Recipe SQL like the migrations: on the site's hardened connection.
    auto s = sandboxed(*d, sql);
    if (!s) return fail(refused(r, m, "fixture '" + *m.fixture + "' fails", s.error()));
    return d;
  }
  if (m.fixture) {
    auto copied = d->copy_from(r.resolve(*m.fixture));
    if (!copied) return fail(refused(r, m, "fixture", copied.error()));
  }
  AIRLOCK_CHECK(d->create(), "scratch database for migration '" + m.id + "'");
  return d;
}

Result<std::string> schema(const Recipe& r, const RecipeMigration& m, db::Target& d) {
  auto text = d.schema_text();
  if (!text) return fail(refused(r, m, "reading the schema", text.error()));
  return std::move(*text);
}

// One migration on the scratch database: up, and for a reversible one down (must restore the
// schema) and up again.
Status round_trip(const Recipe& r, const RecipeMigration& m, db::Target& d) {
  BUNDLER_TRY(std::string up, read_sql(r, m, m.up));
  BUNDLER_CHECK(script_allowed(r, m, d, m.up, up));
  BUNDLER_TRY(std::string before, schema(r, m, d));
  if (auto s = sandboxed(d, up); !s) return fail(refused(r, m, "up '" + m.up + "' fails", s.error()));
  if (!m.down) return {};
  BUNDLER_TRY(std::string down, read_sql(r, m, *m.down));
  BUNDLER_CHECK(script_allowed(r, m, d, *m.down, down));
  if (auto s = sandboxed(d, down); !s) return fail(refused(r, m, "down '" + *m.down + "' fails after up", s.error()));
  BUNDLER_TRY(std::string after, schema(r, m, d));
  if (after != before)
    return fail(refused(r, m,
                        "down '" + *m.down + "' does not undo up '" + m.up + "': the schema differs" +
                            schema_difference(before, after)));
  if (auto s = sandboxed(d, up); !s)
    return fail(refused(r, m, "up '" + m.up + "' fails when run again after down", s.error()));
  return {};
}

}  // namespace

Status check_migrations(const Recipe& r) {
  if (r.migrations.empty()) return {};
  BUNDLER_TRY(ScratchDir dir, ScratchDir::create());
  // One scratch database per logical database, opened at its first migration; one fixture each.
  std::optional<db::ScratchServer> server;  // stopped and removed last, after every target let go
  std::map<std::string, std::unique_ptr<db::Target>> scratch;
  std::map<std::string, std::string> fixture_of;
  for (const auto& m : r.migrations) {
    if (m.fixture) {
      auto [it, fresh] = fixture_of.emplace(m.database, *m.fixture);
      if (!fresh && it->second != *m.fixture)
        return fail(refused(r, m,
                            "names fixture '" + *m.fixture +
                                "' but an earlier migration of the same database "
                                "names '" +
                                it->second + "': one starting database per database"));
      if (fresh && scratch.count(m.database))
        return fail(refused(r, m,
                            "names a fixture, but earlier migrations of the same database ran without one: "
                            "put the fixture on the first migration"));
    }
    auto it = scratch.find(m.database);
    if (it == scratch.end()) {
      BUNDLER_TRY(auto spec, scratch_spec(r, m, dir.path(), scratch.size(), server));
      BUNDLER_TRY(auto d, open_scratch(r, m, spec));
      it = scratch.emplace(m.database, std::move(d)).first;
    }
    BUNDLER_CHECK(round_trip(r, m, *it->second));
  }
  return {};
}

}  // namespace airlock::bundler

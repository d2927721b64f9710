// The factory of database targets: one row per kind.
#include "core/db/target.hpp"

#include "core/db/postgres_target.hpp"
#include "core/db/sqlite_target.hpp"

namespace airlock::db {
namespace {

struct Kind {
  const char* name;
  std::unique_ptr<Target> (*make)(const TargetSpec&);
  Status (*check)(const TargetSpec&, const std::string& key);
};

Status nothing_to_check(const TargetSpec&, const std::string&) { return {}; }

constexpr Kind kKinds[] = {
    {"sqlite", make_sqlite_target, nothing_to_check},
    {"postgres", make_postgres_target, check_postgres_spec},
};

}  // namespace

const std::vector<std::string>& target_kinds() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& k : kKinds) out.emplace_back(k.name);
    return out;
  }();
  return names;
}

Status check_spec(const TargetSpec& spec, const std::string& key) {
  for (const auto& k : kKinds)
    if (spec.kind == k.name) return k.check(spec, key.empty() ? "databases." + spec.name + ".connection" : key);
  return {};
}

Result<std::unique_ptr<Target>> open_target(const TargetSpec& spec) {
  for (const auto& k : kKinds) {
    if (spec.kind != k.name) continue;
    if (auto s = check_spec(spec); !s) return fail(s.error());
    return k.make(spec);
  }
  std::string known;
  for (const auto& n : target_kinds()) known += (known.empty() ? "" : ", ") + n;
  return fail(ErrorClass::usage,
              "database '" + spec.name + "': unknown kind '" + spec.kind + "' (known kinds: " + known + ")");
}

}  // namespace airlock::db

// The site's own files under attack or in unusual shapes: permissions and owners kept through an
// apply, a rollback and a restore; a private state folder whatever the umask; targets that are
// symlinks; a config delta whose result airlock could not read back; a re-sealed snapshot whose
// meta.json names paths outside its folder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "core/crypto/hash.hpp"
#include "tests/applier/fixture.hpp"
#include "tests/support/perms.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;
using nlohmann::json;

const auto* const kTmpfs = ::testing::AddGlobalTestEnvironment(new TmpfsEnvironment);

constexpr uid_t kServiceUid = 12345;
constexpr gid_t kServiceGid = 12346;

bool root() { return ::geteuid() == 0; }

// Gives `p` the mode and, when we are root, the service's owner; returns a checker of both.
void own(const fs::path& p, unsigned mode) {
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  if (root()) {
    ASSERT_EQ(::chown(p.c_str(), kServiceUid, kServiceGid), 0);
  }
}
void expect_owned(const fs::path& p, unsigned mode, const std::string& when) {
  EXPECT_EQ(mode_of(p), mode) << p << " " << when << ": mode " << std::oct << mode_of(p);
  if (!root()) return;  // only root can give files away: the owner part needs it
  EXPECT_EQ(stat_of(p).st_uid, kServiceUid) << p << " " << when;
  EXPECT_EQ(stat_of(p).st_gid, kServiceGid) << p << " " << when;
}

TEST(SiteFiles, ConfigKeepsModeAndOwnerThroughADeltaAndARollback) {
  SiteDir s;
  own(s.topology, 0600);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  EXPECT_NE(slurp(s.topology).find("fast"), std::string::npos) << "the delta was written";
  expect_owned(s.topology, 0600, "after the delta");
  auto r = applier::apply(s.site, bundles().v120, quiet_env());  // fails its check: rolled back
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  expect_owned(s.topology, 0600, "after the rollback");
}

// 1.2.0 with an irreversible migration that breaks the items check: its rollback restores the
// database from the snapshot.
std::string irreversible_120(const TempDir& b) {
  std::string recipe =
      write_recipe(b, "irr", "min_installed = \"1.1.0\"\nrollback_to = \"1.2.0\"\n", "1.2.0",
                   "[[migrations]]\nid = \"0003_rename\"\ndatabase = \"main\"\nup = \"m/up.sql\"\nirreversible = true\n"
                   "fixture = \"m/main.sql\"\n",
                   {{"m/up.sql", "ALTER TABLE items RENAME TO items_v2;\n"},
                    {"m/main.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"}});
  return build_bundle(recipe, (b / "irr.tar.zst").string());
}

// The failed release's table is gone from the real database, the items are back.
void expect_items_back(const fs::path& db) {
  auto d = db::Database::open(db.string(), db::OpenMode::read_only);
  ASSERT_TRUE(d);
  auto failed = d->query("SELECT count(*) FROM sqlite_schema WHERE name = 'items_v2'");
  ASSERT_TRUE(failed);
  EXPECT_EQ(std::get<std::int64_t>((*failed)[0][0]), 0) << "the failed release's table is still there";
  EXPECT_TRUE(d->query("SELECT count(*) FROM items"));
}

TEST(SiteFiles, DatabaseRestoredByARollbackKeepsModeAndOwner) {
  TempDir b;
  std::string bundle = irreversible_120(b);
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  own(s.db, 0640);
  auto r = applier::apply(s.site, bundle, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  auto d = db::Database::open(s.db, db::OpenMode::read_only);
  EXPECT_TRUE(d->query("SELECT count(*) FROM items")) << "restored from the snapshot";
  expect_owned(s.db, 0640, "after the restore");
  // The operator's restore replaces it the same way.
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  ASSERT_TRUE(applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env()));
  expect_owned(s.db, 0640, "after snapshot restore");
}

// Every folder under the state folder's snapshots 0700, every file 0600; the state folder 0700,
// state.db 0600.
void expect_private_state(const SiteDir& s, const std::string& when) {
  EXPECT_EQ(mode_of(s.state), 0700u) << when;
  EXPECT_EQ(mode_of(s.state + "/state.db"), 0600u) << when;
  const fs::path snaps = s.state + "/snapshots";
  EXPECT_EQ(mode_of(snaps), 0700u) << when;
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(snaps)) {
    if (e.is_directory()) {
      EXPECT_EQ(mode_of(e.path()), 0700u) << e.path() << " " << when;
    } else {
      EXPECT_EQ(mode_of(e.path()), 0600u) << e.path() << " " << when;
      ++files;
    }
  }
  EXPECT_GE(files, 4) << "db, config, meta.json, SEALED";
}

TEST(SiteFiles, StateFolderAndSnapshotsArePrivateWhateverTheUmask) {
  for (mode_t mask : {mode_t{022}, mode_t{0}}) {
    Umask m(mask);
    SiteDir s;
    ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
    auto snap = applier::snapshot_create(s.site, quiet_env());
    ASSERT_TRUE(snap) << snap.error().what();
    expect_private_state(s, "umask " + std::to_string(mask));
  }
  // A state folder made earlier with wider modes is narrowed by the next command.
  SiteDir s;
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  ASSERT_EQ(::chmod(s.state.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((s.state + "/state.db").c_str(), 0644), 0);
  ASSERT_TRUE(applier::status(s.site));
  EXPECT_EQ(mode_of(s.state), 0700u);
  EXPECT_EQ(mode_of(s.state + "/state.db"), 0600u);
}

// data/main.db and topology.toml as symlinks into another folder (a common layout: the service's
// files live elsewhere). Before, migrations wrote through the link but write-backs replaced the
// link with a regular file: after a rollback the real database still held the failed release's
// table while the site reported healthy.
TEST(SiteFiles, SymlinkedTargetsStayLinksAndTheirFilesAreTheOnesChanged) {
  SiteDir s;
  const fs::path real = s.dir / "real";
  fs::create_directories(real);
  fs::rename(s.db, real / "main.db");
  fs::rename(s.topology, real / "topology.toml");
  fs::create_symlink("real/main.db", s.db);
  fs::create_symlink(real / "topology.toml", s.topology);

  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  EXPECT_TRUE(fs::is_symlink(s.db));
  EXPECT_TRUE(fs::is_symlink(s.topology));
  const std::string topo_110 = slurp(real / "topology.toml");
  EXPECT_NE(topo_110.find("fast"), std::string::npos) << topo_110;

  auto r = applier::apply(s.site, bundles().v120, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_TRUE(fs::is_symlink(s.db)) << "the database link was replaced by a file";
  EXPECT_TRUE(fs::is_symlink(s.topology)) << "the config link was replaced by a file";
  expect_items_back(real / "main.db");
  EXPECT_EQ(slurp(real / "topology.toml"), topo_110);

  // A rollback that restores the database from the snapshot writes the real file too.
  TempDir b;
  r = applier::apply(s.site, irreversible_120(b), quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_TRUE(fs::is_symlink(s.db)) << "the database link was replaced by a file";
  expect_items_back(real / "main.db");
  EXPECT_EQ(slurp(real / "topology.toml"), topo_110);

  // status shows where airlock reads and writes.
  auto st = applier::status(s.site);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->databases.at("main"), fs::canonical(real / "main.db").string());
  EXPECT_EQ(st->configs.at("topology"), fs::canonical(real / "topology.toml").string());
  EXPECT_EQ(st->state_dir, fs::canonical(s.state).string());
}

TEST(SiteFiles, TargetsNotCreatedYetResolveThroughTheirLinkOrParent) {
  TempDir d;
  fs::create_directories(d / "realsite" / "srv");
  fs::create_directory_symlink("realsite", d / "site");
  // A link to a database the first install creates, and a target whose folder is not there yet.
  fs::create_symlink("srv/new.db", d / "realsite" / "main.db");
  spit(d / "site" / "site.toml",
       "[site]\nname = \"t\"\nproduct = \"demo\"\nstate_dir = \"state\"\ntrust_root = \"trust.toml\"\n"
       "[databases]\nmain = \"main.db\"\nother = \"data/other.db\"\n[config]\nloop = \"loop.toml\"\n");
  fs::create_symlink("loop.toml", d / "realsite" / "loop.toml");
  auto looped = applier::load_site((d / "site" / "site.toml").string());
  ASSERT_FALSE(looped);
  EXPECT_EQ(looped.error().cls(), ErrorClass::usage);
  EXPECT_NE(looped.error().what().find("config.loop"), std::string::npos) << looped.error().what();

  fs::remove(d / "realsite" / "loop.toml");
  auto site = applier::load_site((d / "site" / "site.toml").string());
  ASSERT_TRUE(site) << site.error().what();
  const std::string base = fs::canonical(d / "realsite").string();
  EXPECT_EQ(site->databases.at("main").location, base + "/srv/new.db");
  EXPECT_EQ(site->databases.at("other").location, base + "/data/other.db");
  EXPECT_EQ(site->configs.at("loop"), base + "/loop.toml");
  EXPECT_EQ(site->state_dir, base + "/state");
  EXPECT_EQ(site->trust_root, base + "/trust.toml");
}

// The re-serialized config would hold a 47-part dotted key, which airlock's reader refuses: the
// delta is refused while planning (33), naming the target, and nothing is written.
TEST(SiteFiles, ConfigDeltaWhoseResultCouldNotBeReadBackIsRefusedBeforeAnyWrite) {
  std::string outer = "h0", inner = "x0", key = "k0";
  for (int i = 1; i < 16; ++i) {
    outer += ".h" + std::to_string(i);
    inner += ".x" + std::to_string(i);
  }
  for (int i = 1; i < 31; ++i) key += ".k" + std::to_string(i);
  TempDir b;
  std::string recipe =
      write_recipe(b, "deep", "", "1.1.0", "[[config]]\ntarget = \"topology\"\npatch = \"c/topology.patch.toml\"\n",
                   {{"c/topology.patch.toml", "[remove]\nlegacy = true\n"}});
  std::string bundle = build_bundle(recipe, (b / "deep.tar.zst").string());
  SiteDir s(SiteDir::kItemsCheck);
  spit(s.topology, std::string(kTopology) + "[" + outer + "]\nv = 1\n[" + outer + "." + inner + "]\n" + key + " = 1\n");
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundle, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find("topology"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("more than 32 parts"), std::string::npos) << r.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_FALSE(fs::exists(s.state + "/snapshots") && !fs::is_empty(s.state + "/snapshots"));
}

// Rewrites a sealed snapshot's meta.json with `edit` and seals it again, as anyone who can write
// the state folder can.
void reseal(const std::string& dir, const std::function<void(json&)>& edit) {
  json meta = json::parse(slurp(dir + "/meta.json"));
  edit(meta);
  const std::string text = meta.dump(2) + "\n";
  spit(dir + "/meta.json", text);
  spit(dir + "/SEALED", to_hex(sha256(text)) + "\n");
}

json& item(json& meta, const std::string& kind) {
  for (auto& i : meta["items"])
    if (i["kind"] == kind) return i;
  throw std::runtime_error("no item of kind " + kind);
}

TEST(SiteFiles, ResealedSnapshotNamingPathsOutsideItsFolderIsRefused) {
  const char* kNoItemsCheck = "[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n";
  SiteDir s(kNoItemsCheck);
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, quiet_env()));
  auto snap = applier::snapshot_create(s.site, quiet_env());
  ASSERT_TRUE(snap) << snap.error().what();
  const std::string dir = s.state + "/snapshots/" + snap->id;
  // The system file the attack wants in the site's config (here one of our own, outside the
  // snapshot folder), and where it sits relative to the folder.
  const fs::path outside = s.dir / "hostname";
  spit(outside, "attacker-chosen\n");
  const std::string up = "../../../hostname";
  const std::string outside_sha = to_hex(sha256(slurp(outside)));
  const std::string pristine = slurp(dir + "/meta.json");
  const std::string before = s.observable();

  struct Case {
    const char* name;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"file climbs out", [&](json& m) { item(m, "config")["file"] = up, item(m, "config")["sha256"] = outside_sha; }},
      {"file absolute",
       [&](json& m) { item(m, "config")["file"] = outside.string(), item(m, "config")["sha256"] = outside_sha; }},
      {"source elsewhere", [&](json& m) { item(m, "config")["source"] = outside.string(); }},
      {"database source elsewhere", [&](json& m) { item(m, "db")["source"] = "/etc/hostname"; }},
      {"unknown kind", [&](json& m) { item(m, "config")["kind"] = "file"; }},
      {"id climbs out", [&](json& m) { m["id"] = "../.."; }},
  };
  for (const auto& c : cases) {
    spit(dir + "/meta.json", pristine);
    reseal(dir, c.edit);
    auto r = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
    EXPECT_FALSE(r) << c.name << ": restored";
    EXPECT_EQ(s.observable(), before) << c.name;
    EXPECT_EQ(slurp(outside), "attacker-chosen\n") << c.name;
  }
  // A file in the folder that is a symlink out of it.
  spit(dir + "/meta.json", pristine);
  fs::remove(dir + "/config-topology");
  fs::create_symlink(outside, dir + "/config-topology");
  reseal(dir, [&](json& m) { item(m, "config")["sha256"] = outside_sha; });
  auto r = applier::snapshot_restore(s.site, snap->id, applier::Force::yes, quiet_env());
  EXPECT_FALSE(r) << "followed a symlink out of the snapshot";
  EXPECT_EQ(s.observable(), before);
  // An id from the command line that climbs out.
  EXPECT_FALSE(applier::snapshot_restore(s.site, "../snapshots/" + snap->id, applier::Force::yes, quiet_env()));
}

}  // namespace
}  // namespace airlock::test

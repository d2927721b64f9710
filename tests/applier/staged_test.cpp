// Staged releases (applier/staged.hpp): kept between runs, checked again before use, pruned.
// Real bundles from the bundler, a real site folder and state.db.
#include "applier/staged.hpp"

#include <fstream>

#include "core/error.hpp"
#include "core/model/trust.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

// A clock that moves one minute per call, so every staged release has its own staged-at time.
applier::Env ticking_env() {
  applier::Env env = quiet_env();
  auto t = std::make_shared<std::int64_t>(now_utc().unix_seconds);
  env.now = [t] { return Timestamp{(*t += 60), 0, 0}; };
  return env;
}

std::string staged_dir(const SiteDir& s, const std::string& sha) { return s.state + "/staged/" + sha; }

// The first payload file of a staged release, by name.
std::string first_payload_file(const SiteDir& s, const std::string& sha) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(staged_dir(s, sha) + "/payload"))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files.empty() ? "" : files.front();
}

applier::StagedRelease stage_ok(const SiteDir& s, const std::string& bundle, const applier::Env& env) {
  auto r = applier::stage(s.site, bundle, env);
  EXPECT_TRUE(r) << (r ? "" : r.error().what());
  return r ? r->release : applier::StagedRelease{};
}

TEST(StagedRelease, SurvivesSiteOpenAndIsAppliedFromTheStore) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  EXPECT_EQ(rel.version, "1.1.0");
  EXPECT_EQ(rel.channel, "recommended");
  EXPECT_FALSE(rel.critical);
  EXPECT_FALSE(rel.created.empty());
  EXPECT_EQ(rel.sha256, to_hex(sha256(slurp(bundles().v110))));
  EXPECT_TRUE(fs::exists(staged_dir(s, rel.sha256) + "/manifest.toml"));
  EXPECT_EQ(slurp(s.topology), kTopology);  // staging changes nothing of the site's
  // Another command opens the site (and sweeps what runs leave behind): the release stays.
  auto rec = applier::recover(s.site, env);
  ASSERT_TRUE(rec) << rec.error().what();
  auto list = applier::staged_list(s.site);
  ASSERT_TRUE(list) << list.error().what();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().sha256, rel.sha256);
  EXPECT_TRUE(list->front().problem.empty()) << list->front().problem;

  auto rep = applier::apply_staged(s.site, rel.sha256.substr(0, 12), env);
  ASSERT_TRUE(rep) << rep.error().what();
  EXPECT_EQ(rep->outcome, applier::Outcome::applied);
  EXPECT_EQ(rep->to_version, "1.1.0");
  EXPECT_EQ(s.pointer(), "releases/1.1.0");
  EXPECT_FALSE(fs::exists(staged_dir(s, rel.sha256)));  // installed: the staged copy is gone
}

TEST(StagedRelease, StagingTheSameBundleTwiceKeepsOne) {
  SiteDir s;
  const auto env = quiet_env();
  stage_ok(s, bundles().v110, env);
  auto again = applier::stage(s.site, bundles().v110, env);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_TRUE(again->already_staged);
  EXPECT_EQ(applier::staged_list(s.site)->size(), 1u);
}

TEST(StagedRelease, TamperedStagedFileIsRefusedNamingItAndNothingIsTouched) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  const std::string victim = first_payload_file(s, rel.sha256);
  ASSERT_FALSE(victim.empty());
  std::string bytes = slurp(victim);
  ASSERT_FALSE(bytes.empty());
  bytes[0] = static_cast<char>(bytes[0] ^ 1);  // same size: only the hash can tell
  spit(victim, bytes);
  const std::string before = s.observable();

  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().cls(), ErrorClass::integrity) << rep.error().what();
  const std::string rel_path = victim.substr((staged_dir(s, rel.sha256) + "/payload/").size());
  EXPECT_NE(rep.error().what().find("'" + rel_path + "'"), std::string::npos) << rep.error().what();
  EXPECT_EQ(s.observable(), before);
  EXPECT_FALSE(fs::exists(s.state + "/releases/1.1.0"));
  auto st = applier::status(s.site);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->installed, "");
  EXPECT_TRUE(fs::exists(staged_dir(s, rel.sha256)));  // refused, not removed: the operator decides
}

TEST(StagedRelease, MissingStagedFileIsRefused) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  const std::string victim = first_payload_file(s, rel.sha256);
  fs::remove(victim);
  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().cls(), ErrorClass::integrity) << rep.error().what();
  EXPECT_NE(rep.error().what().find("is missing"), std::string::npos) << rep.error().what();
}

TEST(StagedRelease, StagedFileReplacedByASymlinkIsNeverFollowed) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  const std::string victim = first_payload_file(s, rel.sha256);
  // A link to a file with the very bytes the manifest expects: only refusing links stops it.
  const std::string twin = (s.dir / "twin").string();
  fs::copy_file(victim, twin);
  fs::remove(victim);
  fs::create_symlink(twin, victim);
  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().cls(), ErrorClass::integrity) << rep.error().what();
  EXPECT_NE(rep.error().what().find("is a symbolic link"), std::string::npos) << rep.error().what();
  EXPECT_FALSE(fs::exists(s.state + "/releases/1.1.0"));
}

TEST(StagedRelease, KeyRevokedSinceStagingIsRefusedAtApply) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  // The site has since seen the demo key revoked (sticky revocation, spec §6).
  spit(s.state + "/revoked-keys", minisign::key_id_hex(demo_key().public_key().key_id) + "\n");
  const std::string before = s.observable();
  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().cls(), ErrorClass::not_authentic) << rep.error().what();
  EXPECT_EQ(s.observable(), before);
}

TEST(StagedRelease, TruncatedPartialIsSweptAtSiteOpen) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  // What a stage cut short by a power cut leaves: a copy of the release, one file truncated.
  const std::string partial = s.state + "/staged/20260225T000000Z-1-0.partial";
  fs::copy(staged_dir(s, rel.sha256), partial, fs::copy_options::recursive);
  const std::string victim = first_payload_file(s, rel.sha256);
  const std::string cut = partial + victim.substr(staged_dir(s, rel.sha256).size());
  fs::resize_file(cut, fs::file_size(cut) / 2);
  auto rec = applier::recover(s.site, env);
  ASSERT_TRUE(rec) << rec.error().what();
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_TRUE(fs::exists(staged_dir(s, rel.sha256) + "/record.json"));
  EXPECT_EQ(applier::staged_list(s.site)->size(), 1u);
}

TEST(StagedRelease, RetentionRemovesTheOldest) {
  SiteDir s;
  std::string text = slurp(s.site);
  text.insert(text.find("\n\n[databases]"), "\nstaged_keep = 2");
  spit(s.site, text);
  TempDir b;
  std::vector<std::string> shas;
  const auto env = ticking_env();
  for (const char* v : {"0.1.0", "0.2.0", "0.3.0"}) {
    const std::string bundle = (b / (std::string(v) + ".tar.zst")).string();
    build_bundle(write_recipe(b, v, "", v, "", {}), bundle);
    auto r = applier::stage(s.site, bundle, env);
    ASSERT_TRUE(r) << r.error().what();
    shas.push_back(r->release.sha256);
    if (shas.size() == 3) {
      EXPECT_EQ(r->removed, std::vector<std::string>{shas[0]});
    }
  }
  auto list = applier::staged_list(s.site);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, "0.2.0");
  EXPECT_EQ((*list)[1].version, "0.3.0");
  EXPECT_FALSE(fs::exists(staged_dir(s, shas[0])));
}

TEST(StagedRelease, StagedKeepMustBeAnIntegerInRange) {
  const std::string head = "[site]\nname = \"x\"\nproduct = \"demo\"\nstate_dir = \"st\"\ntrust_root = \"t\"\n";
  auto ok = applier::parse_site(head + "staged_keep = 5\n", "/tmp/site.toml");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->staged_keep, 5);
  EXPECT_EQ(applier::parse_site(head, "/tmp/site.toml")->staged_keep, 3);
  for (const char* bad : {"staged_keep = \"3\"\n", "staged_keep = 0\n", "staged_keep = 101\n", "staged_keep = 2.5\n"}) {
    auto r = applier::parse_site(head + bad, "/tmp/site.toml");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << bad;
    EXPECT_NE(r.error().what().find("staged_keep"), std::string::npos) << r.error().what();
  }
}

TEST(StagedRelease, RemoveByPrefix) {
  SiteDir s;
  const auto env = quiet_env();
  const auto rel = stage_ok(s, bundles().v110, env);
  auto bad = applier::staged_remove(s.site, "abc", env);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().cls(), ErrorClass::usage);
  auto r = applier::staged_remove(s.site, rel.sha256.substr(0, 8), env);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->version, "1.1.0");
  EXPECT_TRUE(applier::staged_list(s.site)->empty());
  EXPECT_FALSE(fs::exists(staged_dir(s, rel.sha256)));
}

TEST(StagedRelease, TrustUpdateOfAStagedReleaseIsCheckedAndInstalled) {
  SiteDir s("[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n");
  const auto env = quiet_env();
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, env));
  auto text = read_file(repo("keys/demo-hq2.key"), 4096);
  ASSERT_TRUE(text);
  auto b = minisign::parse_secret_key_file(*text, [] { return Result<std::string>(std::string()); });
  ASSERT_TRUE(b);
  TrustRoot next;
  next.serial = 3;
  next.keys.push_back({"key-a", demo_key().public_key(), std::nullopt, std::nullopt, false});
  next.keys.push_back({"key-b", b->public_key(), std::nullopt, std::nullopt, false});
  const std::string next_text = render_trust_root(next);
  TempDir dir;
  bundler::BuildRequest req;
  req.recipe_path =
      write_recipe(dir, "t", "", "1.2.0", "[trust_update]\npath = \"t/next.toml\"\n", {{"t/next.toml", next_text}});
  req.keys = {demo_key(), *b};
  req.out_path = (dir / "t.tar.zst").string();
  ASSERT_TRUE(bundler::build(req));
  const auto rel = stage_ok(s, req.out_path, env);
  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_TRUE(rep) << rep.error().what();
  EXPECT_EQ(rep->outcome, applier::Outcome::applied);
  EXPECT_EQ(slurp(s.dir / "trust.toml"), next_text);
}

TEST(StagedRelease, TrustUpdateNeedingAKeyRevokedSinceStagingIsRefused) {
  SiteDir s("[[checks]]\nname = \"alive\"\nkind = \"exec\"\nrun = \"true\"\n");
  const auto env = quiet_env();
  ASSERT_TRUE(applier::apply(s.site, bundles().v110, env));
  auto text = read_file(repo("keys/demo-hq2.key"), 4096);
  ASSERT_TRUE(text);
  auto b = minisign::parse_secret_key_file(*text, [] { return Result<std::string>(std::string()); });
  ASSERT_TRUE(b);
  TrustRoot now, next;  // the site trusts A and B; the release's root trusts A alone
  now.serial = 2;
  now.keys.push_back({"key-a", demo_key().public_key(), std::nullopt, std::nullopt, false});
  now.keys.push_back({"key-b", b->public_key(), std::nullopt, std::nullopt, false});
  next.serial = 3;
  next.keys.push_back(now.keys.front());
  spit(s.dir / "trust.toml", render_trust_root(now));
  TempDir dir;
  bundler::BuildRequest req;
  req.recipe_path = write_recipe(dir, "t", "", "1.2.0", "[trust_update]\npath = \"t/next.toml\"\n",
                                 {{"t/next.toml", render_trust_root(next)}});
  req.keys = {demo_key(), *b};
  req.out_path = (dir / "t.tar.zst").string();
  ASSERT_TRUE(bundler::build(req));
  const auto rel = stage_ok(s, req.out_path, env);
  // A is revoked since: B still makes the release authentic, but the new root rests on A alone.
  spit(s.state + "/revoked-keys", minisign::key_id_hex(demo_key().public_key().key_id) + "\n");
  auto rep = applier::apply_staged(s.site, rel.sha256, env);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().cls(), ErrorClass::not_authentic) << rep.error().what();
  EXPECT_NE(rep.error().what().find("new trust root"), std::string::npos) << rep.error().what();
  EXPECT_EQ(slurp(s.dir / "trust.toml"), render_trust_root(now));
}

TEST(StagedRelease, StagingARefusedBundleKeepsNothing) {
  SiteDir s;
  const auto env = quiet_env();
  auto applied = applier::apply(s.site, bundles().v110, env);
  ASSERT_TRUE(applied) << applied.error().what();
  // The installed release: a policy refusal, as apply would give.
  auto r = applier::stage(s.site, bundles().v110, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_TRUE(applier::staged_list(s.site)->empty());
  for (const auto& e : fs::directory_iterator(s.state + "/staged")) ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace airlock::test

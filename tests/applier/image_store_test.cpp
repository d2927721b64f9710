// The site image store with real layouts (umoci) and real readers (skopeo, umoci unpack): an apply
// moves each blob into the store once and keeps no copy in the release's payload; the current
// release's images are tagged by full ref, earlier kept releases' untagged; a rollback re-tags the
// previous release without importing anything; `images verify` finds a damaged blob; gc keeps
// what a rollback needs; a crash at each image crash point converges to the old or the new state.
// A delta applies on the store its base left (reusing the stored blobs, rollback intact) and is
// refused before anything changes (33) when a blob it leaves out is missing or damaged there, or
// (13) on a site with nothing installed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "applier/applier.hpp"
#include "applier/image_store.hpp"
#include "applier/plan.hpp"
#include "applier/staged.hpp"
#include "core/blob/store.hpp"
#include "tests/applier/fixture.hpp"
#include "tests/support/oci_layout.hpp"

namespace airlock::test {
namespace {

using applier::Outcome;

constexpr const char* kApi110 = "registry.example.org/demo/api:1.1.0";
constexpr const char* kWeb110 = "registry.example.org/demo/web:1.1.0";
constexpr const char* kApi111 = "registry.example.org/demo/api:1.1.1";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string image(const std::string& ref, const std::string& digest, const std::string& layout) {
  return "[[images]]\nref = \"" + ref + "\"\ndigest = \"" + digest + "\"\nlayout = \"" + layout + "\"\n";
}

std::string migrations() {
  std::string out;
  for (const char* id : {"0001_create_items", "0002_add_price"})
    out += std::string("[[migrations]]\nid = \"") + id + "\"\ndatabase = \"main\"\nup = \"" +
           repo("manifests/example/migrations/") + id + ".up.sql\"\ndown = \"" + repo("manifests/example/migrations/") +
           id + ".down.sql\"\n";
  return out;
}

// 1.1.0 carries api and web (sharing a base layer) and the demo's migrations; 1.1.1 carries a new
// api (the same base layer and one of its own).
struct ImageBundles {
  TempDir dir;
  std::string v110, v111, d111, api110, web110, api111;
  std::set<std::string> blobs110, blobs111;
  ImageBundles() {
    const fs::path l = dir / "layouts";
    api110 = make_oci_image(l / "api", "1.1.0", {{"base.txt", "base\n"}, {"api.txt", "api 1.1.0\n"}});
    web110 = make_oci_image(l / "web", "1.1.0", {{"base.txt", "base\n"}, {"web.txt", "web 1.1.0\n"}});
    api111 = make_oci_image(l / "api", "1.1.1", {{"base.txt", "base\n"}, {"api.txt", "api 1.1.1\n"}});
    blobs110 = reached(l / "api", api110);
    auto w = reached(l / "web", web110);
    blobs110.insert(w.begin(), w.end());
    blobs111 = reached(l / "api", api111);
    v110 = build_bundle(write_recipe(dir, "r110", "", "1.1.0",
                                     migrations() + image(kApi110, api110, (l / "api").string()) +
                                         image(kWeb110, web110, (l / "web").string()),
                                     {}),
                        (dir / "demo-1.1.0.tar.zst").string());
    v111 = build_bundle(write_recipe(dir, "r111", "", "1.1.1", image(kApi111, api111, (l / "api").string()), {}),
                        (dir / "demo-1.1.1.tar.zst").string());
    // 1.1.1 as a delta against 1.1.0: the base layer stays out.
    d111 = build_bundle(
        write_recipe(dir, "d111", "", "1.1.1",
                     "[delta]\nbase = \"" + v110 + "\"\n" + image(kApi111, api111, (l / "api").string()), {}),
        (dir / "demo-1.1.1-delta.tar.zst").string());
  }
  static std::set<std::string> reached(const fs::path& layout, const std::string& digest) {
    auto m = nlohmann::json::parse(slurp(layout / "blobs/sha256" / digest.substr(7)));
    std::set<std::string> out{digest, m["config"]["digest"].get<std::string>()};
    for (const auto& x : m["layers"]) out.insert(x["digest"].get<std::string>());
    return out;
  }
};

ImageBundles& image_bundles() {
  static ImageBundles b;
  return b;
}

std::string store_of(const SiteDir& s) { return s.state + "/images"; }

std::set<std::string> stored(const SiteDir& s) {
  auto v = layout_blobs(store_of(s));
  return {v.begin(), v.end()};
}

// skopeo copies the image by its tag (checking every digest) and umoci unpacks it.
::testing::AssertionResult readable(const SiteDir& s, const std::string& ref, const std::string& file,
                                    const std::string& content) {
  TempDir out;
  auto c = run("skopeo copy --quiet " + q("oci:" + store_of(s) + ":" + ref) + " " +
               q("oci:" + (out / "oci").string() + ":t"));
  if (c.status != 0) return ::testing::AssertionFailure() << "skopeo copy " << ref << ": " << c.output;
  auto u = run("umoci unpack --rootless --image " + q((out / "oci").string() + ":t") + " " + q(out / "bundle"));
  if (u.status != 0) return ::testing::AssertionFailure() << "umoci unpack " << ref << ": " << u.output;
  if (slurp(out / "bundle/rootfs" / file) != content) return ::testing::AssertionFailure() << file << " differs";
  return ::testing::AssertionSuccess();
}

std::map<std::string, std::string> tagged(const SiteDir& s) {  // ref -> release
  std::map<std::string, std::string> out;
  const auto list = applier::images_list(s.site).value();
  for (const auto& i : list)
    if (i.tagged) out[i.ref] = i.release;
  return out;
}

bool applied(const SiteDir& s, const std::string& bundle) {
  auto r = applier::apply(s.site, bundle, quiet_env());
  EXPECT_TRUE(r) << (r ? "" : r.error().what());
  return r && r->outcome == Outcome::applied;
}

TEST(ImageStore, ApplyMovesEachBlobIntoTheStoreOnce) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  EXPECT_EQ(stored(s), b.blobs110) << "every needed blob once, nothing else";
  EXPECT_TRUE(fs::exists(s.state + "/releases/1.1.0/images/index.json"));
  EXPECT_FALSE(fs::exists(s.state + "/releases/1.1.0/images/blobs")) << "the kept payload holds no copy";
  EXPECT_TRUE(readable(s, kApi110, "api.txt", "api 1.1.0\n"));
  EXPECT_TRUE(readable(s, kWeb110, "web.txt", "web 1.1.0\n"));
  EXPECT_EQ(tagged(s), (std::map<std::string, std::string>{{kApi110, "1.1.0"}, {kWeb110, "1.1.0"}}));
}

TEST(ImageStore, EarlierReleasesStayUntaggedAndRollbackRetagsWithoutImporting) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  ASSERT_TRUE(applied(s, b.v111));
  EXPECT_EQ(tagged(s), (std::map<std::string, std::string>{{kApi111, "1.1.1"}}));
  std::map<std::string, std::string> all;
  const auto list = applier::images_list(s.site).value();
  for (const auto& i : list) all[i.ref] = i.release;
  EXPECT_EQ(all, (std::map<std::string, std::string>{{kApi110, "1.1.0"}, {kWeb110, "1.1.0"}, {kApi111, "1.1.1"}}));
  std::set<std::string> both = b.blobs110;
  both.insert(b.blobs111.begin(), b.blobs111.end());
  EXPECT_EQ(stored(s), both) << "gc after the apply kept what a rollback needs";
  EXPECT_TRUE(readable(s, kApi111, "api.txt", "api 1.1.1\n"));

  struct stat before {};
  ASSERT_EQ(::stat((store_of(s) + "/blobs/sha256/" + b.api110.substr(7)).c_str(), &before), 0);
  auto r = applier::rollback(s.site, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->outcome, Outcome::reverted);
  EXPECT_EQ(tagged(s), (std::map<std::string, std::string>{{kApi110, "1.1.0"}, {kWeb110, "1.1.0"}}));
  EXPECT_TRUE(readable(s, kApi110, "api.txt", "api 1.1.0\n"));
  struct stat after {};
  ASSERT_EQ(::stat((store_of(s) + "/blobs/sha256/" + b.api110.substr(7)).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "re-pointed, not imported again";
}

TEST(ImageStore, VerifyFindsADamagedBlob) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  auto ok = applier::images_verify(s.site);
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_TRUE(ok->problems.empty());
  EXPECT_EQ(ok->blobs, b.blobs110.size());
  auto m = nlohmann::json::parse(slurp(store_of(s) + "/blobs/sha256/" + b.web110.substr(7)));
  const std::string layer = m["layers"][1]["digest"].get<std::string>();
  const fs::path path = store_of(s) + "/blobs/sha256/" + layer.substr(7);
  std::string bytes = slurp(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  spit(path, bytes);
  auto bad = applier::images_verify(s.site);
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->problems.size(), 1u);
  EXPECT_EQ(bad->problems[0].digest, layer);
}

TEST(ImageStore, GcRemovesOnlyWhatNoKeptReleaseReaches) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  ASSERT_TRUE(applied(s, b.v111));
  auto store = blob::BlobStore::open(store_of(s)).value();
  const std::string orphan = store.put_bytes("left behind").value();
  auto dry = applier::images_gc(s.site, applier::DryRun::yes);
  ASSERT_TRUE(dry) << dry.error().what();
  EXPECT_EQ(dry->removed, std::vector<std::string>{orphan});
  EXPECT_TRUE(store.has(orphan).value());
  auto gc = applier::images_gc(s.site, applier::DryRun::no);
  ASSERT_TRUE(gc) << gc.error().what();
  EXPECT_EQ(gc->removed, std::vector<std::string>{orphan});
  EXPECT_FALSE(store.has(orphan).value());
  ASSERT_EQ(applier::rollback(s.site, quiet_env())->outcome, Outcome::reverted);
  EXPECT_TRUE(readable(s, kWeb110, "web.txt", "web 1.1.0\n"));
}

// After a crash at `point` and recover: the site is on `want` and the tagged images are exactly
// that release's, readable.
void crash_and_recover(bool preinstall, const std::string& point, const std::string& want) {
  auto& b = image_bundles();
  SiteDir s;
  if (preinstall) {
    ASSERT_TRUE(applied(s, b.v110));
  }
  const std::string bundle = preinstall ? b.v111 : b.v110;
  ASSERT_EQ(in_child(point, [&] { return bool(applier::apply(s.site, bundle, quiet_env())); }), 99) << point;
  auto rec = applier::recover(s.site, quiet_env());
  ASSERT_TRUE(rec) << point << ": " << rec.error().what();
  EXPECT_EQ(applier::status(s.site)->installed, want) << point;
  std::map<std::string, std::string> want_tags;
  if (want == "1.1.0") want_tags = {{kApi110, "1.1.0"}, {kWeb110, "1.1.0"}};
  if (want == "1.1.1") want_tags = {{kApi111, "1.1.1"}};
  if (fs::exists(store_of(s) + "/index.json")) {
    EXPECT_EQ(tagged(s), want_tags) << point;
    for (const auto& [ref, _] : want_tags)
      EXPECT_TRUE(readable(s, ref, ref == kWeb110 ? "web.txt" : "base.txt", ref == kWeb110 ? "web 1.1.0\n" : "base\n"))
          << point;
  } else {
    EXPECT_TRUE(want_tags.empty()) << point;
  }
  auto v = applier::images_verify(s.site);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->problems.empty()) << point;
}

TEST(ImageStore, ACrashAtEachImagePointConvergesToOldOrNew) {
  for (const char* point : {"after_image_import", "before_image_index", "after_pointer"}) {
    crash_and_recover(false, point, "");
    crash_and_recover(true, point, "1.1.0");
  }
  crash_and_recover(true, "before_record", "1.1.1");
}

TEST(ImageStore, ImagesHookGetsTheStoreAndTheRunningImagesAndItsFailureIsHard) {
  auto& b = image_bundles();
  SiteDir s(SiteDir::kItemsCheck,
            "[hooks]\nimages = { run = 'echo \"$AIRLOCK_TO|$AIRLOCK_IMAGES\" >> images.log; "
            "test -f \"$AIRLOCK_IMAGE_STORE/index.json\"' }\n\n");
  ASSERT_TRUE(applied(s, b.v110));
  ASSERT_TRUE(applied(s, b.v111));
  ASSERT_EQ(applier::rollback(s.site, quiet_env())->outcome, Outcome::reverted);
  const std::string api110 = std::string(kApi110) + "@" + b.api110, web110 = std::string(kWeb110) + "@" + b.web110;
  EXPECT_EQ(slurp(s.dir / "images.log"), "1.1.0|" + api110 + " " + web110 + "\n" + "1.1.1|" + kApi111 + "@" + b.api111 +
                                             "\n" + "1.1.0|" + api110 + " " + web110 + "\n");

  // A runtime that cannot load 1.1.1's images: the apply rolls back, and the hook runs again with
  // 1.1.0's images.
  SiteDir failing(SiteDir::kItemsCheck,
                  "[hooks]\nimages = { run = 'case \"$AIRLOCK_IMAGES\" in *api:1.1.1*) exit 4;; esac' }\n\n");
  ASSERT_TRUE(applied(failing, b.v110));
  auto r = applier::apply(failing.site, b.v111, quiet_env());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->outcome, Outcome::rolled_back);
  EXPECT_EQ(applier::status(failing.site)->installed, "1.1.0");
  EXPECT_EQ(tagged(failing), (std::map<std::string, std::string>{{kApi110, "1.1.0"}, {kWeb110, "1.1.0"}}));
}

// The base layer 1.1.1's delta leaves to the store.
std::string left_out_layer(const ImageBundles& b) {
  auto m = nlohmann::json::parse(slurp(b.dir / "layouts/api/blobs/sha256" / b.api111.substr(7)));
  return m["layers"][0]["digest"].get<std::string>();
}

// What a refused apply must leave as it was: the database, config and pointer, the installed
// release, and every file of the state folder but state.db (whose history records the refusal).
std::string site_state(const SiteDir& s) {
  std::string out = s.observable() + "\n--installed--\n" + applier::status(s.site)->installed + "\n";
  for (const auto& e : fs::recursive_directory_iterator(s.state)) {
    const std::string rel = fs::relative(e.path(), s.state).string();
    if (rel.starts_with("state.db") || rel.starts_with("lock") || rel.starts_with("staging")) continue;
    out += rel + (e.is_regular_file() ? "=" + slurp(e.path()) : "") + "\n";
  }
  return out;
}

TEST(DeltaImages, ADeltaAppliesOnTheStoreItsBaseLeftAndRollsBack) {
  auto& b = image_bundles();
  ASSERT_LT(fs::file_size(b.d111), fs::file_size(b.v111));
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  struct stat before {};
  const std::string layer = store_of(s) + "/blobs/sha256/" + left_out_layer(b).substr(7);
  ASSERT_EQ(::stat(layer.c_str(), &before), 0);
  ASSERT_TRUE(applied(s, b.d111));
  EXPECT_EQ(tagged(s), (std::map<std::string, std::string>{{kApi111, "1.1.1"}}));
  EXPECT_TRUE(readable(s, kApi111, "api.txt", "api 1.1.1\n"));
  EXPECT_TRUE(readable(s, kApi111, "base.txt", "base\n")) << "the layer it left out, from the store";
  struct stat after {};
  ASSERT_EQ(::stat(layer.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the stored layer is reused, not replaced";
  std::set<std::string> both = b.blobs110;
  both.insert(b.blobs111.begin(), b.blobs111.end());
  EXPECT_EQ(stored(s), both) << "gc after the apply kept what the delta and a rollback need";
  auto v = applier::images_verify(s.site);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->problems.empty());

  ASSERT_EQ(applier::rollback(s.site, quiet_env())->outcome, Outcome::reverted);
  EXPECT_TRUE(readable(s, kApi110, "api.txt", "api 1.1.0\n"));
  EXPECT_TRUE(readable(s, kWeb110, "web.txt", "web 1.1.0\n"));
}

// A missing and a damaged stored blob: refused (33) naming the blob, and `apply --dry-run` says so.
void refused_for(const std::function<void(const std::string& path)>& harm, const std::string& says) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  const std::string digest = left_out_layer(b);
  harm(store_of(s) + "/blobs/sha256/" + digest.substr(7));
  const std::string before = site_state(s);
  auto plan = applier::plan_apply(s.site, b.d111, quiet_env());
  ASSERT_TRUE(plan) << plan.error().what();
  EXPECT_EQ(plan->blocked, std::optional<ErrorClass>(ErrorClass::preflight));
  ASSERT_FALSE(plan->blockers.empty());
  EXPECT_NE(plan->blockers.back().find(digest), std::string::npos) << plan->blockers.back();
  auto r = applier::apply(s.site, b.d111, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find(digest + " " + says), std::string::npos) << r.error().what();
  EXPECT_EQ(site_state(s), before) << "nothing changed";
  ASSERT_TRUE(applied(s, b.v111)) << "the full bundle of the same release still applies";
  EXPECT_TRUE(readable(s, kApi111, "base.txt", "base\n"));
}

TEST(DeltaImages, AMissingStoredBlobIsRefusedBeforeAnythingChanges) {
  refused_for([](const std::string& path) { fs::remove(path); }, "missing");
}

TEST(DeltaImages, ADamagedStoredBlobIsRefusedBeforeAnythingChanges) {
  refused_for(
      [](const std::string& path) {
        std::string bytes = slurp(path);
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);  // same size
        fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
        spit(path, bytes);
      },
      "damaged");
}

TEST(DeltaImages, ADeltaOnASiteWithNothingInstalledIs13) {
  auto& b = image_bundles();
  SiteDir s;
  auto plan = applier::plan_apply(s.site, b.d111, quiet_env());
  ASSERT_TRUE(plan) << plan.error().what();
  EXPECT_EQ(plan->blocked, std::optional<ErrorClass>(ErrorClass::policy));
  auto r = applier::apply(s.site, b.d111, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy) << r.error().what();
  EXPECT_NE(r.error().what().find("nothing installed"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(store_of(s)));
}

// A staged delta keeps what it leaves out: gc after another apply must not take it.
TEST(DeltaImages, GcKeepsTheBlobsAStagedDeltaLeavesToTheStore) {
  auto& b = image_bundles();
  SiteDir s;
  ASSERT_TRUE(applied(s, b.v110));
  ASSERT_TRUE(applier::stage(s.site, b.d111, quiet_env()));
  // Drop 1.1.0 from the index's reach: a gc now would remove its blobs, unless a staged release
  // needs them.
  const std::string release = s.state + "/releases/1.1.0/images/index.json";
  const std::string index = slurp(release);
  spit(release, "{\"schemaVersion\":2,\"manifests\":[]}");
  auto gc = applier::images_gc(s.site, applier::DryRun::yes);
  spit(release, index);
  ASSERT_TRUE(gc) << gc.error().what();
  EXPECT_EQ(std::count(gc->removed.begin(), gc->removed.end(), left_out_layer(b)), 0) << "kept for the staged delta";
  EXPECT_FALSE(gc->removed.empty()) << "what only 1.1.0 reached would go";
}

}  // namespace
}  // namespace airlock::test

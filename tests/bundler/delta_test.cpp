// Delta bundles built against a real full bundle (layouts made by umoci): the delta leaves out
// the layers and configs the base's images reach, carries every manifest and the new layers, is
// smaller, says `[delta] base = <the base's version>`, reports what it saved, and is
// reproducible; a [delta] recipe without a base bundle, and a base that is not a bundle, are
// refused (20).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "bundler/bundler.hpp"
#include "bundler/delta.hpp"
#include "tests/bundler/bundler_fixture.hpp"
#include "tests/support/oci_layout.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

constexpr const char* kApi100 = "registry.example.org/demo/api:1.0.0";
constexpr const char* kApi110 = "registry.example.org/demo/api:1.1.0";

// Bytes gzip cannot shrink, the same for the same seed: a layer whose size is felt in the bundle.
std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

std::string image_entry(const std::string& ref, const std::string& digest) {
  return "[[images]]\nref = \"" + ref + "\"\ndigest = \"" + digest + "\"\nlayout = \"oci\"\n";
}

// api 1.0.0 and 1.1.0 in one layout: the same big base layer, each its own small layer.
struct TwoReleases {
  RecipeDir d;
  std::string api100, api110;
  std::string base_layer;
  std::string full;  // the base bundle: 1.0.0, full
  TwoReleases() {
    const std::string big = noise(256 << 10, 7);
    api100 = make_oci_image(d.dir / "oci", "1.0.0", {{"base.bin", big}, {"api.txt", "api 1.0.0\n"}});
    api110 = make_oci_image(d.dir / "oci", "1.1.0", {{"base.bin", big}, {"api.txt", "api 1.1.0\n"}});
    auto m = nlohmann::json::parse(slurp(d.dir / "oci/blobs/sha256" / api110.substr(7)));
    base_layer = m["layers"][0]["digest"].get<std::string>();
    full = (d.dir / "full-1.0.0.tar.zst").string();
    auto r = build_with(d.recipe(image_entry(kApi100, api100)), full, {demo_key("demo-hq")});
    if (!r) throw std::runtime_error(r.error().what());
  }
  // The 1.1.0 recipe (`delta` goes after [release]).
  std::string recipe110(const std::string& delta = "") {
    return d.recipe(delta + image_entry(kApi110, api110), true, "");
  }
};

Result<bundler::BuildReport> build_delta(const std::string& recipe, const std::string& out,
                                         std::optional<std::string> base) {
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.out_path = out;
  req.keys = {demo_key("demo-hq")};
  req.workers = 1;
  req.base_path = std::move(base);
  return bundler::build(req);
}

std::set<std::string> carried_blobs(const Manifest& m) {
  std::set<std::string> out;
  for (const auto& f : m.files)
    if (f.path.starts_with("images/blobs/sha256/")) out.insert("sha256:" + f.path.substr(20));
  return out;
}

}  // namespace

TEST(DeltaBuild, LeavesOutWhatTheBaseReachesCarriesTheRestAndIsSmaller) {
  TwoReleases t;
  const std::string recipe = t.recipe110();
  const std::string whole = (t.d.dir / "whole-1.1.0.tar.zst").string();
  auto full = build_delta(recipe, whole, std::nullopt);
  ASSERT_TRUE(full) << full.error().what();
  EXPECT_FALSE(full->manifest.delta_base);
  EXPECT_FALSE(full->delta);

  const std::string out = (t.d.dir / "delta-1.1.0.tar.zst").string();
  auto r = build_delta(recipe, out, t.full);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->manifest.delta_base, std::optional<std::string>("1.0.0"));
  ASSERT_TRUE(r->delta);
  EXPECT_EQ(r->delta->base, "1.0.0");
  EXPECT_EQ(r->delta->left_out_blobs, 1u) << "the shared base layer; 1.1.0's config differs (its diff ids)";
  EXPECT_GE(r->delta->saved_bytes, 256u << 10);
  std::set<std::string> want = carried_blobs(full->manifest);
  want.erase(t.base_layer);
  EXPECT_EQ(carried_blobs(r->manifest), want) << "the manifest, the config and the new layer travel";
  EXPECT_TRUE(carried_blobs(r->manifest).count(t.api110));
  EXPECT_LT(r->bundle_bytes + (200u << 10), full->bundle_bytes)
      << "delta " << r->bundle_bytes << " bytes, full " << full->bundle_bytes;

  // The delta's own layout: index.json and manifest name the left-out layer, which is not there.
  TempDir x;
  ASSERT_EQ(run("tar --zstd -xf " + q(out) + " -C " + q(x.path())).status, 0);
  auto index = nlohmann::json::parse(slurp(x / "images/index.json"));
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], t.api110);
  EXPECT_FALSE(fs::exists(x / "images/blobs/sha256" / t.base_layer.substr(7)));
}

TEST(DeltaBuild, TheRecipesBaseServesLikeDashDashBaseAndTheBytesAreReproducible) {
  TwoReleases t;
  const std::string out1 = (t.d.dir / "a.tar.zst").string(), out2 = (t.d.dir / "b.tar.zst").string();
  auto a = build_delta(t.recipe110("[delta]\nbase = \"full-1.0.0.tar.zst\"\n"), out1, std::nullopt);
  ASSERT_TRUE(a) << a.error().what();
  auto b = build_delta(t.recipe110(), out2, t.full);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(slurp(out1), slurp(out2)) << "same inputs, same bytes, whichever way the base is named";
  auto c = build_delta(t.recipe110(), out1, t.full);
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(slurp(out1), slurp(out2));
}

TEST(DeltaBuild, ADeltaRecipeWithoutABaseBundleIsRefused) {
  TwoReleases t;
  auto r = build_delta(t.recipe110("[delta]\n"), t.d.out(), std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::build_refused) << r.error().what();
  EXPECT_NE(r.error().what().find("--base"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(t.d.out()));
}

TEST(DeltaBuild, ABaseThatIsNotABundleIsRefused) {
  TwoReleases t;
  // A version where a bundle belongs, a file that is not a bundle, a bundle cut short.
  t.d.file("notes.txt", "not a bundle\n");
  const std::string full = slurp(t.full);
  t.d.file("cut.tar.zst", full.substr(0, full.size() / 2));
  for (const std::string base : {"1.0.0", "notes.txt", "cut.tar.zst"}) {
    auto r = build_delta(t.recipe110("[delta]\nbase = \"" + base + "\"\n"), t.d.out(), std::nullopt);
    ASSERT_FALSE(r) << base;
    EXPECT_EQ(r.error().cls(), ErrorClass::build_refused) << base << ": " << r.error().what();
    EXPECT_NE(r.error().what().find("base bundle"), std::string::npos) << r.error().what();
    EXPECT_FALSE(fs::exists(t.d.out()));
  }
}

TEST(DeltaBuild, TheBaseIsReadFromItsManifestsNotItsFileList) {
  TwoReleases t;
  auto base = bundler::read_delta_base(t.full);
  ASSERT_TRUE(base) << base.error().what();
  EXPECT_EQ(base->version, "1.0.0");
  auto m = nlohmann::json::parse(slurp(t.d.dir / "oci/blobs/sha256" / t.api100.substr(7)));
  std::set<std::string> want{m["config"]["digest"].get<std::string>()};
  for (const auto& l : m["layers"]) want.insert(l["digest"].get<std::string>());
  EXPECT_EQ(base->blobs, want) << "configs and layers, never the manifest itself";
}

// Image layouts in the bundle, with real layouts made by umoci: images sharing a layer carry it
// once; umoci's orphan blobs stay out; the carried `images/` layout is one skopeo reads and copies
// (which checks every digest); a damaged blob, a missing blob, a wrong digest and an unknown tag
// are refused (20); the bundle's bytes are reproducible.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "bundler/bundler.hpp"
#include "tests/bundler/bundler_fixture.hpp"
#include "tests/support/oci_layout.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

constexpr const char* kApi = "registry.example.org/demo/api:1.0.0";
constexpr const char* kWeb = "registry.example.org/demo/web:1.0.0";

std::string image_entry(const std::string& ref, const std::string& digest, const std::string& layout) {
  return "[[images]]\nref = \"" + ref + "\"\ndigest = \"" + digest + "\"\nlayout = \"" + layout + "\"\n";
}

// Two layouts: api (tag "1.0.0": base layer) and web (tagged with its full ref: the same base layer
// and one of its own).
struct TwoImages {
  RecipeDir d;
  std::string api, web;
  TwoImages() {
    api = make_oci_image(d.dir / "oci/api", "1.0.0", {{"base.txt", "shared base layer\n"}});
    web = make_oci_image(d.dir / "oci/web", kWeb, {{"base.txt", "shared base layer\n"}, {"web.txt", "web\n"}});
  }
  std::string recipe() { return d.recipe(image_entry(kApi, api, "oci/api") + image_entry(kWeb, web, "oci/web")); }
};

std::vector<std::string> payload_paths(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& f : m.files) out.push_back(f.path);
  return out;
}

// Every blob a manifest reaches (config and layers), read from a layout on disk.
std::set<std::string> reached(const fs::path& layout, const std::string& manifest_digest) {
  auto m = nlohmann::json::parse(slurp(layout / "blobs/sha256" / manifest_digest.substr(7)));
  std::set<std::string> out{manifest_digest, m["config"]["digest"].get<std::string>()};
  for (const auto& l : m["layers"]) out.insert(l["digest"].get<std::string>());
  return out;
}

Error build_error(const std::string& recipe, const std::string& out) {
  auto r = build_with(recipe, out, {demo_key("demo-hq")});
  if (r) return Error(ErrorClass::internal, "build succeeded");
  return r.error();
}

}  // namespace

TEST(BuildImages, SharedLayersAreCarriedOnceAndOrphansLeftOut) {
  TwoImages t;
  const auto api_blobs = reached(t.d.dir / "oci/api", t.api);
  const auto web_blobs = reached(t.d.dir / "oci/web", t.web);
  std::set<std::string> shared;
  std::set_intersection(api_blobs.begin(), api_blobs.end(), web_blobs.begin(), web_blobs.end(),
                        std::inserter(shared, shared.end()));
  ASSERT_EQ(shared.size(), 1u) << "the base layer is the same blob in both layouts";
  ASSERT_GT(layout_blobs(t.d.dir / "oci/api").size(), api_blobs.size()) << "umoci left orphans";

  auto r = build_with(t.recipe(), t.d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  for (const auto& im : r->manifest.images) EXPECT_EQ(im.layout, std::optional<std::string>("images"));
  std::set<std::string> want = api_blobs;
  want.insert(web_blobs.begin(), web_blobs.end());
  std::set<std::string> carried;
  for (const auto& p : payload_paths(r->manifest))
    if (p.starts_with("images/blobs/sha256/")) {
      EXPECT_TRUE(carried.insert("sha256:" + p.substr(20)).second) << p;
    }
  EXPECT_EQ(carried, want);

  // The carried layout is a real one: skopeo copies each image by its full ref (checking digests).
  TempDir x;
  ASSERT_EQ(run("tar --zstd -xf " + q(t.d.out()) + " -C " + q(x.path())).status, 0);
  for (const char* ref : {kApi, kWeb}) {
    auto c = run("skopeo copy --quiet " + q("oci:" + (x / "images").string() + ":" + ref) + " " +
                 q("oci:" + (x / "copy").string() + ":t"));
    EXPECT_EQ(c.status, 0) << ref << ": " << c.output;
  }
}

TEST(BuildImages, ArchiveOrderIsLayoutIndexManifestsConfigsLayers) {
  TwoImages t;
  auto r = build_with(t.recipe(), t.d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  std::vector<std::string> images;
  for (const auto& p : payload_paths(r->manifest))
    if (p.starts_with("images/")) images.push_back(p);
  ASSERT_EQ(images.size(), 2u + 2 + 2 + 2);  // 2 manifests, 2 configs, 2 distinct layers
  EXPECT_EQ(images[0], "images/oci-layout");
  EXPECT_EQ(images[1], "images/index.json");
  const std::set<std::string> manifests{"images/blobs/sha256/" + t.api.substr(7),
                                        "images/blobs/sha256/" + t.web.substr(7)};
  EXPECT_EQ(std::set<std::string>(images.begin() + 2, images.begin() + 4), manifests);
  auto idx = nlohmann::json::parse(slurp(t.d.dir / "oci/web/blobs/sha256" / t.web.substr(7)));
  const std::string web_config = "images/blobs/sha256/" + idx["config"]["digest"].get<std::string>().substr(7);
  EXPECT_TRUE(images[4] == web_config || images[5] == web_config);

  TempDir x;
  ASSERT_EQ(run("tar --zstd -xf " + q(t.d.out()) + " -C " + q(x.path())).status, 0);
  auto index = nlohmann::json::parse(slurp(x / "images/index.json"));
  ASSERT_EQ(index["manifests"].size(), 2u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], kApi);
  EXPECT_EQ(index["manifests"][0]["digest"], t.api);
  EXPECT_EQ(index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"], kWeb);
}

TEST(BuildImages, BytesAreReproducible) {
  TwoImages t;
  const std::string recipe = t.recipe();
  ASSERT_TRUE(build_with(recipe, t.d.out(), {demo_key("demo-hq")}));
  const std::string second = (t.d.dir / "again.tar.zst").string();
  ASSERT_TRUE(build_with(recipe, second, {demo_key("demo-hq")}));
  EXPECT_EQ(slurp(t.d.out()), slurp(second));
}

TEST(BuildImages, ADamagedLayerIsRefused) {
  TwoImages t;
  auto m = nlohmann::json::parse(slurp(t.d.dir / "oci/web/blobs/sha256" / t.web.substr(7)));
  const fs::path layer = t.d.dir / "oci/web/blobs/sha256" / m["layers"][1]["digest"].get<std::string>().substr(7);
  std::string bytes = slurp(layer);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);  // same size, other content
  spit(layer, bytes);
  auto e = build_error(t.recipe(), t.d.out());
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
  EXPECT_NE(e.what().find("damaged"), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(t.d.out()));
}

TEST(BuildImages, AMissingBlobIsRefused) {
  TwoImages t;
  auto m = nlohmann::json::parse(slurp(t.d.dir / "oci/api/blobs/sha256" / t.api.substr(7)));
  fs::remove(t.d.dir / "oci/api/blobs/sha256" / m["config"]["digest"].get<std::string>().substr(7));
  auto e = build_error(t.recipe(), t.d.out());
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
  EXPECT_NE(e.what().find("missing"), std::string::npos) << e.what();
}

TEST(BuildImages, ADigestThatIsNotTheLayoutsManifestIsRefused) {
  TwoImages t;
  const std::string wrong = "sha256:" + std::string(64, 'a');
  auto e = build_error(t.d.recipe(image_entry(kApi, wrong, "oci/api")), t.d.out());
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
  EXPECT_NE(e.what().find(t.api), std::string::npos) << e.what();
  // A ref the layout has no tag for.
  e = build_error(t.d.recipe(image_entry("registry.example.org/demo/api:2.0.0", t.api, "oci/api")), t.d.out());
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
  EXPECT_NE(e.what().find("its tags: "), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(t.d.out()));
}

TEST(BuildImages, ADamagedManifestIsRefused) {
  TwoImages t;
  const fs::path manifest = t.d.dir / "oci/api/blobs/sha256" / t.api.substr(7);
  std::string bytes = slurp(manifest);
  bytes[10] = static_cast<char>(bytes[10] ^ 0x01);
  spit(manifest, bytes);
  auto e = build_error(t.recipe(), t.d.out());
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
}

// A layout folder whose name holds a backslash and an escape byte, missing its oci-layout file: the
// refusal names the folder with each escape shown once (the cause's text is not escaped again).
TEST(BuildImages, ARefusalNamesAnOddLayoutPathWithItsEscapesOnce) {
  TwoImages t;
  const std::string odd = "oci/we\\b\x1B";
  fs::create_directories(t.d.dir / odd);
  auto e = build_error(t.d.recipe(image_entry(kApi, t.api, "oci/we\\\\b\\u001B")), t.d.out());  // TOML escapes
  EXPECT_EQ(e.cls(), ErrorClass::build_refused) << e.what();
  EXPECT_NE(e.what().find("we\\\\b\\u001B/oci-layout"), std::string::npos) << e.what();
  EXPECT_EQ(e.what().find("\\\\\\\\"), std::string::npos) << e.what();
  EXPECT_EQ(e.what().find("\\\\u001B"), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(t.d.out()));
}

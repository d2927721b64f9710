// `airlock images push` against a real registry (distribution 2.8 on loopback, each test its own):
// a copy of the demo site applies a release whose images umoci made (one of them a multi-arch
// index crafted over two umoci images), then pushes them. skopeo is the oracle: it pulls what was
// pushed by digest, and its own push of the same layout gives the same digest. A fault proxy in
// log mode shows the order of the requests.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/crypto/hash.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/oci_layout.hpp"
#include "tests/support/registry_server.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using namespace airlock::test;  // the test helpers: runs, temp folders, the registry and its proxy

namespace {

const std::string kBin = AIRLOCK_BIN, kSrc = AIRLOCK_SOURCE_DIR;
constexpr const char* kTools = "registry.example.org/demo/tools:1.1.0";
constexpr const char* kMulti = "registry.example.org/demo/multi:2.0";
constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";

std::string digest_of(const std::string& bytes) { return "sha256:" + airlock::to_hex(airlock::sha256(bytes)); }

// An image index over two umoci images (amd64, arm64) in `layout`, tagged `tag` there.
std::string make_index(const fs::path& layout, const std::string& tag) {
  nlohmann::json manifests = nlohmann::json::array();
  for (const std::string arch : {"amd64", "arm64"}) {
    const std::string d = airlock::test::make_oci_image(layout, arch, {{"arch.txt", arch + "\n"}});
    const auto size = fs::file_size(layout / "blobs/sha256" / d.substr(7));
    manifests.push_back({{"mediaType", kManifestType},
                         {"digest", d},
                         {"size", size},
                         {"platform", {{"os", "linux"}, {"architecture", arch}}}});
  }
  const std::string body =
      nlohmann::json{{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}}.dump();
  const std::string digest = digest_of(body);
  spit(layout / "blobs/sha256" / digest.substr(7), body);
  auto index = nlohmann::json::parse(slurp(layout / "index.json"));
  index["manifests"].push_back({{"mediaType", kIndexType},
                                {"digest", digest},
                                {"size", body.size()},
                                {"annotations", {{"org.opencontainers.image.ref.name", tag}}}});
  spit(layout / "index.json", index.dump());
  return digest;
}

class RegistryImages : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef AIRLOCK_HAVE_REGISTRY
    GTEST_SKIP() << "built with AIRLOCK_REGISTRY=OFF";
#endif
    airlock::test::copy_demo_site(dir.path());
    fs::copy(kSrc + "/manifests/example", dir / "recipe", fs::copy_options::recursive);
  }

  // Builds the example release with these [[images]] (ref, digest, layout) and applies it.
  void apply(const std::vector<std::array<std::string, 3>>& images) {
    std::string recipe = slurp(dir / "recipe/recipe.toml");
    for (const auto& [ref, digest, layout] : images)
      recipe += "\n[[images]]\nref = \"" + ref + "\"\ndigest = \"" + digest + "\"\nlayout = \"" + layout + "\"\n";
    spit(dir / "recipe/recipe.toml", recipe);
    auto r = run(kBin + " build " + q(dir / "recipe/recipe.toml") + " --key " + q(kSrc + "/keys/demo-hq.key") +
                 " --out " + q(dir / "b.tar.zst"));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run(kBin + " apply " + q(dir / "b.tar.zst") + " --site " + q(site()));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string apply_tools() {
    const std::string d = airlock::test::make_oci_image(dir / "recipe/oci/tools", "1.1.0", {{"tool.txt", "tool\n"}});
    apply({{kTools, d, "oci/tools"}});
    return d;
  }
  std::string apply_multi() {
    const std::string d = make_index(dir / "recipe/oci/multi", "2.0");
    apply({{kMulti, d, "oci/multi"}});
    return d;
  }

  fs::path site() const { return dir / "site/site.toml"; }
  fs::path store() const { return dir / "site/state/images"; }
  nlohmann::json stored(const std::string& digest) const {
    return nlohmann::json::parse(slurp(store() / "blobs/sha256" / digest.substr(7)));
  }

  ProcResult push(const std::string& target, const std::string& extra = "--plain-http --json") {
    // stderr to a file of its own (run() sends the group's stderr to its output): stdout alone.
    return run("(" + kBin + " images push oci://" + target + " --site " + q(site()) + " " + extra + " 2>" +
               q(dir / "stderr") + ")");
  }
  // The digest the registry answers a manifest HEAD with; empty when it has none (404).
  std::string head(const std::string& host, const std::string& repo, const std::string& target) {
    auto r = run("curl -s -o /dev/null -D - -I -H 'Accept: " + std::string(kManifestType) + ", " + kIndexType +
                 "' http://" + host + "/v2/" + repo + "/manifests/" + target);
    std::istringstream in(r.output);
    std::string line, status;
    std::getline(in, status);
    if (status.find(" 200") == std::string::npos) return "";
    while (std::getline(in, line))
      if (line.rfind("Docker-Content-Digest: ", 0) == 0 || line.rfind("docker-content-digest: ", 0) == 0)
        return line.substr(23, 71);
    return "?";
  }
  bool has_blob(const std::string& host, const std::string& repo, const std::string& digest) {
    return run("curl -sf -o /dev/null -I http://" + host + "/v2/" + repo + "/blobs/" + digest).status == 0;
  }

  TempDir dir;
};

}  // namespace

// The oracle of the issue: skopeo pulls the pushed image by digest, the registry's HEAD answers
// the release's digest, and skopeo's own push of the same layout lands on the same digest.
TEST_F(RegistryImages, PushedImagePullsByDigestAndMatchesSkopeosOwnPush) {
  const std::string digest = apply_tools();
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host() + "/mirror");
  ASSERT_EQ(p.status, 0) << p.output << slurp(dir / "stderr");
  auto j = json_of(p.output);
  ASSERT_EQ(j["images"].size(), 1u) << p.output;
  const auto& im = j["images"][0];
  EXPECT_EQ(im["ref"], kTools);
  EXPECT_EQ(im["target"], reg.host() + "/mirror/demo/tools:1.1.0");
  EXPECT_EQ(im["digest"], digest);
  const auto m = stored(digest);
  EXPECT_EQ(im["blobs_uploaded"], 1 + m["layers"].size()) << "the config and every layer";
  EXPECT_EQ(im["blobs_skipped"], 0);
  EXPECT_EQ(head(reg.host(), "mirror/demo/tools", digest), digest);
  EXPECT_EQ(head(reg.host(), "mirror/demo/tools", "1.1.0"), digest);

  auto s = run("skopeo copy --src-tls-verify=false docker://" + reg.host() + "/mirror/demo/tools@" + digest +
               " oci:" + q(dir / "pulled") + ":t");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "pulled/index.json"))["manifests"][0]["digest"], digest);
  for (const auto& l : m["layers"]) {
    const std::string ld = l["digest"];
    EXPECT_TRUE(fs::exists(dir / "pulled/blobs/sha256" / ld.substr(7))) << ld;
  }

  s = run("skopeo copy --dest-tls-verify=false oci:" + q(dir / "recipe/oci/tools") + ":1.1.0 docker://" + reg.host() +
          "/by-skopeo/tools:1.1.0");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(head(reg.host(), "by-skopeo/tools", "1.1.0"), digest);
}

// Without a prefix the ref's path is the repository; run again, every blob is present (HEAD) and
// nothing is uploaded or mounted.
TEST_F(RegistryImages, WithoutAPrefixAndASecondPushUploadsNothing) {
  const std::string digest = apply_tools();
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto a = push(reg.host());
  ASSERT_EQ(a.status, 0) << a.output << slurp(dir / "stderr");
  EXPECT_EQ(json_of(a.output)["images"][0]["target"], reg.host() + "/demo/tools:1.1.0");
  EXPECT_EQ(head(reg.host(), "demo/tools", "1.1.0"), digest);
  auto b = push(reg.host());
  ASSERT_EQ(b.status, 0) << b.output << slurp(dir / "stderr");
  const auto im = json_of(b.output)["images"][0];
  EXPECT_EQ(im["blobs_uploaded"], 0) << b.output;
  EXPECT_EQ(im["blobs_mounted"], 0) << b.output;
  EXPECT_EQ(im["bytes_uploaded"], 0) << b.output;
  EXPECT_EQ(im["blobs_skipped"], 1 + stored(digest)["layers"].size()) << b.output;
  // Text mode: one line per image on stdout, the target and its digest.
  auto t = push(reg.host(), "--plain-http");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_EQ(t.output, reg.host() + "/demo/tools:1.1.0@" + digest + "\n");
}

// Two images sharing a layer: the second gets it by a cross-repository mount, not an upload. A
// Docker Hub short name goes where containerd asks a mirror for it (library/).
TEST_F(RegistryImages, ASharedLayerIsMountedAndAShortNameGainsLibrary) {
  const std::string d1 = airlock::test::make_oci_image(dir / "recipe/oci/tools", "1.1.0", {{"tool.txt", "tool\n"}});
  const std::string d2 =
      airlock::test::make_oci_image(dir / "recipe/oci/box", "1", {{"tool.txt", "tool\n"}, {"b", "b\n"}});
  apply({{kTools, d1, "oci/tools"}, {"busybox:1", d2, "oci/box"}});
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host() + "/site");
  ASSERT_EQ(p.status, 0) << p.output << slurp(dir / "stderr");
  auto j = json_of(p.output);
  ASSERT_EQ(j["images"].size(), 2u) << p.output;
  // The release's index sorts its images by ref: busybox goes first and uploads everything; the
  // tools image then mounts the layer they share and uploads its own config.
  EXPECT_EQ(j["images"][0]["target"], reg.host() + "/site/library/busybox:1") << p.output;
  EXPECT_EQ(j["images"][0]["blobs_uploaded"], 3) << p.output;
  EXPECT_EQ(j["images"][0]["blobs_mounted"], 0) << p.output;
  EXPECT_EQ(j["images"][1]["target"], reg.host() + "/site/demo/tools:1.1.0") << p.output;
  EXPECT_EQ(j["images"][1]["blobs_mounted"], 1) << p.output;
  EXPECT_EQ(j["images"][1]["blobs_uploaded"], 1) << p.output;
  EXPECT_EQ(head(reg.host(), "site/library/busybox", "1"), d2);
  EXPECT_EQ(head(reg.host(), "site/demo/tools", "1.1.0"), d1);
  const std::string shared = stored(d1)["layers"][0]["digest"];
  EXPECT_TRUE(has_blob(reg.host(), "site/demo/tools", shared));
}

// A multi-arch index: its children's blobs, then the children, then the index under its tag, last
// (the registry refuses an index whose children it lacks; the log shows the whole order).
TEST_F(RegistryImages, AnIndexGoesAfterItsChildrenAndTheTagLast) {
  const std::string digest = apply_multi();
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  FaultProxy proxy(dir / "proxy", reg.host(), "log");
  ASSERT_TRUE(proxy.ok());
  auto p = push(proxy.host() + "/m");
  ASSERT_EQ(p.status, 0) << p.output << slurp(dir / "stderr");
  EXPECT_EQ(json_of(p.output)["images"][0]["manifests_pushed"], 3) << p.output;
  EXPECT_EQ(head(reg.host(), "m/demo/multi", "2.0"), digest);

  std::vector<std::string> puts;  // "blob" or the manifest target, in the order sent
  std::istringstream log(slurp(proxy.redirect_log()));
  for (std::string method, path, status; log >> method >> path >> status;) {
    if (method == "PUT" && path.find("/blobs/uploads/") != std::string::npos) puts.push_back("blob");
    if (method == "PUT" && path.find("/manifests/") != std::string::npos)
      puts.push_back(path.substr(path.find("/manifests/") + 11));
  }
  std::vector<std::string> want(4, "blob");  // two configs, two layers
  const auto index = stored(digest);
  for (const auto& c : index["manifests"]) want.push_back(c["digest"]);
  want.push_back("2.0");
  EXPECT_EQ(puts, want) << slurp(proxy.redirect_log());

  auto s = run("skopeo copy --all --src-tls-verify=false docker://" + reg.host() + "/m/demo/multi@" + digest +
               " oci:" + q(dir / "pulled") + ":t");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "pulled/index.json"))["manifests"][0]["digest"], digest);
}

// A layer of the second child damaged in the store (same size, one bit): refused with 12 as its
// bytes are sent, and the registry has no manifest of the image at all, nor the damaged blob.
TEST_F(RegistryImages, ADamagedStoredBlobIsRefusedAndNoManifestIsPushed) {
  const std::string digest = apply_multi();
  const auto children = stored(digest)["manifests"];
  const std::string child = children[1]["digest"];
  const std::string layer = stored(child)["layers"][0]["digest"];
  const fs::path path = store() / "blobs/sha256" / layer.substr(7);
  std::string bytes = slurp(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  spit(path, bytes);

  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host() + "/m");
  EXPECT_EQ(p.status, 12) << p.output << slurp(dir / "stderr");
  auto j = json_of(p.output);
  EXPECT_EQ(j["ok"], false) << p.output;
  EXPECT_EQ(j["images"][0]["error"]["exit_code"], 12) << p.output;
  EXPECT_NE(slurp(dir / "stderr").find(layer.substr(7)), std::string::npos) << slurp(dir / "stderr");
  EXPECT_EQ(head(reg.host(), "m/demo/multi", "2.0"), "");
  EXPECT_EQ(head(reg.host(), "m/demo/multi", digest), "");
  for (const auto& c : children) EXPECT_EQ(head(reg.host(), "m/demo/multi", c["digest"]), "") << c;
  EXPECT_FALSE(has_blob(reg.host(), "m/demo/multi", layer));
}

// A registry that needs credentials: without them 2 and nothing pushed; with them it goes up.
TEST_F(RegistryImages, CredentialsAreNeededAndUsed) {
  const std::string digest = apply_tools();
  RegistryServer reg(dir / "reg", RegistryVariant{.htpasswd = true});
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host() + "/mirror");
  EXPECT_EQ(p.status, 2) << p.output << slurp(dir / "stderr");
  EXPECT_NE(slurp(dir / "stderr").find("needs credentials"), std::string::npos) << slurp(dir / "stderr");
  p = run("echo s3cret | " + kBin + " images push oci://" + reg.host() + "/mirror --site " + q(site()) +
          " --plain-http --username alice --password-stdin");
  ASSERT_EQ(p.status, 0) << p.output;
  auto s = run("skopeo inspect --tls-verify=false --creds alice:s3cret --format '{{.Digest}}' docker://" + reg.host() +
               "/mirror/demo/tools:1.1.0");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(s.output, digest + "\n");
}

// Bad arguments are usage errors: a target with a tag, not oci://.
TEST_F(RegistryImages, BadTargetsAreUsageErrors) {
  EXPECT_EQ(push("127.0.0.1:1/mirror:tag").status, 2);
  EXPECT_EQ(run(kBin + " images push docker://127.0.0.1:1 --site " + q(site())).status, 2);
  EXPECT_EQ(run(kBin + " images push --site " + q(site())).status, 2);
}

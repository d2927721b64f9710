// `airlock push` and `pull` against a real registry (distribution 2.8 on loopback, each test its
// own), with skopeo as the oracle for what was pushed and a fault proxy for a registry that lies,
// cuts a blob short, ignores Range, fails a PATCH, redirects to another host, loses an upload
// session, lets a token expire or dies mid-push.
#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "tests/support/cli.hpp"
#include "tests/support/registry_server.hpp"
#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;
using airlock::test::FaultProxy;
using airlock::test::free_port;
using airlock::test::json_of;
using airlock::test::ProcResult;
using airlock::test::q;
using airlock::test::RegistryServer;
using airlock::test::RegistryVariant;
using airlock::test::run;
using airlock::test::slurp;
using airlock::test::spit;
using airlock::test::TempDir;

namespace {

const std::string kBin = AIRLOCK_BIN;
const std::string kSrc = AIRLOCK_SOURCE_DIR;
const std::string kEpoch = "SOURCE_DATE_EPOCH=1767225600 ";

// Lines of a log (the proxy's is "METHOD PATH STATUS [CODE]") that start with `method` (any when
// empty) and hold each of `parts`.
std::size_t count_lines(const std::string& log, const std::string& method, std::initializer_list<std::string> parts) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < log.size();) {
    auto end = log.find('\n', i);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(i, end - i);
    bool all = method.empty() || line.starts_with(method + " ");
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    n += all ? 1 : 0;
    i = end + 1;
  }
  return n;
}

class RegistryCli : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef AIRLOCK_HAVE_REGISTRY
    GTEST_SKIP() << "built with AIRLOCK_REGISTRY=OFF";
#endif
  }
  static void SetUpTestSuite() {
    shared_ = new TempDir();
    // The example release with 3 MB that do not compress: a head layer and three 1 MiB layers.
    fs::copy(kSrc + "/manifests/example", shared_->path() / "recipe", fs::copy_options::recursive);
    run("head -c 3000000 /dev/urandom > " + q(shared_->path() / "recipe/blob.bin"));
    spit(shared_->path() / "recipe/recipe.toml",
         slurp(shared_->path() / "recipe/recipe.toml") + "\n[[files]]\nfrom = \"blob.bin\"\n");
    auto r = run(kEpoch + kBin + " build " + q(shared_->path() / "recipe/recipe.toml") + " --key " +
                 q(kSrc + "/keys/demo-hq.key") + " --out " + q(shared_->path() / "b.tar.zst"));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  fs::path bundle() const { return shared_->path() / "b.tar.zst"; }

  ProcResult push(const std::string& host, const std::string& ref, const std::string& extra = "--plain-http",
                  const fs::path& b = {}) {
    return run(kBin + " push " + q(b.empty() ? bundle() : b) + " oci://" + host + "/" + ref + " --chunk 1M " + extra);
  }
  ProcResult pull(const std::string& host, const std::string& ref, const fs::path& out,
                  const std::string& extra = "--plain-http") {
    return run(kBin + " pull oci://" + host + "/" + ref + " --out " + q(out) + " " + extra);
  }
  // PUTs a manifest as it is (the registry keeps its bytes), for the not-ours cases.
  ProcResult put_manifest(const std::string& host, const std::string& ref, const std::string& body) {
    spit(dir / "crafted.json", body);
    return run("curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @" +
               q(dir / "crafted.json") + " http://" + host + "/v2/airlock/demo/manifests/" + ref);
  }
  nlohmann::json get_manifest(const std::string& host, const std::string& ref) {
    auto r = run("curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://" + host +
                 "/v2/airlock/demo/manifests/" + ref);
    return nlohmann::json::parse(r.output, nullptr, false);
  }

  static TempDir* shared_;
  TempDir dir;
};
TempDir* RegistryCli::shared_ = nullptr;

TEST_F(RegistryCli, RoundTripIsByteIdenticalAndSkopeoSeesTheBundle) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host(), "airlock/demo:1.1.0");
  ASSERT_EQ(p.status, 0) << p.output;
  const std::string digest = p.output.substr(p.output.find("sha256:"), 71);

  // Oracle: skopeo's copy of the artifact; its layers, concatenated, are the bundle.
  auto s = run("skopeo copy --src-tls-verify=false docker://" + reg.host() +
               "/airlock/demo:1.1.0 oci:" + q(dir / "oci") + ":t");
  ASSERT_EQ(s.status, 0) << s.output;
  auto index = nlohmann::json::parse(slurp(dir / "oci/index.json"));
  const std::string mdigest = index["manifests"][0]["digest"];
  EXPECT_EQ(mdigest, digest);
  auto m = nlohmann::json::parse(slurp(dir / "oci/blobs/sha256" / mdigest.substr(7)));
  EXPECT_EQ(m["artifactType"], "application/vnd.airlock.bundle.v1");
  ASSERT_EQ(m["layers"].size(), 4u);
  EXPECT_EQ(m["layers"][0]["annotations"]["org.opencontainers.image.title"], "demo-1.1.0.tar.zst.part0001");
  std::string joined;
  for (const auto& l : m["layers"])
    joined += slurp(dir / "oci/blobs/sha256" / l["digest"].get<std::string>().substr(7));
  EXPECT_TRUE(joined == slurp(bundle()));

  auto r = pull(reg.host(), "airlock/demo:1.1.0", dir / "back.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "back.tar.zst") == slurp(bundle()));
  EXPECT_FALSE(fs::exists(dir / "back.tar.zst.partial"));
  auto v = run(kBin + " verify " + q(dir / "back.tar.zst") + " --trust " + q(kSrc + "/keys/trust.toml"));
  EXPECT_EQ(v.status, 0) << v.output;
  auto byd = pull(reg.host(), "airlock/demo@" + digest, dir / "bydigest.tar.zst");
  ASSERT_EQ(byd.status, 0) << byd.output;
  EXPECT_TRUE(slurp(dir / "bydigest.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, DigestIsReproducibleAndARePushUploadsNothing) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto a = push(reg.host(), "airlock/demo:1", "--plain-http --json");
  ASSERT_EQ(a.status, 0) << a.output;
  auto b = push(reg.host(), "other/place:x", "--plain-http --json");
  auto again = push(reg.host(), "airlock/demo:1", "--plain-http --json");
  ASSERT_EQ(b.status, 0) << b.output;
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(json_of(a.output)["digest"], json_of(b.output)["digest"]);
  EXPECT_EQ(json_of(a.output)["layers_uploaded"], 4);
  EXPECT_EQ(json_of(again.output)["layers_uploaded"], 0);
}

TEST_F(RegistryCli, ANewSignatureMovesOnlyLayerOne) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  auto s = run(kBin + " sign " + q(bundle()) + " --key " + q(kSrc + "/keys/demo-hq2.key") + " --out " +
               q(dir / "signed.tar.zst"));
  ASSERT_EQ(s.status, 0) << s.output;
  auto r = push(reg.host(), "airlock/demo:1", "--plain-http --json", dir / "signed.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json_of(r.output);
  EXPECT_EQ(j["layers_uploaded"], 1);
  EXPECT_LT(j["bytes_uploaded"].get<std::uint64_t>(), 64u * 1024);
}

TEST_F(RegistryCli, AFlippedByteInABlobIsIntegrityAndLeavesNothing) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  FaultProxy proxy(dir / "proxy", reg.host(), "flip");
  ASSERT_TRUE(proxy.ok());
  auto r = pull(proxy.host(), "airlock/demo:1", dir / "out.tar.zst");
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst"));
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst.partial"));
}

TEST_F(RegistryCli, AnotherManifestThanTheDigestNamesIsIntegrity) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto p = push(reg.host(), "airlock/demo:1");
  ASSERT_EQ(p.status, 0) << p.output;
  const std::string digest = p.output.substr(p.output.find("sha256:"), 71);
  FaultProxy proxy(dir / "proxy", reg.host(), "alter-manifest");
  ASSERT_TRUE(proxy.ok());
  auto r = pull(proxy.host(), "airlock/demo@" + digest, dir / "out.tar.zst");
  EXPECT_EQ(r.status, 12) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst"));
}

TEST_F(RegistryCli, ATruncatedBlobIsResumedWithRange) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  FaultProxy proxy(dir / "proxy", reg.host(), "truncate-once");
  ASSERT_TRUE(proxy.ok());
  auto r = pull(proxy.host(), "airlock/demo:1", dir / "out.tar.zst", "--plain-http --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
  // The resumed layer was not fetched twice: Range picked up where the cut was.
  EXPECT_LT(json_of(r.output)["bytes_fetched"].get<std::uint64_t>(), fs::file_size(bundle()) + 1024);
}

// An answer without a length ends at its connection's close, and a cut connection looks just like
// it: such a short answer is resumed with Range, not taken for a blob shorter than its descriptor.
TEST_F(RegistryCli, ATruncatedAnswerWithoutALengthIsResumedNotCalledShort) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  FaultProxy proxy(dir / "proxy", reg.host(), "unframed-truncate-once");
  ASSERT_TRUE(proxy.ok());
  auto r = pull(proxy.host(), "airlock/demo:1", dir / "out.tar.zst", "--plain-http --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, ARegistryIgnoringRangeRestartsTheLayer) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  FaultProxy proxy(dir / "proxy", reg.host(), "ignore-range");
  ASSERT_TRUE(proxy.ok());
  auto r = pull(proxy.host(), "airlock/demo:1", dir / "out.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, APatchAnswered503IsRetried) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  FaultProxy proxy(dir / "proxy", reg.host(), "patch-503-once");
  ASSERT_TRUE(proxy.ok());
  auto p = push(proxy.host(), "airlock/demo:1");
  ASSERT_EQ(p.status, 0) << p.output;
  auto r = pull(reg.host(), "airlock/demo:1", dir / "out.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, APartialFileIsKeptAfterANetworkFailureAndReusedNextRun) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  const std::string whole = slurp(bundle());
  spit(dir / "out.tar.zst.partial", whole.substr(0, 1500000));  // a layer and a half
  reg.stop();
  auto down = pull(reg.host(), "airlock/demo:1", dir / "out.tar.zst");
  EXPECT_EQ(down.status, 3) << down.output;
  EXPECT_TRUE(fs::exists(dir / "out.tar.zst.partial"));
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst"));

  RegistryServer again(dir / "reg");  // the same storage
  ASSERT_TRUE(again.ok()) << again.log();
  auto r = pull(again.host(), "airlock/demo:1", dir / "out.tar.zst", "--plain-http --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json_of(r.output)["bytes_reused"], 1500000);
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == whole);
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst.partial"));
}

TEST_F(RegistryCli, AForeignPartialFileIsFetchedAgainNotTrusted) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  run("head -c 1500000 /dev/urandom > " + q(dir / "out.tar.zst.partial"));
  auto r = pull(reg.host(), "airlock/demo:1", dir / "out.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, ArtifactsNotOursAreMalformed) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  const auto good = get_manifest(reg.host(), "1");
  ASSERT_TRUE(good.is_object());
  auto other = good;
  other["artifactType"] = "application/vnd.example.other.v1";
  auto none = good;
  none["layers"] = nlohmann::json::array();
  auto sizes = good;
  sizes["layers"][1]["size"] = sizes["layers"][1]["size"].get<std::uint64_t>() - 1;
  const std::pair<std::string, nlohmann::json> cases[] = {{"other", other}, {"none", none}, {"sizes", sizes}};
  for (const auto& [tag, m] : cases) {
    auto put = put_manifest(reg.host(), tag, m.dump());
    if (put.status != 0) {
      ADD_FAILURE() << tag << ": the registry refused the crafted manifest: " << put.output;
      continue;
    }
    auto r = pull(reg.host(), "airlock/demo:" + tag, dir / (tag + ".tar.zst"));
    EXPECT_EQ(r.status, 10) << tag << ": " << r.output;
    EXPECT_FALSE(fs::exists(dir / (tag + ".tar.zst")));
  }
  auto at = pull(reg.host(), "airlock/demo@latest", dir / "x.tar.zst");
  EXPECT_EQ(at.status, 2) << at.output;
  // distribution refuses to store a manifest over 4 MiB: a proxy makes one of the good manifest.
  FaultProxy proxy(dir / "proxy", reg.host(), "pad-manifest");
  ASSERT_TRUE(proxy.ok());
  auto big = pull(proxy.host(), "airlock/demo:1", dir / "big.tar.zst");
  EXPECT_EQ(big.status, 10) << big.output;
  EXPECT_NE(big.output.find("over 4194304 bytes"), std::string::npos) << big.output;
}

TEST_F(RegistryCli, CredentialsMissingOrWrongAreRefusedAndRightOnesWork) {
  RegistryServer reg(dir / "reg", RegistryVariant{.htpasswd = true});
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto none = push(reg.host(), "airlock/demo:1");
  EXPECT_EQ(none.status, 2) << none.output;
  auto wrong = run("echo wrong | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                   "/airlock/demo:1 --plain-http --username alice --password-stdin");
  EXPECT_EQ(wrong.status, 2) << wrong.output;
  EXPECT_EQ(wrong.output.find("wrong"), std::string::npos) << "the password must never be printed";
  auto ok = run("echo s3cret | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                "/airlock/demo:1 --plain-http --chunk 1M --username alice --password-stdin");
  ASSERT_EQ(ok.status, 0) << ok.output;
  spit(dir / "auth.json", "{\"auths\":{\"" + reg.host() + "\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}");  // alice:s3cret
  auto r = pull(reg.host(), "airlock/demo:1", dir / "out.tar.zst", "--plain-http --authfile " + q(dir / "auth.json"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, BearerTokensFromTheRealmWithTheCredentials) {
  RegistryServer reg(dir / "reg", RegistryVariant{.token = true});
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto none = push(reg.host(), "airlock/demo:1");
  EXPECT_EQ(none.status, 2) << none.output;
  auto wrong = run("echo wrong | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                   "/airlock/demo:1 --plain-http --username alice --password-stdin");
  EXPECT_EQ(wrong.status, 2) << wrong.output;
  auto ok = run("echo s3cret | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                "/airlock/demo:1 --plain-http --chunk 1M --username alice --password-stdin");
  ASSERT_EQ(ok.status, 0) << ok.output << reg.log();
  auto r = run("echo s3cret | " + kBin + " pull oci://" + reg.host() + "/airlock/demo:1 --out " +
               q(dir / "out.tar.zst") + " --plain-http --username alice --password-stdin");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
  // A token for another repository than the one pushed to: insufficient_scope, refused (2).
  auto scope = run("echo s3cret | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                   "/elsewhere/demo:1 --plain-http --chunk 1M --username alice --password-stdin");
  EXPECT_EQ(scope.status, 2) << scope.output;
  EXPECT_NE(scope.output.find("insufficient_scope"), std::string::npos) << scope.output;
}

TEST_F(RegistryCli, ARedirectToAnotherHostCarriesNoAuthorization) {
  RegistryServer reg(dir / "reg", RegistryVariant{.htpasswd = true});
  ASSERT_TRUE(reg.ok()) << reg.log();
  auto ok = run("echo s3cret | " + kBin + " push " + q(bundle()) + " oci://" + reg.host() +
                "/airlock/demo:1 --plain-http --chunk 1M --username alice --password-stdin");
  ASSERT_EQ(ok.status, 0) << ok.output;
  FaultProxy proxy(dir / "proxy", reg.host(), "redirect");
  ASSERT_TRUE(proxy.ok());
  auto r = run("echo s3cret | " + kBin + " pull oci://" + proxy.host() + "/airlock/demo:1 --out " +
               q(dir / "out.tar.zst") + " --plain-http --username alice --password-stdin");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
  const std::string log = slurp(proxy.redirect_log());
  EXPECT_NE(log.find("GET /v2/airlock/demo/blobs/"), std::string::npos) << log;
  EXPECT_EQ(log.find("Authorization=Basic"), std::string::npos) << log;
  EXPECT_NE(log.find("Authorization=\n"), std::string::npos) << log;
}

TEST_F(RegistryCli, TlsNeedsTheSiteCaAndPlainHttpNeedsTheFlag) {
  RegistryServer tls(dir / "tls", RegistryVariant{.tls = true});
  ASSERT_TRUE(tls.ok()) << tls.log();
  auto unknown = push(tls.host(), "airlock/demo:1", "");
  EXPECT_EQ(unknown.status, 3) << unknown.output;
  // The right CA, the wrong name: the certificate names IP 127.0.0.1 only, not "localhost".
  auto mismatch = push("localhost:" + std::to_string(tls.port()), "airlock/demo:1", "--ca-file " + q(tls.ca_file()));
  EXPECT_EQ(mismatch.status, 3) << mismatch.output;
  EXPECT_NE(mismatch.output.find("subject name"), std::string::npos) << mismatch.output;
  auto ok = push(tls.host(), "airlock/demo:1", "--ca-file " + q(tls.ca_file()));
  ASSERT_EQ(ok.status, 0) << ok.output;
  auto r = pull(tls.host(), "airlock/demo:1", dir / "out.tar.zst", "--ca-file " + q(tls.ca_file()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));

  RegistryServer plain(dir / "plain");
  ASSERT_TRUE(plain.ok()) << plain.log();
  auto no_flag = push(plain.host(), "airlock/demo:1", "");
  EXPECT_EQ(no_flag.status, 3) << no_flag.output;
}

TEST_F(RegistryCli, TrustChecksTheHeadBeforeTheBody) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  auto good =
      pull(reg.host(), "airlock/demo:1", dir / "ok.tar.zst", "--plain-http --trust " + q(kSrc + "/keys/trust.toml"));
  ASSERT_EQ(good.status, 0) << good.output;
  // A root that trusts only the second demo key: the bundle's one signature is not enough.
  const std::string pub = slurp(kSrc + "/keys/demo-hq2.pub");
  const std::string key = pub.substr(pub.find('\n') + 1, 56);
  spit(dir / "other.toml",
       "format = \"airlock-trust/1\"\nthreshold = 1\n\n[[keys]]\nname = \"hq2\"\npublic_key = \"" + key + "\"\n");
  auto r = pull(reg.host(), "airlock/demo:1", dir / "out.tar.zst", "--plain-http --trust " + q(dir / "other.toml"));
  EXPECT_EQ(r.status, 11) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst"));
  EXPECT_FALSE(fs::exists(dir / "out.tar.zst.partial"));
}

TEST_F(RegistryCli, ATokenThatExpiresMidPushIsFetchedAgain) {
  // Tokens good for 3 s. The proxy holds the first PATCH, then the first blob HEAD after it, until
  // the token each carries has expired: a 401 on a request whose body is spent (resent from the
  // acknowledged offset) and one on a request without a body (sent again at once).
  RegistryServer reg(dir / "reg", RegistryVariant{.token = true, .token_ttl = 3});
  ASSERT_TRUE(reg.ok()) << reg.log();
  FaultProxy proxy(dir / "proxy", reg.host(), "expire-token");
  ASSERT_TRUE(proxy.ok());
  auto p = run("echo s3cret | " + kBin + " push " + q(bundle()) + " oci://" + proxy.host() +
               "/airlock/demo:1 --plain-http --chunk 1M --username alice --password-stdin --json");
  const std::string log = slurp(proxy.requests_log());
  ASSERT_EQ(p.status, 0) << p.output << log;
  EXPECT_EQ(json_of(p.output)["layers_uploaded"], 4) << p.output;
  EXPECT_GE(count_lines(log, "PATCH", {" 401"}), 1u) << log;
  EXPECT_GE(count_lines(log, "HEAD", {"/blobs/", " 401"}), 1u) << log;
  // The first token, and one after each expiry.
  EXPECT_GE(count_lines(slurp(reg.token_log()), "", {"repository:airlock/demo:pull,push"}), 3u)
      << slurp(reg.token_log());
  auto r = run("echo s3cret | " + kBin + " pull oci://" + reg.host() + "/airlock/demo:1 --out " +
               q(dir / "out.tar.zst") + " --plain-http --username alice --password-stdin");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, ARegistryKilledMidPushFailsThePushAndTheNextRunSkipsWhatWasFinished) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  // SIGKILL to the registry once two layers' uploads are closed (201).
  FaultProxy killer(dir / "killer", reg.host(), "kill-after-puts:2:" + std::to_string(reg.pid()));
  ASSERT_TRUE(killer.ok());
  auto first = push(killer.host(), "airlock/demo:1");
  EXPECT_EQ(first.status, 3) << first.output;
  EXPECT_NE(first.output.find(killer.host()), std::string::npos) << first.output;
  EXPECT_EQ(count_lines(slurp(killer.requests_log()), "PUT", {"digest=", " 201"}), 2u);

  reg.stop();                                                              // reaps the killed process
  RegistryServer again(dir / "reg", RegistryVariant{.port = reg.port()});  // same storage, same port
  ASSERT_TRUE(again.ok()) << again.log();
  FaultProxy watch(dir / "watch", again.host(), "pass");
  ASSERT_TRUE(watch.ok());
  auto second = push(watch.host(), "airlock/demo:1", "--plain-http --json");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_EQ(json_of(second.output)["layers_uploaded"], 2) << second.output;

  // The two layers finished before the kill were found by HEAD and not uploaded again: the only
  // uploads were layers 3 and 4 and the config.
  const auto m = get_manifest(again.host(), "1");
  ASSERT_TRUE(m.is_object());
  const std::string log = slurp(watch.requests_log());
  for (int i = 0; i < 2; ++i) {
    const std::string hex = m["layers"][i]["digest"].get<std::string>().substr(7);
    EXPECT_EQ(count_lines(log, "HEAD", {hex, " 200"}), 1u) << log;
    EXPECT_EQ(count_lines(log, "PUT", {hex}), 0u) << log;
  }
  EXPECT_EQ(count_lines(log, "POST", {"/blobs/uploads/"}), 3u) << log;
  auto r = pull(again.host(), "airlock/demo:1", dir / "out.tar.zst");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle()));
}

TEST_F(RegistryCli, ALostUploadSessionStartsTheLayerAgain) {
  // A stale Location (another session's UUID): the PATCH meets BLOB_UPLOAD_INVALID. A session
  // cancelled under us: the closing PUT meets BLOB_UPLOAD_UNKNOWN. Either way the layer starts
  // over with a new POST, and the push succeeds.
  const std::tuple<std::string, std::string, std::string> cases[] = {
      {"stale-location-once", "PATCH", "404 BLOB_UPLOAD_INVALID"},
      {"cancel-upload-once", "PUT", "404 BLOB_UPLOAD_UNKNOWN"}};
  for (const auto& [mode, method, answer] : cases) {
    RegistryServer reg(dir / mode / "reg");
    ASSERT_TRUE(reg.ok()) << reg.log();
    FaultProxy proxy(dir / mode / "proxy", reg.host(), mode);
    ASSERT_TRUE(proxy.ok());
    auto p = push(proxy.host(), "airlock/demo:1", "--plain-http --json");
    const std::string log = slurp(proxy.requests_log());
    ASSERT_EQ(p.status, 0) << mode << ": " << p.output << log;
    EXPECT_EQ(json_of(p.output)["layers_uploaded"], 4) << mode;
    EXPECT_EQ(count_lines(log, method, {"/blobs/uploads/", answer}), 1u) << mode << ": " << log;
    EXPECT_EQ(count_lines(log, "POST", {"/blobs/uploads/"}), 6u) << mode << ": " << log;  // 4 layers, config, again
    auto r = pull(reg.host(), "airlock/demo:1", dir / mode / "out.tar.zst");
    ASSERT_EQ(r.status, 0) << mode << ": " << r.output;
    EXPECT_TRUE(slurp(dir / mode / "out.tar.zst") == slurp(bundle())) << mode;
  }
}

TEST_F(RegistryCli, TenThousandLayersAreRefusedBeforeAnyBlobIsFetched) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  const auto good = get_manifest(reg.host(), "1");
  ASSERT_TRUE(good.is_object());
  // n layers, all the same 1 MiB blob, sizes adding up to the size annotation.
  auto crafted = [&](std::size_t n) {
    auto m = good;
    m["layers"] = nlohmann::json::array();
    for (std::size_t i = 0; i < n; ++i) m["layers"].push_back(good["layers"][1]);
    m["annotations"]["io.airlock.bundle.size"] = std::to_string(n * good["layers"][1]["size"].get<std::uint64_t>());
    return m.dump();
  };
  ASSERT_EQ(put_manifest(reg.host(), "over", crafted(10000)).status, 0);
  ASSERT_EQ(put_manifest(reg.host(), "most", crafted(9999)).status, 0);
  FaultProxy watch(dir / "watch", reg.host(), "pass");
  ASSERT_TRUE(watch.ok());
  auto over = pull(watch.host(), "airlock/demo:over", dir / "over.tar.zst");
  EXPECT_EQ(over.status, 10) << over.output;
  EXPECT_NE(over.output.find("10000 layers (at most 9999)"), std::string::npos) << over.output;
  EXPECT_FALSE(fs::exists(dir / "over.tar.zst"));
  EXPECT_FALSE(fs::exists(dir / "over.tar.zst.partial"));
  // 9,999 layers pass the count: what stops this pull is the whole-file digest asked for (12).
  auto most =
      pull(watch.host(), "airlock/demo:most", dir / "most.tar.zst", "--plain-http --sha256 " + std::string(64, '0'));
  EXPECT_EQ(most.status, 12) << most.output;
  EXPECT_FALSE(fs::exists(dir / "most.tar.zst.partial"));
  const std::string log = slurp(watch.requests_log());
  EXPECT_EQ(count_lines(log, "GET", {"/blobs/"}), 0u) << log;
  EXPECT_EQ(count_lines(log, "GET", {"/manifests/"}), 2u) << log;
}

TEST_F(RegistryCli, PushRefusesAChunkThatMakesMoreThan9999Layers) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  const auto m = get_manifest(reg.host(), "1");
  ASSERT_TRUE(m.is_object());
  // The head is one layer; the payload may take 9,998 more. The smallest chunk that fits:
  const std::uint64_t payload = fs::file_size(bundle()) - m["layers"][0]["size"].get<std::uint64_t>();
  const std::uint64_t fits = (payload + 9997) / 9998;
  // Nothing listens there: a push that got past the layer count fails on the network (3).
  const std::string nowhere = "127.0.0.1:" + std::to_string(free_port());
  auto at = run(kBin + " push " + q(bundle()) + " oci://" + nowhere + "/airlock/demo:1 --plain-http --chunk " +
                std::to_string(fits));
  EXPECT_EQ(at.status, 3) << at.output;
  auto over = run(kBin + " push " + q(bundle()) + " oci://" + nowhere + "/airlock/demo:1 --plain-http --chunk " +
                  std::to_string(fits - 1));
  EXPECT_EQ(over.status, 2) << over.output;
  EXPECT_NE(over.output.find("more than 9999 layers"), std::string::npos) << over.output;
}

TEST_F(RegistryCli, ChunkTakesASizeOnly) {
  for (const std::string bad : {"fat32", "1T", "12 M", ""}) {
    auto r =
        run(kBin + " push " + q(bundle()) + " oci://127.0.0.1:1/airlock/demo:1 --plain-http --chunk '" + bad + "'");
    EXPECT_EQ(r.status, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("--chunk '" + bad + "'"), std::string::npos) << r.output;
  }
  auto zero = run(kBin + " push " + q(bundle()) + " oci://127.0.0.1:1/airlock/demo:1 --plain-http --chunk 0");
  EXPECT_EQ(zero.status, 2) << zero.output;
}

TEST_F(RegistryCli, AWrongDockerContentDigestHeaderIsIgnored) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  FaultProxy proxy(dir / "proxy", reg.host(), "wrong-digest-header");
  ASSERT_TRUE(proxy.ok());
  auto p = push(proxy.host(), "airlock/demo:1");
  ASSERT_EQ(p.status, 0) << p.output;
  const std::string digest = p.output.substr(p.output.find("sha256:"), 71);
  EXPECT_NE(digest, "sha256:" + std::string(64, '0'));
  auto head = run("curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://" + proxy.host() +
                  "/v2/airlock/demo/manifests/1");
  ASSERT_NE(head.output.find("sha256:" + std::string(64, '0')), std::string::npos) << head.output;
  for (const std::string& ref : {std::string("airlock/demo:1"), "airlock/demo@" + digest}) {
    auto r = pull(proxy.host(), ref, dir / "out.tar.zst");
    ASSERT_EQ(r.status, 0) << ref << ": " << r.output;
    EXPECT_TRUE(slurp(dir / "out.tar.zst") == slurp(bundle())) << ref;
    fs::remove(dir / "out.tar.zst");
  }
}

TEST_F(RegistryCli, ALayerSizeTheBlobDoesNotHaveIsIntegrityAndLeavesNothing) {
  RegistryServer reg(dir / "reg");
  ASSERT_TRUE(reg.ok()) << reg.log();
  ASSERT_EQ(push(reg.host(), "airlock/demo:1").status, 0);
  const auto good = get_manifest(reg.host(), "1");
  ASSERT_TRUE(good.is_object());
  // The sizes still add up to the declared total (distribution checks neither): one layer says a
  // byte less than its blob holds, the next a byte more, or the other way round.
  for (const int delta : {-1, 1}) {
    auto m = good;
    const auto size = [&](int i) { return good["layers"][i]["size"].get<std::int64_t>(); };
    m["layers"][1]["size"] = size(1) + delta;
    m["layers"][2]["size"] = size(2) - delta;
    const std::string tag = delta < 0 ? "short" : "long";
    ASSERT_EQ(put_manifest(reg.host(), tag, m.dump()).status, 0) << tag;
    const fs::path out = dir / (tag + ".tar.zst");
    auto r = pull(reg.host(), "airlock/demo:" + tag, out);
    EXPECT_EQ(r.status, 12) << tag << ": " << r.output;
    EXPECT_NE(r.output.find("layer 2"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out)) << tag;
    EXPECT_FALSE(fs::exists(out.string() + ".partial")) << tag;
  }
}

#ifndef AIRLOCK_HAVE_REGISTRY
TEST(RegistryOff, PushAndPullSayTheyAreNotBuiltIn) {
  for (const std::string cmd : {" push b.tar.zst oci://127.0.0.1:1/a/b:1", " pull oci://127.0.0.1:1/a/b:1 --out x"}) {
    auto r = run(kBin + cmd);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("not built in"), std::string::npos) << r.output;
  }
}
#endif

}  // namespace

// sign(): adds a signature by rewriting only the head frames; the payload's compressed bytes are
// copied verbatim. Checked with stock tar, zstd and minisign.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zstd.h>

#include "bundler/bundler.hpp"
#include "tests/bundler/bundler_fixture.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

const std::string kHq = "F00D22F80F4116F1", kHq2 = "521AE1523F9C4449";

// Compressed size of the first two zstd frames (manifest, signatures): the head.
std::size_t head_bytes(const std::string& bundle) {
  std::size_t a = ZSTD_findFrameCompressedSize(bundle.data(), bundle.size());
  std::size_t b = ZSTD_findFrameCompressedSize(bundle.data() + a, bundle.size() - a);
  if (ZSTD_isError(a) || ZSTD_isError(b)) return 0;
  return a + b;
}

ino_t inode(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_ino;
}

struct Built {
  TempDir dir;
  fs::path bundle() const { return dir / "demo.tar.zst"; }
  Built() {
    auto r = build_with(kExample, bundle().string(), {demo_key("demo-hq")});
    if (!r) throw std::runtime_error(r.error().what());
  }
  Result<bundler::SignReport> sign_key(const minisign::SecretKey& k, std::optional<std::string> out = std::nullopt) {
    bundler::SignRequest req;
    req.bundle_path = bundle().string();
    req.out_path = out;
    req.key = k;
    return bundler::sign(req);
  }
  Result<bundler::SignReport> attach(const std::string& sig, std::optional<std::string> out = std::nullopt) {
    bundler::SignRequest req;
    req.bundle_path = bundle().string();
    req.out_path = out;
    req.signature_file_contents = sig;
    return bundler::sign(req);
  }
};

}  // namespace

TEST(Sign, SecondKeyInPlaceKeepsPayloadBytesAndSortsSignatures) {
  Built b;
  std::string before = slurp(b.bundle());
  ino_t ino_before = inode(b.bundle());
  auto r = b.sign_key(demo_key("demo-hq2"));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->key_id, kHq2);
  EXPECT_EQ(r->key_ids, (std::vector<std::string>{kHq2, kHq}));
  std::string after = slurp(b.bundle());
  // The payload frames are the same bytes, at the end of the new file.
  std::size_t old_head = head_bytes(before), new_head = head_bytes(after);
  ASSERT_GT(old_head, 0u);
  ASSERT_GT(new_head, old_head);
  EXPECT_EQ(after.size() - new_head, before.size() - old_head);
  EXPECT_EQ(after.substr(new_head), before.substr(old_head));
  // Replaced by rename (atomic), no temporary left behind.
  EXPECT_NE(inode(b.bundle()), ino_before);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(b.dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
  // Stock tools: lists in order, tests clean, both signatures verify.
  EXPECT_EQ(run("zstd -q -t " + q(b.bundle())).status, 0);
  auto list = run("tar --zstd -tf " + q(b.bundle()));
  EXPECT_EQ(list.output.rfind("manifest.toml\nsignatures/" + kHq2 + ".minisig\nsignatures/" + kHq + ".minisig\n", 0),
            0u)
      << list.output;
  fs::create_directories(b.dir / "x");
  ASSERT_EQ(run("tar --zstd -xf " + q(b.bundle()) + " -C " + q(b.dir / "x")).status, 0);
  for (const auto& [name, id] : {std::pair{"demo-hq", kHq}, std::pair{"demo-hq2", kHq2}}) {
    auto v = run("cd " + q(b.dir / "x") + " && minisign -V -H -p " + q(kSource + "/keys/" + name + ".pub") +
                 " -m manifest.toml -x signatures/" + id + ".minisig");
    EXPECT_EQ(v.status, 0) << v.output;
  }
}

TEST(Sign, BuildThenSignEqualsBuildingWithBothKeys) {
  Built b;
  ASSERT_TRUE(b.sign_key(demo_key("demo-hq2")));
  auto both = build_with(kExample, (b.dir / "both.tar.zst").string(), {demo_key("demo-hq2"), demo_key("demo-hq")});
  ASSERT_TRUE(both) << both.error().what();
  EXPECT_EQ(slurp(b.bundle()), slurp(b.dir / "both.tar.zst"));
}

TEST(Sign, AttachesAStockMinisignSignatureToACopy) {
  Built b;
  fs::create_directories(b.dir / "m");
  ASSERT_EQ(run("tar --zstd -xf " + q(b.bundle()) + " -C " + q(b.dir / "m") + " manifest.toml").status, 0);
  auto s = run("minisign -S -s " + q(kSource + "/keys/demo-hq2.key") + " -m " + q(b.dir / "m/manifest.toml") +
               " -t 'laptop signature' </dev/null");
  ASSERT_EQ(s.status, 0) << s.output;
  std::string original = slurp(b.bundle());
  auto out = b.dir / "signed.tar.zst";
  auto r = b.attach(slurp(b.dir / "m/manifest.toml.minisig"), out.string());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->key_id, kHq2);
  EXPECT_EQ(slurp(b.bundle()), original);  // --out leaves the input alone
  fs::create_directories(b.dir / "x");
  ASSERT_EQ(run("tar --zstd -xf " + q(out) + " -C " + q(b.dir / "x")).status, 0);
  auto v = run("cd " + q(b.dir / "x") + " && minisign -V -H -p " + q(kSource + "/keys/demo-hq2.pub") +
               " -m manifest.toml -x signatures/" + kHq2 + ".minisig");
  EXPECT_EQ(v.status, 0) << v.output;
  EXPECT_NE(v.output.find("laptop signature"), std::string::npos) << v.output;
}

TEST(Sign, DuplicateKeyIdIsRefusedAndTheBundleIsUnchanged) {
  Built b;
  std::string original = slurp(b.bundle());
  auto r = b.sign_key(demo_key("demo-hq"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("already has a signature by key " + kHq), std::string::npos) << r.error().what();
  // The same key through a stock signature file.
  fs::create_directories(b.dir / "m");
  ASSERT_EQ(run("tar --zstd -xf " + q(b.bundle()) + " -C " + q(b.dir / "m") + " manifest.toml").status, 0);
  ASSERT_EQ(
      run("minisign -S -s " + q(kSource + "/keys/demo-hq.key") + " -m " + q(b.dir / "m/manifest.toml") + " </dev/null")
          .status,
      0);
  r = b.attach(slurp(b.dir / "m/manifest.toml.minisig"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("already has a signature"), std::string::npos);
  EXPECT_EQ(slurp(b.bundle()), original);
}

TEST(Sign, MalformedSignatureFileIsNotAuthentic) {
  Built b;
  std::string original = slurp(b.bundle());
  auto r = b.attach("untrusted comment: x\nnot base64!\ntrusted comment: y\nAAAA\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic);
  EXPECT_EQ(slurp(b.bundle()), original);
}

TEST(Sign, RefusesABundleWhoseSignaturesShareAFrameWithThePayload) {
  Built b;
  // Recompressed by stock zstd: one frame for everything; still a valid tar.zst.
  auto one = b.dir / "one.tar.zst";
  ASSERT_EQ(run("zstd -q -d -c " + q(b.bundle()) + " | zstd -q -c > " + q(one)).status, 0);
  bundler::SignRequest req;
  req.bundle_path = one.string();
  req.key = demo_key("demo-hq2");
  auto r = bundler::sign(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed);
  EXPECT_NE(r.error().what().find("signatures are not in frames of their own"), std::string::npos) << r.error().what();
}

TEST(Sign, SixteenSignaturesAtMost) {
  TempDir t;
  std::vector<minisign::SecretKey> keys;
  for (int i = 0; i < 17; ++i) keys.push_back(minisign::generate_key());
  auto r = build_with(kExample, (t / "x.tar.zst").string(), keys);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_FALSE(fs::exists(t / "x.tar.zst"));
  auto last = keys.back();
  keys.pop_back();
  auto built = build_with(kExample, (t / "x.tar.zst").string(), keys);
  ASSERT_TRUE(built) << built.error().what();
  EXPECT_EQ(built->key_ids.size(), 16u);
  bundler::SignRequest req;
  req.bundle_path = (t / "x.tar.zst").string();
  req.key = last;
  auto s = bundler::sign(req);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what().find("16 signatures"), std::string::npos) << s.error().what();
}

TEST(Sign, NotABundleIsMalformed) {
  TempDir t;
  spit(t / "junk.tar.zst", "this is not zstd");
  bundler::SignRequest req;
  req.bundle_path = (t / "junk.tar.zst").string();
  req.key = demo_key("demo-hq2");
  auto r = bundler::sign(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
}

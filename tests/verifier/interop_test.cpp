// The verifier against the other producers: bundles made by our bundler (build, then sign adding
// a second signature) verify; and craft's bundles are what stock tools expect (tar lists them,
// zstd tests them, minisign -H verifies their manifest signature) — so the hostile fixtures
// elsewhere are mutations of a genuinely valid bundle.
#include <gtest/gtest.h>

#include "bundler/bundler.hpp"
#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Interop = VerifierTest;

TEST_F(Interop, BundlerOutputVerifiesAndASecondSignatureMeetsThresholdTwo) {
  auto built = build_example();
  ASSERT_TRUE(built.has_value()) << built.error().what();
  auto r = verify(request(true));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->manifest_sha256, built->manifest_sha256);
  EXPECT_EQ(r->files_checked, built->manifest.files.size());
  for (const auto& f : built->manifest.files) EXPECT_TRUE(fs::is_regular_file(staging / f.path)) << f.path;

  const auto second = craft::make_key("hq-backup");
  trust = craft::trust_root({craft::trust_key(hq), craft::trust_key(second)}, 2);
  fs::remove_all(staging);
  auto short_of_two = verify(request(true));
  ASSERT_FALSE(short_of_two.has_value());
  EXPECT_EQ(short_of_two.error().cls(), ErrorClass::not_authentic);

  bundler::SignRequest s;
  s.bundle_path = bundle_path.string();
  s.key = second.sk;
  auto signed_ = bundler::sign(s);
  ASSERT_TRUE(signed_.has_value()) << signed_.error().what();
  auto r2 = verify(request(true));
  ASSERT_TRUE(r2.has_value()) << r2.error().what();
  EXPECT_EQ(r2->valid_signatures, 2);
}

TEST_F(Interop, StockToolsAcceptCraftedGoodBundles) {
  const auto b = good();
  test::spit(bundle_path, b.bytes());
  auto listed = test::run("tar --zstd -tf '" + bundle_path.string() + "'");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_EQ(listed.output, "manifest.toml\n" + b.head[1].path + "\nnotes/en.md\nbin/migrate.sh\ndata/table.csv\n");
  auto tested = test::run("zstd -qt '" + bundle_path.string() + "'");
  EXPECT_EQ(tested.status, 0) << tested.output;

  test::spit(dir / "manifest.toml", b.manifest);
  test::spit(dir / "sig.minisig", b.head[1].data);
  test::spit(dir / "key.pub", minisign::format_public_key_file(hq.pub()));
  auto checked = test::run("minisign -V -H -p '" + (dir / "key.pub").string() + "' -m '" +
                           (dir / "manifest.toml").string() + "' -x '" + (dir / "sig.minisig").string() + "'");
  EXPECT_EQ(checked.status, 0) << checked.output;
}

}  // namespace
}  // namespace airlock::verifier::testing

// Spec §2.3 and §3: payload entries. A header that breaks the path rules is malformed (10); one
// that is fine but out of order, unlisted, repeated, or whose size or SHA-256 differs from the
// manifest, and a listed file that never comes, are integrity failures (12). Either way nothing
// stays in staging.
#include <gtest/gtest.h>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Payload = VerifierTest;

class PathTraversal : public VerifierTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(PathTraversal, RefusedAsMalformedAndNothingWrittenOutside) {
  auto b = good();
  b.payload[0].path = GetParam();
  expect_refused(b, ErrorClass::malformed);
  EXPECT_FALSE(fs::exists(dir.path().parent_path() / "x"));
}

INSTANTIATE_TEST_SUITE_P(Verifier, PathTraversal,
                         ::testing::Values("../x", "/etc/x", "a/../../x", "./x", "a//x", "a/", "a\\x", "signatures/x",
                                           "notes/en.md\n"));

TEST_F(Payload, EntryNotInManifest) {
  auto b = good();
  b.payload.push_back(craft::file_entry("extra/unlisted.txt", "surprise\n"));
  expect_refused(b, ErrorClass::integrity, "not listed");
}

TEST_F(Payload, UnlistedEntryInTheMiddle) {
  auto b = good();
  b.payload.insert(b.payload.begin() + 1, craft::file_entry("extra/unlisted.txt", "surprise\n"));
  expect_refused(b, ErrorClass::integrity, "'extra/unlisted.txt': not listed");
}

TEST_F(Payload, MissingFile) {
  auto b = good();
  b.payload.pop_back();
  expect_refused(b, ErrorClass::integrity, "'data/table.csv'");
}

TEST_F(Payload, DuplicateFile) {
  auto b = good();
  b.payload.insert(b.payload.begin() + 1, b.payload[0]);
  expect_refused(b, ErrorClass::integrity, "repeated");
}

TEST_F(Payload, FilesOutOfOrder) {
  auto b = good();
  std::swap(b.payload[1], b.payload[2]);
  expect_refused(b, ErrorClass::integrity, "out of order");
}

TEST_F(Payload, FileLargerThanManifestSays) {
  auto b = good();
  b.payload[1].data += "rm -rf /\n";
  expect_refused(b, ErrorClass::integrity, "in tar header");
}

TEST_F(Payload, FileSmallerThanManifestSays) {
  auto b = good();
  b.payload[1].data.pop_back();
  expect_refused(b, ErrorClass::integrity, "in tar header");
}

TEST_F(Payload, HugeDeclaredSizeRefusedBeforeReading) {
  // The header claims 8 GiB; the verifier must refuse from the header, not try to read it.
  auto b = good();
  b.payload[0].header_size = (8ull << 30) - 1;  // the largest plain ustar size
  b.payload.resize(1);
  b.end_marker = false;
  expect_refused(b, ErrorClass::integrity, "in tar header");
}

TEST_F(Payload, HashMismatch) {
  auto b = good();
  b.payload[2].data[0] = 'X';  // same size, other bytes
  expect_refused(b, ErrorClass::integrity, "SHA-256");
}

TEST_F(Payload, HashMismatchInTheLastFileRemovesEarlierFiles) {
  auto b = good();
  b.payload[2].data[0] = 'X';
  auto r = run(b);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity);
  EXPECT_FALSE(fs::exists(staging / "notes/en.md"));
  EXPECT_FALSE(fs::exists(staging));
}

TEST_F(Payload, EmptyFileAccepted) {
  craft::BundleSpec s;
  s.files.push_back({"data/empty", "", false});
  auto r = run(good(s));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_TRUE(fs::is_regular_file(staging / "data/empty"));
  EXPECT_EQ(fs::file_size(staging / "data/empty"), 0u);
}

TEST_F(Payload, LargerFileAcrossManyBuffers) {
  craft::BundleSpec s;
  std::string big(3 * (1 << 20) + 12345, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  s.files.push_back({"blobs/big.bin", big, false});
  auto r = run(good(s));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(test::slurp(staging / "blobs/big.bin"), big);
}

TEST_F(Payload, ConsumerSizeLimit) {
  policy.max_size = 10;
  expect_refused(good(), ErrorClass::malformed, "limit");
}

}  // namespace
}  // namespace airlock::verifier::testing

// Spec §7 steps 6 and 8: the staging folder. It must not exist or be empty (else 2); the verifier
// writes only beneath it, never through a link, and removes what it created on any failure while
// leaving what it did not create alone.
#include <gtest/gtest.h>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Staging = VerifierTest;

TEST_F(Staging, NonEmptyFolderIsAUsageErrorAndUntouched) {
  fs::create_directories(staging);
  test::spit(staging / "precious.txt", "keep me\n");
  test::spit(bundle_path, good().bytes());
  const auto before = snapshot(dir.path());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_EQ(snapshot(dir.path()), before);
}

TEST_F(Staging, SymlinkToElsewhereIsRefusedAndNothingWrittenThroughIt) {
  const auto elsewhere = dir / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, staging);
  test::spit(bundle_path, good().bytes());
  const auto before = snapshot(dir.path());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_EQ(snapshot(dir.path()), before);
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(Staging, SymlinkNamedWithATrailingSlashIsStillRefused) {
  const auto elsewhere = dir / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, staging);
  test::spit(bundle_path, good().bytes());
  auto req = request(true);
  req.staging_dir = staging.string() + "/";
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(Staging, RegularFileInItsPlaceIsAUsageError) {
  test::spit(staging, "not a folder");
  test::spit(bundle_path, good().bytes());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_EQ(test::slurp(staging), "not a folder");
}

TEST_F(Staging, ExistingEmptyFolderIsUsedAndKeptOnFailure) {
  fs::create_directories(staging);
  auto b = good();
  b.payload[2].data[0] = 'X';  // fails after two files were written
  test::spit(bundle_path, b.bytes());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity);
  ASSERT_TRUE(fs::is_directory(staging)) << "the caller's folder was removed";
  EXPECT_TRUE(fs::is_empty(staging));
}

TEST_F(Staging, ExistingEmptyFolderReceivesTheFiles) {
  fs::create_directories(staging);
  auto r = run(good());
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_TRUE(fs::is_regular_file(staging / "bin/migrate.sh"));
}

TEST_F(Staging, MissingParentIsAnIoError) {
  staging = dir / "no" / "such" / "staging";
  test::spit(bundle_path, good().bytes());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_FALSE(fs::exists(dir / "no"));
}

// Links planted inside staging while the verifier runs (after it checked the folder was empty)
// are never followed: folders are entered with O_NOFOLLOW, files created with O_EXCL|O_NOFOLLOW.
TEST_F(Staging, PlantedFolderSymlinkIsNotFollowed) {
  const auto elsewhere = dir / "elsewhere";
  fs::create_directories(elsewhere);
  test::spit(bundle_path, good().bytes());
  auto req = request(true);
  req.on_manifest = [&](const Manifest&) -> Status {
    fs::create_directory_symlink(elsewhere, staging / "notes");
    return {};
  };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_TRUE(fs::is_empty(elsewhere));
  EXPECT_TRUE(fs::is_symlink(staging / "notes"));  // not ours: left as it was
}

TEST_F(Staging, PlantedFileSymlinkIsNotFollowed) {
  const auto victim = dir / "victim.txt";
  test::spit(victim, "original\n");
  test::spit(bundle_path, good().bytes());
  auto req = request(true);
  req.on_manifest = [&](const Manifest&) -> Status {
    fs::create_directories(staging / "notes");
    fs::create_symlink(victim, staging / "notes" / "en.md");
    return {};
  };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_EQ(test::slurp(victim), "original\n");
}

// Cleanup after a failure must not delete through a link either: one of the verifier's own
// folders is swapped for a link to elsewhere mid-run, then the run fails.
TEST_F(Staging, CleanupDoesNotDeleteThroughASwappedFolder) {
  const auto elsewhere = dir / "elsewhere";
  fs::create_directories(elsewhere);
  test::spit(elsewhere / "en.md", "victim\n");
  auto b = good();
  b.payload[2].data[0] = 'X';  // the last file fails its hash
  test::spit(bundle_path, b.bytes());
  auto req = request(true);
  req.on_progress = [&](const Progress& p) {
    if (p.current_file != "data/table.csv" || fs::is_symlink(staging / "notes")) return;
    fs::rename(staging / "notes", dir / "moved-notes");
    fs::create_directory_symlink(elsewhere, staging / "notes");
  };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity) << r.error().what();
  EXPECT_EQ(test::slurp(elsewhere / "en.md"), "victim\n");
}

}  // namespace
}  // namespace airlock::verifier::testing

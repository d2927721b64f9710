// Spec §7 steps 6 and 8: the staging folder. It must not exist or be empty (else 2), and it must
// not be a symbolic link however it is spelt; the verifier writes only beneath it, into
// `.airlock-partial/` until everything is verified, never through a link, and removes what it
// created on any failure while leaving what it did not create alone.
#include <gtest/gtest.h>

#include <set>

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

// Links planted while the verifier runs (after it checked the folder was empty) are never
// followed, neither in the partial folder it writes into (folders are entered with O_NOFOLLOW,
// files created with O_EXCL|O_NOFOLLOW) nor in the folder itself, where the verified entries are
// moved at the end without replacing anything.
TEST_F(Staging, PlantedFolderSymlinkIsNotFollowed) {
  for (const std::string where : {".airlock-partial/", ""}) {
    const auto elsewhere = dir / "elsewhere";
    fs::create_directories(elsewhere);
    test::spit(bundle_path, good().bytes());
    auto req = request(true);
    req.on_manifest = [&](const Manifest&) -> Status {
      fs::create_directory_symlink(elsewhere, staging / (where + "notes"));
      return {};
    };
    auto r = verify(req);
    ASSERT_FALSE(r.has_value()) << where;
    EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
    EXPECT_TRUE(fs::is_empty(elsewhere)) << where;
    EXPECT_TRUE(fs::is_symlink(staging / (where + "notes"))) << where;  // not ours: left as it was
    if (where.empty()) {  // what was moved up before the clash went back and was removed
      std::set<std::string> left;
      for (const auto& e : fs::directory_iterator(staging)) left.insert(e.path().filename().string());
      EXPECT_EQ(left, std::set<std::string>{"notes"});
    }
    fs::remove_all(staging);
  }
}

TEST_F(Staging, PlantedFileSymlinkIsNotFollowed) {
  for (const std::string where : {".airlock-partial/", ""}) {
    const auto victim = dir / "victim.txt";
    test::spit(victim, "original\n");
    test::spit(bundle_path, good().bytes());
    auto req = request(true);
    req.on_manifest = [&](const Manifest&) -> Status {
      fs::create_directories(staging / (where + "notes"));
      fs::create_symlink(victim, staging / (where + "notes/en.md"));
      return {};
    };
    auto r = verify(req);
    ASSERT_FALSE(r.has_value()) << where;
    EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
    EXPECT_EQ(test::slurp(victim), "original\n") << where;
    fs::remove_all(staging);
  }
}

// Unverified bytes never sit where verified ones go: while the payload streams, the folder holds
// only `.airlock-partial`; after success it holds exactly the payload, and the partial folder is gone.
TEST_F(Staging, FilesAreExtractedIntoThePartialFolderAndMovedUpAtTheEnd) {
  test::spit(bundle_path, good().bytes());
  auto req = request(true);
  std::set<std::string> seen_during;
  req.on_progress = [&](const Progress&) {
    for (const auto& e : fs::directory_iterator(staging)) seen_during.insert(e.path().filename().string());
  };
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(seen_during, std::set<std::string>{".airlock-partial"});
  std::set<std::string> after;
  for (const auto& e : fs::directory_iterator(staging)) after.insert(e.path().filename().string());
  EXPECT_EQ(after, (std::set<std::string>{"bin", "data", "notes"}));
  EXPECT_EQ(test::slurp(staging / "data/table.csv"), "id,name\n1,alpha\n2,beta\n");
  EXPECT_EQ(fs::status(staging / "bin/migrate.sh").permissions() & fs::perms::owner_exec, fs::perms::owner_exec);
}

// A payload may itself hold a top-level `.airlock-partial` (a valid path segment): it still lands
// where it belongs.
TEST_F(Staging, APayloadEntryNamedLikeThePartialFolderIsExtracted) {
  craft::BundleSpec s;
  s.files.push_back({".airlock-partial/x.txt", "mine\n", false});
  s.files.push_back({"zz.txt", "last\n", false});
  auto r = run(good(s));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(test::slurp(staging / ".airlock-partial/x.txt"), "mine\n");
  EXPECT_EQ(test::slurp(staging / "zz.txt"), "last\n");
  EXPECT_TRUE(fs::is_regular_file(staging / "notes/en.md"));
}

// What a killed run leaves (its partial folder) is refused clearly, as the non-empty folder it is.
TEST_F(Staging, AFolderLeftByAKilledRunIsRefusedClearly) {
  fs::create_directories(staging / ".airlock-partial/notes");
  test::spit(staging / ".airlock-partial/notes/en.md", "unverified\n");
  test::spit(bundle_path, good().bytes());
  const auto before = snapshot(dir.path());
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find(".airlock-partial"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("interrupted"), std::string::npos) << r.error().what();
  EXPECT_EQ(snapshot(dir.path()), before);
}

// The folder named through a link (`link/.`, `link/./`) is the link's target, which is refused like
// the link itself; a last step `..` is refused as such.
TEST_F(Staging, SymlinkNamedThroughDotIsStillRefused) {
  const auto elsewhere = dir / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, staging);
  test::spit(bundle_path, good().bytes());
  for (const std::string spelt : {"/.", "/./", "/.//."}) {
    auto req = request(true);
    req.staging_dir = staging.string() + spelt;
    auto r = verify(req);
    ASSERT_FALSE(r.has_value()) << spelt;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage) << spelt << ": " << r.error().what();
    EXPECT_TRUE(fs::is_empty(elsewhere)) << spelt << ": wrote through the link";
  }
  auto req = request(true);
  req.staging_dir = (dir / "elsewhere/..").string();
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::usage) << r.error().what();
  EXPECT_NE(r.error().what().find("ends in '..'"), std::string::npos) << r.error().what();
}

// The plain current folder (empty) is a fine place to extract to.
TEST_F(Staging, DotAloneNamesTheCurrentFolder) {
  fs::create_directories(staging);
  test::spit(bundle_path, good().bytes());
  const auto cwd = fs::current_path();
  fs::current_path(staging);
  auto req = request(true);
  req.staging_dir = ".";
  auto r = verify(req);
  fs::current_path(cwd);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_TRUE(fs::is_regular_file(staging / "notes/en.md"));
  EXPECT_FALSE(fs::exists(staging / ".airlock-partial"));
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
  const auto notes = staging / ".airlock-partial/notes";
  req.on_progress = [&](const Progress& p) {
    if (p.current_file != "data/table.csv" || fs::is_symlink(notes)) return;
    fs::rename(notes, dir / "moved-notes");
    fs::create_directory_symlink(elsewhere, notes);
  };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::integrity) << r.error().what();
  EXPECT_EQ(test::slurp(elsewhere / "en.md"), "victim\n");
}

}  // namespace
}  // namespace airlock::verifier::testing

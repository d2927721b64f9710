// Permissions of what airlock writes: a file replaced through AtomicFile keeps its mode and owner
// (a 0600 config holding secrets must not come back 0644 and root's), private folders and
// databases are 0700 / 0600 whatever the umask, and SQLite's journal of a private database is
// private too.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db/db.hpp"
#include "core/sys/fs.hpp"
#include "tests/support/perms.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

namespace fs = std::filesystem;


constexpr uid_t kOtherUid = 12345;
constexpr gid_t kOtherGid = 12346;

TEST(FilePerms, ReplacingAFileKeepsItsMode) {
  TempDir d;
  const fs::path f = d / "secret.toml";
  for (unsigned mode : {0600u, 0640u, 0444u, 0755u}) {
    spit(f, "old\n");
    ASSERT_EQ(::chmod(f.c_str(), mode), 0);
    ASSERT_TRUE(write_file_atomic(f.string(), "new\n"));
    EXPECT_EQ(slurp(f), "new\n");
    EXPECT_EQ(mode_of(f), mode) << std::oct << mode;
  }
}

TEST(FilePerms, ReplacingAFileKeepsItsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file away needs root";
  TempDir d;
  const fs::path f = d / "app.toml";
  spit(f, "old\n");
  ASSERT_EQ(::chown(f.c_str(), kOtherUid, kOtherGid), 0);
  ASSERT_EQ(::chmod(f.c_str(), 0640), 0);
  ASSERT_TRUE(write_file_atomic(f.string(), "new\n"));
  EXPECT_EQ(stat_of(f).st_uid, kOtherUid);
  EXPECT_EQ(stat_of(f).st_gid, kOtherGid);
  EXPECT_EQ(mode_of(f), 0640u);
}

TEST(FilePerms, NewFilesGetTheGivenModeAndExactOverridesWhatWasThere) {
  TempDir d;
  Umask um(0);
  ASSERT_TRUE(write_file_atomic((d / "pub").string(), "x", 0644));
  EXPECT_EQ(mode_of(d / "pub"), 0644u);
  // A secret key written over a world-readable file takes the mode asked for, and our owner.
  const fs::path key = d / "k.key";
  spit(key, "old");
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(key.c_str(), kOtherUid, kOtherGid), 0);
  }
  ASSERT_TRUE(write_file_atomic(key.string(), "secret", 0600, Perms::exact));
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(stat_of(key).st_uid, ::geteuid());
}

TEST(FilePerms, PrivateFoldersAndFilesWhateverTheUmask) {
  for (mode_t mask : {mode_t{022}, mode_t{0}}) {
    Umask m(mask);
    TempDir d;
    const fs::path dir = d / "a" / "state";
    ASSERT_TRUE(make_private_dir(dir.string()));
    EXPECT_EQ(mode_of(dir), 0700u) << "umask " << std::oct << mask;
    // One made earlier, wider, is narrowed.
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
    ASSERT_TRUE(make_private_dir(dir.string()));
    EXPECT_EQ(mode_of(dir), 0700u);
    const fs::path f = dir / "state.db";
    ASSERT_TRUE(make_private_file(f.string()));
    EXPECT_EQ(mode_of(f), 0600u);
    ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
    ASSERT_TRUE(make_private_file(f.string()));
    EXPECT_EQ(mode_of(f), 0600u);
    spit(d / "file", "x");
    EXPECT_FALSE(make_private_dir((d / "file").string()));
  }
}

TEST(FilePerms, PrivateDatabaseAndItsJournalAre0600) {
  Umask um(0);
  TempDir d;
  const fs::path p = d / "state.db";
  auto db = db::Database::open(p.string(), db::OpenMode::create_private);
  ASSERT_TRUE(db) << db.error().what();
  EXPECT_EQ(mode_of(p), 0600u);
  ASSERT_TRUE(db->exec("PRAGMA journal_mode = DELETE; CREATE TABLE t(v); BEGIN; INSERT INTO t VALUES (1);"));
  // Inside the transaction the rollback journal exists: SQLite gives it the database's mode.
  ASSERT_TRUE(fs::exists(d / "state.db-journal"));
  EXPECT_EQ(mode_of(d / "state.db-journal"), 0600u);
  ASSERT_TRUE(db->exec("COMMIT"));
  // An existing, wider one is narrowed when opened.
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  ASSERT_TRUE(db::Database::open(p.string(), db::OpenMode::create_private));
  EXPECT_EQ(mode_of(p), 0600u);
}

}  // namespace
}  // namespace airlock::test

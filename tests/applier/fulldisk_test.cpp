// A real full disk: the state folder on a small tmpfs (mount needs root; skipped with a message
// where it cannot mount). Staging or snapshot running out of room ends with exit class io (3) and
// the site's files unchanged.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cstring>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "applier/snapshot.hpp"
#include "tests/applier/fixture.hpp"

namespace airlock::test {
namespace {

class SmallDisk {
 public:
  SmallDisk(const fs::path& at, const std::string& size) : at_(at) {
    fs::create_directories(at);
    std::string opts = "size=" + size;
    mounted_ = ::mount("tmpfs", at.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted_) why_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  fs::path at_;
  bool mounted_ = false;
  std::string why_;
};

// Fills a mounted tmpfs until writing fails, leaving `keep` bytes free (roughly).
void fill(const fs::path& dir, std::uint64_t keep) {
  auto space = fs::space(dir);
  if (space.available > keep) spit(dir / "filler", std::string(space.available - keep, 'x'));
}

TEST(FullDisk, StagingWithoutRoomChangesNothing) {
  SiteDir s;
  SmallDisk disk(s.state, "3m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.why() << "); needs root";
  fill(s.state, 64 * 1024);
  std::string before = s.observable();
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

TEST(FullDisk, SnapshotHittingENOSPCIsAnIoErrorAndLeavesNoPartialSnapshot) {
  SiteDir s;
  // A database larger than the disk the snapshot goes to.
  {
    auto d = db::Database::open(s.db, db::OpenMode::read_write);
    ASSERT_TRUE(
        d->exec("CREATE TABLE big(b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                "WHERE x < 64) INSERT INTO big SELECT zeroblob(65536) FROM c;"));
  }
  SmallDisk disk(s.state, "1m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.why() << "); needs root";
  auto site = applier::load_site(s.site);
  ASSERT_TRUE(site);
  std::string before = s.observable();
  auto m = applier::take_snapshot(*site, "full", "2026-01-01T00:00:00Z", "");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().cls(), ErrorClass::io) << m.error().what();
  EXPECT_FALSE(fs::exists(s.state + "/snapshots/full.partial"));
  EXPECT_FALSE(fs::exists(s.state + "/snapshots/full"));
  EXPECT_EQ(s.observable(), before);
  // And through apply: refused with io before anything changes.
  auto r = applier::apply(s.site, bundles().v110, quiet_env());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_EQ(s.observable(), before);
}

}  // namespace
}  // namespace airlock::test

// The filesystem seam (core/sys/sys.hpp): with no plan armed the wrappers are libc; an armed plan
// counts mutating calls (reads are not counted), fails exactly the Nth without performing it, and
// counts atomically across threads. Then the two shared writers on top of it, swept over every
// call: AtomicFile (a failed write leaves the old file and no temporary) and SQLite through the
// VFS shim (a failed commit is ErrorClass::io naming the database, and the database holds exactly
// the old or the new rows, never a mix, and passes integrity_check).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/db/db.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

namespace fs = std::filesystem;

constexpr int kFaults[] = {EIO, ENOSPC};

// Names of the entries in `dir`, sorted (to find leftover temporaries).
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SysSeam, DisarmedWrappersAreLibc) {
  TempDir d;
  const std::string a = (d / "a").string(), b = (d / "b").string();
  Fd fd(sys::open(a.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(sys::write(fd.get(), "hello", 5), 5);
  ASSERT_EQ(sys::fsync(fd.get()), 0);
  ASSERT_EQ(sys::rename(a.c_str(), b.c_str()), 0);
  EXPECT_EQ(slurp(b), "hello");
  ASSERT_EQ(sys::mkdir((d / "sub").c_str(), 0755), 0);
  ASSERT_EQ(sys::symlink("b", (d / "link").c_str()), 0);
  ASSERT_EQ(sys::unlink((d / "link").c_str()), 0);
  ASSERT_EQ(sys::rmdir((d / "sub").c_str()), 0);
  EXPECT_EQ(names_in(d.path()), std::vector<std::string>{"b"});
}

TEST(SysSeam, CountsMutatingCallsOnlyAndFailsExactlyTheNth) {
  TempDir d;
  const std::string f = (d / "f").string();
  spit(f, "old");
  {
    sys::ArmedFault count({});
    Fd ro(sys::open(f.c_str(), O_RDONLY | O_CLOEXEC));  // a read: not counted
    ASSERT_TRUE(ro.valid());
    Fd rw(sys::open(f.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));  // counted
    ASSERT_EQ(sys::write(rw.get(), "new", 3), 3);
    EXPECT_EQ(count.calls(), 2u);
    EXPECT_FALSE(count.fired());
    EXPECT_EQ(count.ops(), (std::vector<std::string>{"open", "write"}));
  }
  for (int err : kFaults) {
    spit(f, "old");
    sys::ArmedFault fault({err, 2});
    Fd rw(sys::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    ASSERT_TRUE(rw.valid());
    errno = 0;
    EXPECT_EQ(sys::write(rw.get(), "XX", 2), -1);  // call 2: fails, not performed
    EXPECT_EQ(errno, err);
    EXPECT_EQ(slurp(f), "old");
    EXPECT_TRUE(fault.fired());
    EXPECT_EQ(fault.fired_op(), "write");
    EXPECT_EQ(sys::write(rw.get(), "YY", 2), 2);  // one-shot: the next call goes through
    EXPECT_EQ(slurp(f), "oldYY");
    EXPECT_EQ(fault.calls(), 3u);
  }
}

TEST(SysSeam, StickyEnospcFailsEveryLaterWriteButLetsRemovalsAndOpeningExistingFilesThrough) {
  TempDir d;
  const std::string f = (d / "f").string(), g = (d / "g").string();
  spit(f, "x");
  sys::ArmedFault fault({ENOSPC, 1, true});
  // Opening what exists takes no room, even with O_CREAT; creating or truncating does.
  Fd rw(sys::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(rw.valid());
  EXPECT_EQ(sys::write(rw.get(), "y", 1), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_FALSE(Fd(sys::open(g.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)).valid());
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_FALSE(Fd(sys::open(f.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC)).valid());
  EXPECT_EQ(sys::mkdir((d / "sub").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(sys::unlink(f.c_str()), 0);  // a full disk still lets you delete
  EXPECT_FALSE(fs::exists(f));
  EXPECT_EQ(fault.calls(), 6u);
  EXPECT_EQ(fault.fired_op(), "write");
}

TEST(SysSeam, CountingIsAtomicAcrossThreads) {
  TempDir d;
  const std::string f = (d / "f").string();
  Fd fd(::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  constexpr int kThreads = 4, kEach = 500;
  sys::ArmedFault fault({EIO, 777});
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        if (sys::pwrite(fd.get(), "z", 1, 0) != 1) ++failed;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(fault.calls(), static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(failed.load(), 1);
}

TEST(SysFaults, AtomicFileFailingAtEveryCallKeepsTheOldFileAndNoTemporary) {
  TempDir d;
  const std::string target = (d / "config.toml").string();
  std::uint64_t calls = 0;
  {
    spit(target, "old\n");
    sys::ArmedFault count({});
    ASSERT_TRUE(write_file_atomic(target, "new\n"));
    calls = count.calls();
  }
  ASSERT_GE(calls, 4u);  // create, write, fsync, rename (+ chmod, folder fsync)
  for (int err : kFaults) {
    for (std::uint64_t n = 1; n <= calls; ++n) {
      spit(target, "old\n");
      const std::string label = std::string(std::strerror(err)) + " at call " + std::to_string(n);
      sys::ArmedFault fault({err, n});
      auto r = write_file_atomic(target, "new\n");
      const std::string op = fault.fired_op();
      ASSERT_TRUE(fault.fired()) << label;
      ASSERT_FALSE(r) << label << " (" << op << ")";
      EXPECT_EQ(r.error().cls(), ErrorClass::io) << label;
      EXPECT_NE(r.error().what().find(target), std::string::npos) << label << ": " << r.error().what();
      // Only the folder fsync comes after the rename: then the new file is in place (and the
      // caller told the write may not be durable); before it, the old file is untouched.
      EXPECT_EQ(slurp(target), op == "fsync" && n == calls ? "new\n" : "old\n") << label << " (" << op << ")";
      EXPECT_EQ(names_in(d.path()), std::vector<std::string>{"config.toml"}) << label << ": temporary left";
    }
  }
}

std::string rows_of(db::Database& d) {
  auto r = d.query("SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY v)");
  if (!r) return "<" + r.error().what() + ">";
  const auto* s = std::get_if<std::string>(&(*r)[0][0]);
  return s ? *s : "";
}

TEST(SysFaults, SqliteCommitFailingAtEveryCallIsAnIoErrorAndAtomic) {
  TempDir d;
  const std::string path = (d / "main.db").string();
  auto setup = [&] {
    fs::remove(path);
    auto db = db::Database::open(path, db::OpenMode::create);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA journal_mode = DELETE; CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (1), (2);"));
  };
  const char* kTx = "BEGIN; INSERT INTO t VALUES (3); UPDATE t SET v = v + 10 WHERE v = 1; COMMIT;";
  std::uint64_t calls = 0;
  {
    setup();
    auto db = db::Database::open(path, db::OpenMode::read_write);
    sys::ArmedFault count({});
    ASSERT_TRUE(db->exec(kTx));
    calls = count.calls();
    EXPECT_EQ(rows_of(*db), "2,3,11");
  }
  ASSERT_GE(calls, 5u);  // journal open/write/sync, database write/sync, journal delete
  for (int err : kFaults) {
    for (std::uint64_t n = 1; n <= calls; ++n) {
      const std::string label = std::string(std::strerror(err)) + " at call " + std::to_string(n);
      setup();
      std::string op;
      {
        auto db = db::Database::open(path, db::OpenMode::read_write);
        ASSERT_TRUE(db);
        sys::ArmedFault fault({err, n});
        auto r = db->exec(kTx);
        op = fault.fired_op();
        if (!fault.fired() || r) {
          // ENOSPC never fails a removal (the journal delete): the commit goes through.
          EXPECT_EQ(err, ENOSPC) << label;
          EXPECT_TRUE(r) << label;
          continue;
        }
        EXPECT_EQ(r.error().cls(), ErrorClass::io) << label << " (" << op << "): " << r.error().what();
        EXPECT_NE(r.error().what().find(path), std::string::npos) << label << ": " << r.error().what();
        (void)db->exec("ROLLBACK");
      }
      auto again = db::Database::open(path, db::OpenMode::read_write);
      ASSERT_TRUE(again) << label;
      const std::string rows = rows_of(*again);
      EXPECT_TRUE(rows == "1,2" || rows == "2,3,11") << label << " (" << op << "): " << rows;
      auto ic = again->query("PRAGMA integrity_check");
      ASSERT_TRUE(ic) << label;
      EXPECT_EQ(std::get<std::string>((*ic)[0][0]), "ok") << label;
    }
  }
}

}  // namespace
}  // namespace airlock::test

// MappedFile and the SIGBUS guard, on real files: a page that cannot be read any more (the file
// shrank under the mapping) must become an error value where we touch the mapping, and must still
// kill the process anywhere else (the guard swallows only its own faults).
#include "core/sys/mapped_file.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/sys/fd.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

constexpr std::size_t kBytes = 3 << 20;

struct Mapped {
  TempDir dir;
  std::string path = (dir / "f.bin").string();
  Fd fd;
  std::shared_ptr<MappedFile> map;
  Mapped() {
    std::string bytes(kBytes, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + (i >> 12));
    spit(path, bytes);
    fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    map = MappedFile::map(fd.get(), path);
  }
};

TEST(MappedFile, MapsARegularFileWithItsBytes) {
  Mapped m;
  ASSERT_NE(m.map, nullptr);
  ASSERT_EQ(m.map->size(), kBytes);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.map->data()), kBytes), slurp(m.path));
  ASSERT_TRUE(m.map->populate(0, kBytes));
  m.map->release_before(kBytes / 2);  // dropped from the mapping, read again from the page cache
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.map->data()), kBytes), slurp(m.path));
}

TEST(MappedFile, WhatCannotBeMappedIsLeftToReads) {
  TempDir dir;
  spit(dir / "empty", "");
  Fd empty(::open((dir / "empty").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(MappedFile::map(empty.get(), "empty"), nullptr);
  Fd folder(::open(dir.str().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(MappedFile::map(folder.get(), "folder"), nullptr);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  Fd r(p[0]), w(p[1]);
  EXPECT_EQ(MappedFile::map(r.get(), "pipe"), nullptr);
}

TEST(MappedFile, APageLostToAShrinkIsAnErrorUnderTheGuard) {
  Mapped m;
  ASSERT_NE(m.map, nullptr);
  ASSERT_TRUE(m.map->populate(0, kBytes));
  ASSERT_EQ(::truncate(m.path.c_str(), 4096), 0);
  const unsigned char* p = m.map->data();
  unsigned char c = 0;
  auto past_end = [&] { c = static_cast<const volatile unsigned char*>(p)[kBytes - 1]; };
  EXPECT_FALSE(sigbus_guarded(past_end));
  auto inside = [&] { c = p[100]; };
  EXPECT_TRUE(sigbus_guarded(inside)) << "the guard stays usable after a fault";
  EXPECT_EQ(c, static_cast<unsigned char>(100 * 7));
  EXPECT_FALSE(sigbus_guarded(past_end)) << "and catches the next one too";
  if (!MappedFile::can_populate()) GTEST_SKIP() << "no MADV_POPULATE_READ here (Linux < 5.14)";
  auto populated = m.map->populate(1 << 20, 1 << 20);
  ASSERT_FALSE(populated);
  EXPECT_EQ(populated.error().cls(), ErrorClass::io);
  EXPECT_NE(populated.error().what().find(m.path + ": could not read the bytes at offset 1048576: the file shrank from " +
                                          std::to_string(kBytes) + " to 4096 bytes"),
            std::string::npos)
      << populated.error().what();
}

TEST(MappedFileDeathTest, ASigbusOutsideTheGuardStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Mapped m;
  ASSERT_NE(m.map, nullptr);
  ASSERT_EQ(::truncate(m.path.c_str(), 4096), 0);
  auto touch = [&] {
    volatile unsigned char c = m.map->data()[kBytes - 1];
    (void)c;
  };
  // Killed by SIGBUS; or, under AddressSanitizer, whose handler it is passed on to, by its report.
  EXPECT_DEATH(touch(), "");
}

}  // namespace
}  // namespace airlock::test

#include "core/sys/paths.hpp"

#include <gtest/gtest.h>

namespace airlock {
namespace {

TEST(PayloadPath, AcceptsOrdinaryPaths) {
  for (const char* p : {"a", "notes/en.md", "migrations/0042_add.up.sql", "images/blobs/sha256/abc", "A-Z_0.9",
                        "x/.hidden", "x/...", "signatures", "signaturesx/a", "Manifest.toml", "sub/manifest.toml"})
    EXPECT_EQ(payload_path_problem(p), std::nullopt) << p;
  EXPECT_EQ(payload_path_problem(std::string(255, 'a')), std::nullopt);
}

TEST(PayloadPath, RefusesBreaches) {
  for (const char* p : {"", "/etc/passwd", "a//b", "a/", "./a", "a/./b", "../a", "a/..", "..", ".", "a b", "a\\b",
                        "a:b", "é", "manifest.toml", "signatures/x.minisig", "a\tb", "a*"})
    EXPECT_NE(payload_path_problem(p), std::nullopt) << p;
  EXPECT_NE(payload_path_problem(std::string(256, 'a')), std::nullopt);
  EXPECT_NE(payload_path_problem(std::string_view("a\0b", 3)), std::nullopt);
}

TEST(PayloadPath, ReasonNamesTheSegment) {
  auto why = payload_path_problem("a/../b");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find(".."), std::string::npos);
}

TEST(PathSet, AcceptsDistinctPaths) {
  EXPECT_EQ(path_set_problem({"a", "a-b", "b/c", "b/d", "notes/en.md", "notesx"}), std::nullopt);
  EXPECT_EQ(path_set_problem({}), std::nullopt);
}

TEST(PathSet, RefusesCaseInsensitiveDuplicates) {
  auto why = path_set_problem({"x", "Notes/EN.md", "y", "notes/en.md"});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("Notes/EN.md"), std::string::npos);
  EXPECT_NE(why->find("notes/en.md"), std::string::npos);
  EXPECT_EQ(path_set_problem({"a", "b", "a"}), "path 'a' appears twice");
}

TEST(PathSet, RefusesAFileThatIsAFolderOfAnother) {
  EXPECT_TRUE(path_set_problem({"notes", "notes/en.md"}));
  EXPECT_TRUE(path_set_problem({"notes/en.md", "NOTES"}));
  // The folder is not the sorted neighbour: "a" < "a-b" < "a/b".
  auto why = path_set_problem({"a/b", "a-b", "a"});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("'a'"), std::string::npos);
  EXPECT_TRUE(path_set_problem({"x/y/z/w", "x/Y"}));
}

TEST(PathSet, ThirtyThousandPathsAreFine) {
  std::vector<std::string> paths;
  for (int i = 0; i < 30000; ++i) paths.push_back("d" + std::to_string(i % 100) + "/sub/f" + std::to_string(i));
  EXPECT_EQ(path_set_problem(paths), std::nullopt);
  paths.push_back("d7/SUB");
  EXPECT_TRUE(path_set_problem(paths));
}

}  // namespace
}  // namespace airlock

// Database::same_content: the logical comparison `snapshot restore` makes between a site's database
// and a snapshot copy, stepping both side by side (Database::cursor) instead of holding two full
// dumps. It must agree with comparing full_dump() text: row order in the file does not matter;
// schema, a value, a missing or an extra row do.
#include <gtest/gtest.h>

#include "core/db/db.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::test {
namespace {

const char* kBase =
    "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB);"
    "CREATE INDEX items_name ON items(name);"
    "CREATE TABLE tags(item INTEGER, tag TEXT);"
    "INSERT INTO items VALUES (1, 'a', 1.5, x'00ff'), (2, 'b', NULL, NULL), (3, 'c''q', 0.25, x'');"
    "INSERT INTO tags VALUES (1, 'x'), (1, 'y'), (3, 'z');"
    "CREATE TABLE raw(v);"
    "INSERT INTO raw VALUES (1);";

struct Pair {
  TempDir dir;
  db::Database a, b;
  Pair(const std::string& sql_a, const std::string& sql_b) : a(make("a.db", sql_a)), b(make("b.db", sql_b)) {}
  db::Database make(const std::string& name, const std::string& sql) {
    auto d = db::Database::open((dir / name).string(), db::OpenMode::create);
    EXPECT_TRUE(d) << d.error().what();
    EXPECT_TRUE(d->exec(sql)) << sql;
    return std::move(*d);
  }
  // same_content both ways, checked against the dumps it replaces.
  bool same() {
    auto ab = a.same_content(b);
    auto ba = b.same_content(a);
    EXPECT_TRUE(ab) << ab.error().what();
    EXPECT_TRUE(ba) << ba.error().what();
    EXPECT_EQ(*ab, *ba);
    EXPECT_EQ(*ab, *a.full_dump() == *b.full_dump());
    return *ab;
  }
};

TEST(SameContent, EqualDatabasesWhateverTheRowOrder) {
  Pair p(kBase, kBase);
  EXPECT_TRUE(p.same());
  // The same rows inserted in another order (another physical order) are the same content.
  Pair q(kBase,
         "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB);"
         "CREATE INDEX items_name ON items(name);"
         "CREATE TABLE tags(item INTEGER, tag TEXT);"
         "INSERT INTO tags VALUES (3, 'z'), (1, 'y'), (1, 'x');"
         "INSERT INTO items VALUES (3, 'c''q', 0.25, x''), (2, 'b', NULL, NULL), (1, 'a', 1.5, x'00ff');"
         "CREATE TABLE raw(v);"
         "INSERT INTO raw VALUES (1);");
  EXPECT_TRUE(q.same());
  // Empty databases are equal too.
  Pair e("", "");
  EXPECT_TRUE(e.same());
}

TEST(SameContent, SchemaDifferenceIsFound) {
  Pair idx(kBase, std::string(kBase) + "DROP INDEX items_name;");
  EXPECT_FALSE(idx.same());
  Pair table(kBase, std::string(kBase) + "CREATE TABLE extra(v);");
  EXPECT_FALSE(table.same());
  Pair column(kBase, std::string(kBase) + "ALTER TABLE tags ADD COLUMN note TEXT;");
  EXPECT_FALSE(column.same());
}

TEST(SameContent, OneValueDifferenceIsFound) {
  Pair text(kBase, std::string(kBase) + "UPDATE items SET name = 'B' WHERE id = 2;");
  EXPECT_FALSE(text.same());
  Pair null(kBase, std::string(kBase) + "UPDATE items SET price = 0 WHERE id = 2;");
  EXPECT_FALSE(null.same());
  Pair blob(kBase, std::string(kBase) + "UPDATE items SET data = x'00fe' WHERE id = 1;");
  EXPECT_FALSE(blob.same());
  // Same digits, another type: text '1' is not the integer 1.
  Pair type(kBase, std::string(kBase) + "UPDATE raw SET v = '1';");
  EXPECT_FALSE(type.same());
}

TEST(SameContent, AnExtraOrMissingRowIsFound) {
  Pair extra(kBase, std::string(kBase) + "INSERT INTO tags VALUES (2, 'w');");
  EXPECT_FALSE(extra.same());
  Pair missing(kBase, std::string(kBase) + "DELETE FROM tags WHERE tag = 'z';");
  EXPECT_FALSE(missing.same());
  // A duplicate row (no key) is an extra row.
  Pair dup(kBase, std::string(kBase) + "INSERT INTO tags VALUES (1, 'x');");
  EXPECT_FALSE(dup.same());
}

TEST(Cursor, StepsEveryRowThenStops) {
  TempDir d;
  auto db = db::Database::open((d / "c.db").string(), db::OpenMode::create);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec(kBase));
  auto c = db->cursor("SELECT id, name FROM items WHERE id >= ? ORDER BY id", {std::int64_t{2}});
  ASSERT_TRUE(c) << c.error().what();
  db::Row row;
  std::vector<std::int64_t> ids;
  for (;;) {
    auto more = c->next(row);
    ASSERT_TRUE(more) << more.error().what();
    if (!*more) break;
    ids.push_back(std::get<std::int64_t>(row[0]));
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{2, 3}));
  auto again = c->next(row);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_FALSE(db->cursor("SELECT * FROM nowhere"));
}

}  // namespace
}  // namespace airlock::test

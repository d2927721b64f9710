#include "core/model/config_delta.hpp"

#include <gtest/gtest.h>

#include "core/toml_util.hpp"

namespace airlock {
namespace {

const char* kTarget = R"(# site topology
mode = "safe"
name = "site-1"
[legacy]
option = 1
keep = true
[bgp]
asn = 65000
peers = ["10.0.0.9"]
[bgp.timers]
hold = 90
keepalive = 30
)";

ConfigPatch patch(const std::string& text) {
  auto p = parse_config_patch(text);
  EXPECT_TRUE(p) << p.error().what();
  return p ? *p : ConfigPatch{};
}

toml::table parsed(const std::string& text) { return toml::parse(text); }

TEST(ConfigPatch, ParsesAndListsPaths) {
  auto p = patch(
      "[require]\nmode = \"safe\"\n[remove]\nlegacy.option = true\n[set]\nmode = \"fast\"\n"
      "bgp.peers = [\"10.0.0.1\"]\n\"odd key\" = 1\n");
  EXPECT_EQ(p.require, (std::vector<std::string>{"mode"}));
  EXPECT_EQ(p.remove, (std::vector<std::string>{"legacy.option"}));
  EXPECT_EQ(p.set, (std::vector<std::string>{"bgp.peers", "mode", "\"odd key\""}));
  EXPECT_TRUE(parse_config_patch(""));  // every table is optional
}

TEST(ConfigPatch, RefusesMalformedPatches) {
  for (const char* bad : {"[other]\na = 1\n", "mode = \"x\"\n", "[remove]\nlegacy.option = false\n",
                          "[remove]\nlegacy.option = \"yes\"\n", "require = 1\n", "[set\n", "\xEF\xBB\xBF[set]\n"}) {
    auto p = parse_config_patch(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().cls(), ErrorClass::malformed);
  }
  auto p = parse_config_patch("[remove]\nlegacy.option = false\n");
  EXPECT_NE(p.error().what().find("remove.legacy.option: a [remove] leaf must be true"), std::string::npos)
      << p.error().what();
}

TEST(ConfigPatch, RequireMismatchRefusesWithPolicyAndChangesNothing) {
  auto p = patch("[require]\nmode = \"fast\"\n[set]\nmode = \"faster\"\n");
  auto r = apply_config_patch(kTarget, p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::policy);
  EXPECT_EQ(r.error().what(), "require mode: expected \"fast\", found \"safe\"");

  r = apply_config_patch(kTarget, patch("[require]\nbgp.timers.hold = 91\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "require bgp.timers.hold: expected 91, found 90");

  r = apply_config_patch(kTarget, patch("[require]\nmissing.key = 1\n"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("found nothing"), std::string::npos);

  // Types count: 90.0 is not 90.
  EXPECT_FALSE(apply_config_patch(kTarget, patch("[require]\nbgp.timers.hold = 90.0\n")));
  EXPECT_FALSE(apply_config_patch(kTarget, patch("[require]\nbgp.peers = [\"10.0.0.1\"]\n")));
}

TEST(ConfigPatch, RequireMatchThenRemoveThenSet) {
  auto p = patch(R"([require]
mode = "safe"
bgp.peers = ["10.0.0.9"]
bgp.timers.hold = 90
[remove]
legacy.option = true
bgp.timers = true
not.there = true
[set]
mode = "fast"
bgp.peers = ["10.0.0.1", "10.0.0.2"]
bgp.timers.hold = 30
new_table.x = { a = 1 }
)");
  auto r = apply_config_patch(kTarget, p);
  ASSERT_TRUE(r) << r.error().what();
  auto t = parsed(*r);
  EXPECT_EQ(t["mode"].value<std::string>(), "fast");
  EXPECT_EQ(t["name"].value<std::string>(), "site-1");      // untouched
  EXPECT_FALSE(t["legacy"]["option"]);                      // removed
  EXPECT_EQ(t["legacy"]["keep"].value<bool>(), true);       // sibling kept
  EXPECT_EQ(t["bgp"]["asn"].value<std::int64_t>(), 65000);  // merged, not replaced
  ASSERT_TRUE(t["bgp"]["peers"].as_array());
  EXPECT_EQ(t["bgp"]["peers"].as_array()->size(), 2u);  // arrays replace
  EXPECT_EQ(t["bgp"]["timers"]["hold"].value<std::int64_t>(), 30);
  EXPECT_FALSE(t["bgp"]["timers"]["keepalive"]);  // removed with its table before the set
  EXPECT_EQ(t["new_table"]["x"]["a"].value<std::int64_t>(), 1);
}

TEST(ConfigPatch, RemoveWholeTableAndSetReplacesNonTables) {
  auto r = apply_config_patch(kTarget, patch("[remove]\nlegacy = true\n[set]\nname = { first = \"a\" }\n"));
  ASSERT_TRUE(r) << r.error().what();
  auto t = parsed(*r);
  EXPECT_FALSE(t["legacy"]);
  EXPECT_EQ(t["name"]["first"].value<std::string>(), "a");
}

TEST(ConfigPatch, EmptyPatchKeepsValues) {
  auto r = apply_config_patch(kTarget, patch(""));
  ASSERT_TRUE(r);
  EXPECT_EQ(parsed(*r), parsed(kTarget));
}

TEST(ConfigPatch, MalformedTargetIsAUsageError) {
  auto r = apply_config_patch("a = [", patch("[set]\na = 1\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
}

}  // namespace
}  // namespace airlock

namespace airlock {
namespace {

TEST(TomlText, RefusesNestingThatWouldExhaustTheStack) {
  std::string deep = "[a";
  for (int i = 0; i < 100000; ++i) deep += ".a";
  deep += "]\nx = 1\n";
  auto r = tomlu::parse(deep, 1 << 20, ErrorClass::malformed, "doc");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("nested too deeply"), std::string::npos) << r.error().what();
  EXPECT_FALSE(tomlu::parse("a = " + std::string(100, '[') + std::string(100, ']') + "\n", 1 << 20,
                            ErrorClass::malformed, "doc"));
}

TEST(TomlText, DotsAndBracketsInsideStringsAndCommentsDoNotCount) {
  const std::string dots(200, '.'), brackets(200, '[');
  for (const std::string& text : std::vector<std::string>{
           "a = \"" + dots + brackets + "\"\n", "a = '" + dots + "'\n",
           "a = \"\"\"\n" + dots + "\\\"\"\"\n" + brackets + "\"\"\"\n", "a = '''" + dots + "''''\n",
           "# " + dots + brackets + "\na = 1\n", "a = \"x\\\\\"\nb = \"" + dots + "\"\n",
           "a = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 1.5, 2.5, "
           "3.5, "
           "4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]\n",
           "x = 1979-05-27T07:32:00.999Z\n\"a.b\".c.\"d\" = 1\n"}) {
    auto r = tomlu::parse(text, 1 << 20, ErrorClass::malformed, "doc");
    EXPECT_TRUE(r) << text << "\n" << r.error().what();
  }
}

}  // namespace
}  // namespace airlock

namespace airlock {
namespace {

TEST(ConfigPatch, SimpleEditsKeepTheOperatorsCommentsAndLayout) {
  const std::string target = R"(# site topology — edited by hand
mode = "safe"   # safe | fast
name = "site-1"

[legacy]
option = 1  # to be dropped
keep = true

[bgp]
# our AS
asn = 65000
peers = [
  "10.0.0.9",
]
timers.hold = 90
)";
  auto p = patch(R"([require]
mode = "safe"
[remove]
legacy.option = true
absent.key = true
[set]
mode = "fast"
bgp.peers = ["10.0.0.1", "10.0.0.2"]
bgp.timers.keepalive = 30
bgp.new = { x = 1 }
added = "é"
)");
  auto r = apply_config_patch(target, p);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, R"(# site topology — edited by hand
mode = "fast"   # safe | fast
name = "site-1"
added = "é"

[legacy]
keep = true

[bgp]
# our AS
asn = 65000
peers = [ "10.0.0.1", "10.0.0.2" ]
timers.hold = 90
new.x = 1
timers.keepalive = 30
)");
}

TEST(ConfigPatch, EditsOutsideTheSimpleFormsStillMeanTheSameTree) {
  // An inline table, a removed table, a key added under a dotted-only table: re-serialized.
  const std::string target = "a = { b = 1, c = 2 }\nx.y = 1\n[t]\nu = 1\n[t.v]\nw = 2\n";
  auto r = apply_config_patch(target, patch("[remove]\na.b = true\nt.v = true\n[set]\nx.z = 2\nt.u = 5\n"));
  ASSERT_TRUE(r) << r.error().what();
  auto t = parsed(*r);
  EXPECT_EQ(t, parsed("a = { c = 2 }\nx.y = 1\nx.z = 2\n[t]\nu = 5\n"));
}

TEST(ConfigPatch, AddingToAnEmptyRootGoesAboveTheFirstHeader) {
  auto r = apply_config_patch("# top\n[t]\nu = 1\n", patch("[set]\nmode = \"x\"\nt.w = 2\n"));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, "mode = \"x\"\n# top\n[t]\nu = 1\nw = 2\n");
  r = apply_config_patch("a = 1", patch("[set]\nb = 2\n"));  // no final newline
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(*r, "a = 1\nb = 2\n");
}

// Whatever the text, the in-place result and the semantic result agree: every prefix of a patch
// that parses gives the same tree as applying it to the target by hand through toml++.
TEST(ConfigPatch, PrefixSweepAgreesWithTheSemanticResult) {
  const std::string text =
      "[require]\nmode = \"safe\"\n[remove]\nlegacy.option = true\n[set]\nmode = \"fast\"\n"
      "bgp.timers.hold = 30\nbgp.more = [1, 2]\nz = { a = 1 }\n";
  for (std::size_t n = 0; n <= text.size(); ++n) {
    auto p = parse_config_patch(text.substr(0, n));
    if (!p) {
      EXPECT_EQ(p.error().cls(), ErrorClass::malformed);
      continue;
    }
    auto r = apply_config_patch(kTarget, *p);
    ASSERT_TRUE(r) << text.substr(0, n) << "\n" << r.error().what();
    auto out = parsed(*r);
    auto want = parsed(kTarget);
    const auto patch_doc = parsed(text.substr(0, n));
    if (patch_doc["remove"]["legacy"]["option"]) want["legacy"].as_table()->erase("option");
    if (const auto* set = patch_doc["set"].as_table()) {
      if (auto m = (*set)["mode"].value<std::string>()) want.insert_or_assign("mode", *m);
      if (auto h = (*set)["bgp"]["timers"]["hold"].value<std::int64_t>())
        want["bgp"]["timers"].as_table()->insert_or_assign("hold", *h);
      if (const auto* more = (*set)["bgp"]["more"].as_array()) want["bgp"].as_table()->insert_or_assign("more", *more);
      if (const auto* z = (*set)["z"].as_table()) want.insert_or_assign("z", *z);
    }
    EXPECT_EQ(out, want) << text.substr(0, n) << "\n--- result:\n" << *r;
  }
}

// Fuzz finding (config_delta_fuzz): toml++'s formatter writes a key holding a tab, a newline or a
// ' bare, so `"qu\t" = 1` came back as `qu<TAB> = 1` (the key "qu") and a second apply of the
// same patch added the key again. The re-serialization writes keys itself now.
TEST(ConfigPatch, KeysWithTabsNewlinesAndQuotesSurviveReserialization) {
  const std::string target = "#d key\" = 1979-05*2\ndb.pool.max = true\n[set]\n";
  const std::string text =
      "[remove]\r\ndb.pool.max = true\n[set]\n\"qu\\t\\t\" = 1979-05-27T07:32:00Z\n"
      "\"it's\" = { \"a\\nb\" = 1, c = [{ \"d\\te\" = 2 }] }\n";
  auto p = patch(text);
  auto once = apply_config_patch(target, p);
  ASSERT_TRUE(once) << once.error().what();
  auto t = parsed(*once);
  ASSERT_TRUE(t.contains("qu\t\t")) << *once;
  EXPECT_FALSE(t.contains("qu")) << *once;
  EXPECT_EQ(t["it's"]["a\nb"].value<std::int64_t>(), 1) << *once;
  EXPECT_EQ(t["it's"]["c"][0]["d\te"].value<std::int64_t>(), 2) << *once;
  auto twice = apply_config_patch(*once, p);
  ASSERT_TRUE(twice) << twice.error().what();
  EXPECT_EQ(parsed(*twice), t) << *once << "\n---\n" << *twice;
}

TEST(ConfigPatch, ReserializationKeepsArraysOfTablesAndEmptyTables) {
  const std::string target = "a = { b = 1 }\n[[srv]]\nname = \"x\"\n[srv.tls]\non = true\n[[srv]]\nname = \"y\"\n[empty]\n";
  auto r = apply_config_patch(target, patch("[remove]\na.b = true\n"));  // forces re-serialization
  ASSERT_TRUE(r) << r.error().what();
  auto want = parsed(target);
  want["a"].as_table()->erase("b");
  EXPECT_EQ(parsed(*r), want) << *r;
}

// Were every table written under its full-path header, a 20-part [header]
// holding 20-part dotted keys would come back as a 39-part header, which the next apply refuses
// ("nested too deeply"). Past 16 parts the re-serialization writes dotted keys instead.
TEST(ConfigPatch, DeepTreesStayReadableAfterReserialization) {
  std::string header = "h0", key = "k0";
  for (int i = 1; i < 20; ++i) {
    header += ".h" + std::to_string(i);
    key += ".k" + std::to_string(i);
  }
  const std::string target = "[gone]\nx = 1\n[" + header + "]\n" + key + " = 1\n";
  auto p = patch("[remove]\ngone = true\n");  // a removed table: re-serialized
  auto once = apply_config_patch(target, p);
  ASSERT_TRUE(once) << once.error().what();
  auto want = parsed(target);
  want.erase("gone");
  EXPECT_EQ(parsed(*once), want) << *once;
  auto twice = apply_config_patch(*once, p);
  ASSERT_TRUE(twice) << twice.error().what() << "\n" << *once;
  EXPECT_EQ(parsed(*twice), want) << *twice;
}

// A tree deeper than the headers the re-serialization writes: a 32-part [header] holding a 31-part
// dotted key. Re-serialized, the part past 16 header parts became one 47-part dotted key, which the
// reader refuses ("a key has more than 32 parts"): the next apply, and the service, could not read
// the file the delta wrote. The result is parsed with the reader's own rules before it is returned.
TEST(ConfigPatch, ResultTheReaderWouldRefuseIsRefusedBeforeAnythingIsWritten) {
  std::string outer = "h0", inner = "x0", key = "k0";
  for (int i = 1; i < 16; ++i) {
    outer += ".h" + std::to_string(i);
    inner += ".x" + std::to_string(i);
  }
  for (int i = 1; i < 31; ++i) key += ".k" + std::to_string(i);
  const std::string target = "[gone]\nx = 1\n[" + outer + "]\nv = 1\n[" + outer + "." + inner + "]\n" + key + " = 1\n";
  ASSERT_TRUE(tomlu::parse(target, kMaxConfigBytes, ErrorClass::usage, "target")) << "the target itself is readable";
  auto r = apply_config_patch(target, patch("[remove]\ngone = true\n"));  // a removed table: re-serialized
  ASSERT_FALSE(r) << *r;
  EXPECT_EQ(r.error().cls(), ErrorClass::preflight) << r.error().what();
  EXPECT_NE(r.error().what().find("the config this delta would write"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("more than 32 parts"), std::string::npos) << r.error().what();
}

}  // namespace
}  // namespace airlock

// parse_manifest: a valid baseline, then one mutation per rule of spec §4; each mutation must be
// refused as malformed with a message naming the key path.
#include "core/model/manifest.hpp"

#include <gtest/gtest.h>

namespace airlock {
namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexC(64, 'c');
const std::string kHexD(64, 'd');
const std::string kHexE(64, 'e');

std::string baseline() {
  return R"(format = "airlock-bundle/1"

[release]
product = "bench"
version = "4.5.3"
created = 2026-05-06T10:00:00Z
channel = "recommended"
critical = false
min_installed = "4.4.0"
rollback_to = "4.5.0"
expires = 2027-05-06T00:00:00Z
summary = "one line"

[[images]]
ref = "registry.example.org/bench/dashboard:4.5.3"
digest = "sha256:)" +
         kHexA + R"("
layout = "images"

[delta]
base = "4.5.2"

[[migrations]]
id = "0042_add_personas"
database = "main"
up = "migrations/0042_add_personas.up.sql"
down = "migrations/0042_add_personas.down.sql"

[[config]]
target = "topology"
patch = "config/topology.patch.toml"
breaking = false

[trust_update]
path = "trust/trust.toml"

[[notes]]
lang = "en"
path = "notes/en.md"

[[files]]
path = "migrations/0042_add_personas.up.sql"
size = 1234
sha256 = ")" +
         kHexA + R"("
executable = false

[[files]]
path = "migrations/0042_add_personas.down.sql"
size = 0
sha256 = ")" +
         kHexB + R"("

[[files]]
path = "config/topology.patch.toml"
size = 10
sha256 = ")" +
         kHexC + R"("

[[files]]
path = "trust/trust.toml"
size = 10
sha256 = ")" +
         kHexD + R"("

[[files]]
path = "notes/en.md"
size = 10
sha256 = ")" +
         kHexE + R"("
executable = true

[[files]]
path = "images/blobs/sha256/)" +
         kHexA + R"("
size = 5
sha256 = ")" +
         kHexA + R"("
)";
}

// Replaces the first occurrence of `from`, failing the test when it is absent.
std::string mutate(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << "mutation target not in baseline: " << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// Expects a malformed refusal whose message contains `needle`.
void expect_refused(const std::string& text, const std::string& needle) {
  auto r = parse_manifest(text);
  ASSERT_FALSE(r) << "accepted; expected an error containing: " << needle;
  EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
  EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
}

TEST(Manifest, BaselineParses) {
  auto r = parse_manifest(baseline());
  ASSERT_TRUE(r) << r.error().what();
  const Manifest& m = *r;
  EXPECT_EQ(m.release.product, "bench");
  EXPECT_EQ(m.release.version.text, "4.5.3");
  EXPECT_EQ(format_rfc3339(m.release.created), "2026-05-06T10:00:00Z");
  EXPECT_EQ(m.release.channel, Channel::recommended);
  EXPECT_FALSE(m.release.critical);
  ASSERT_TRUE(m.release.min_installed);
  EXPECT_EQ(m.release.min_installed->text, "4.4.0");
  ASSERT_TRUE(m.release.expires);
  EXPECT_EQ(m.release.summary, "one line");
  ASSERT_EQ(m.images.size(), 1u);
  EXPECT_EQ(m.images[0].layout, "images");
  EXPECT_EQ(m.delta_base, "4.5.2");
  ASSERT_EQ(m.migrations.size(), 1u);
  EXPECT_EQ(m.migrations[0].down, "migrations/0042_add_personas.down.sql");
  ASSERT_EQ(m.config.size(), 1u);
  EXPECT_EQ(m.config[0].target, "topology");
  EXPECT_EQ(m.trust_update, "trust/trust.toml");
  ASSERT_EQ(m.files.size(), 6u);
  EXPECT_EQ(m.files[0].size, 1234u);
  EXPECT_TRUE(m.files[4].executable);
  EXPECT_EQ(m.total_size(), 1234u + 0 + 10 + 10 + 10 + 5);
  ASSERT_NE(m.find_file("notes/en.md"), nullptr);
  EXPECT_EQ(m.find_file("notes/EN.md"), nullptr);
}

TEST(Manifest, MinimalManifestParses) {
  const std::string text =
      "format = \"airlock-bundle/1\"\n[release]\nproduct = \"p\"\nversion = \"1.0.0\"\n"
      "created = 2026-05-06T10:00:00.25+02:00\nchannel = \"beta\"\n"
      "[[notes]]\nlang = \"EN-gb\"\npath = \"n\"\n"
      "[[notes]]\nlang = \"en\"\npath = \"n\"\n"
      "[[files]]\npath = \"n\"\nsize = 0\nsha256 = \"" +
      kHexA + "\"\n";
  auto r = parse_manifest(text);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->release.channel, Channel::beta);
  EXPECT_EQ(r->release.created.nanos, 250000000u);
  EXPECT_EQ(r->release.created.offset_minutes, 120);
}

TEST(Manifest, RefusesByteLevelFaults) {
  expect_refused("\xEF\xBB\xBF" + baseline(), "byte-order mark");
  expect_refused(mutate(baseline(), "one line", std::string("one\0line", 8)), "control character");
  expect_refused(mutate(baseline(), "one line", "one \xC3\x28 line"), "invalid UTF-8");
  expect_refused(mutate(baseline(), "one line", "one \xED\xA0\x80 line"), "invalid UTF-8");  // surrogate
  expect_refused(mutate(baseline(), "channel", "# a \x7F comment\nchannel"), "control character");
  std::string big = baseline() + "# " + std::string(kMaxManifestBytes, 'x') + "\n";
  expect_refused(big, "over the limit");
}

TEST(Manifest, RefusesMalformedToml) {
  expect_refused(mutate(baseline(), "product = \"bench\"", "product = \"bench"), "line 4");
  expect_refused(mutate(baseline(), "product = \"bench\"", "product = \"bench\"\nproduct = \"x\""), "manifest.toml");
  expect_refused(mutate(baseline(), "[delta]", "[delta]\n[delta]"), "manifest.toml");  // redefined table
  expect_refused(mutate(baseline(), "critical = false", "critical = False"), "manifest.toml");
}

TEST(Manifest, RefusesUnknownKeys) {
  expect_refused(mutate(baseline(), "format = ", "extra = 1\nformat = "), "extra: unknown key");
  expect_refused(mutate(baseline(), "product = ", "owner = \"me\"\nproduct = "), "release.owner: unknown key");
  expect_refused(mutate(baseline(), "size = 1234", "size = 1234\nmode = 420"), "files[0].mode: unknown key");
  expect_refused(mutate(baseline(), "layout = ", "platform = \"amd64\"\nlayout = "), "images[0].platform: unknown key");
  expect_refused(mutate(baseline(), "base = ", "from = \"x\"\nbase = "), "delta.from: unknown key");
  expect_refused(mutate(baseline(), "database = ", "timeout = 5\ndatabase = "), "migrations[0].timeout: unknown key");
  expect_refused(mutate(baseline(), "breaking = false", "breaking = false\nx = 1"), "config[0].x: unknown key");
  expect_refused(mutate(baseline(), "path = \"trust/", "sig = 1\npath = \"trust/"), "trust_update.sig: unknown key");
  expect_refused(mutate(baseline(), "lang = \"en\"", "lang = \"en\"\ntitle = \"t\""), "notes[0].title: unknown key");
  expect_refused(mutate(baseline(), "summary = \"one line\"", "summary = \"one line\"\n[release.extra]\na = 1"),
                 "release.extra: unknown key");
}

TEST(Manifest, RefusesWrongFormatAndMissingKeys) {
  expect_refused(mutate(baseline(), "airlock-bundle/1", "airlock-bundle/2"), "format");
  expect_refused(mutate(baseline(), "format = \"airlock-bundle/1\"", ""), "format: required key is missing");
  expect_refused(mutate(baseline(), "channel = \"recommended\"\n", ""), "release.channel: required key is missing");
  expect_refused(mutate(baseline(), "sha256 = \"" + kHexA + "\"\nexecutable = false", "executable = false"),
                 "files[0].sha256: required key is missing");
}

TEST(Manifest, RefusesWrongTypes) {
  expect_refused(mutate(baseline(), "size = 1234", "size = \"1234\""), "files[0].size: expected an integer");
  expect_refused(mutate(baseline(), "size = 1234", "size = 1234.0"), "files[0].size: expected an integer");
  expect_refused(mutate(baseline(), "critical = false", "critical = \"false\""),
                 "release.critical: expected a boolean");
  expect_refused(mutate(baseline(), "version = \"4.5.3\"", "version = 4"), "release.version: expected a string");
  expect_refused(
      mutate(mutate(baseline(), "[delta]\nbase = \"4.5.2\"\n", ""), "[release]", "delta = \"4.5.2\"\n[release]"),
      "delta: expected a table");
  expect_refused(mutate(baseline(), "[[images]]", "[images]"), "images: expected an array of tables");
}

TEST(Manifest, RefusesLocalAndInvalidDateTimes) {
  expect_refused(mutate(baseline(), "created = 2026-05-06T10:00:00Z", "created = 2026-05-06T10:00:00"),
                 "release.created: expected an offset date-time");
  expect_refused(mutate(baseline(), "created = 2026-05-06T10:00:00Z", "created = 2026-05-06"), "release.created");
  expect_refused(mutate(baseline(), "created = 2026-05-06T10:00:00Z", "created = \"2026-05-06T10:00:00Z\""),
                 "release.created");
  expect_refused(mutate(baseline(), "expires = 2027-05-06T00:00:00Z", "expires = 2027-02-29T00:00:00Z"),
                 "manifest.toml");
}

TEST(Manifest, RefusesBadReleaseFields) {
  expect_refused(mutate(baseline(), "product = \"bench\"", "product = \"Bench\""), "release.product");
  expect_refused(mutate(baseline(), "product = \"bench\"", "product = \"-bench\""), "release.product");
  expect_refused(mutate(baseline(), "product = \"bench\"", "product = \"" + std::string(65, 'b') + "\""),
                 "release.product");
  expect_refused(mutate(baseline(), "version = \"4.5.3\"", "version = \"v4.5.3\""), "release.version");
  expect_refused(mutate(baseline(), "min_installed = \"4.4.0\"", "min_installed = \"4.4\""), "release.min_installed");
  expect_refused(mutate(baseline(), "rollback_to = \"4.5.0\"", "rollback_to = \"04.5.0\""), "release.rollback_to");
  expect_refused(mutate(baseline(), "channel = \"recommended\"", "channel = \"stable\""), "release.channel");
  expect_refused(mutate(baseline(), "one line", "one\\nline"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\rline"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\u000Bline"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\u000Cline"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\u0085line"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\u2028line"), "release.summary: has a line break");
  expect_refused(mutate(baseline(), "one line", "one\\u2029line"), "release.summary: has a line break");
  // Only line breaks are refused: a tab or an escape sequence is the producer's choice (the spec
  // says no more), and every output makes it printable.
  EXPECT_TRUE(parse_manifest(mutate(baseline(), "one line", "one\\tline")));
  EXPECT_TRUE(parse_manifest(mutate(baseline(), "one line", "one\\u001B[31mline")));
  EXPECT_TRUE(parse_manifest(mutate(baseline(), "one line", "one\\u0007line")));
  EXPECT_TRUE(parse_manifest(mutate(baseline(), "one line", "one \\u2713 \\uFFFD é line")));
  expect_refused(mutate(baseline(), "base = \"4.5.2\"", "base = \"latest\""), "delta.base");
}

TEST(Manifest, RefusesBadImages) {
  expect_refused(mutate(baseline(), "digest = \"sha256:" + kHexA, "digest = \"sha256:" + std::string(64, 'A')),
                 "images[0].digest");
  expect_refused(mutate(baseline(), "digest = \"sha256:" + kHexA, "digest = \"sha512:" + kHexA), "images[0].digest");
  expect_refused(mutate(baseline(), "digest = \"sha256:" + kHexA, "digest = \"sha256:" + kHexA + "0"),
                 "images[0].digest");
  expect_refused(mutate(baseline(), "ref = \"registry", "ref = \"a registry"), "images[0].ref");
  expect_refused(mutate(baseline(), "ref = \"registry", "ref = \"a\\u00A0registry"), "images[0].ref");
  expect_refused(mutate(baseline(), "ref = \"registry", "ref = \"a\\tregistry"), "images[0].ref");
  expect_refused(mutate(baseline(), "ref = \"registry.example.org/bench/dashboard:4.5.3\"", "ref = \"\""),
                 "images[0].ref: is empty");
  expect_refused(mutate(baseline(), "layout = \"images\"", "layout = \"../images\""), "images[0].layout");
}

TEST(Manifest, RefusesImageBlobNotNamedByItsHash) {
  // The blob is the last [[files]] entry; give it another hash.
  std::string t = baseline();
  auto pos = t.rfind("sha256 = \"" + kHexA + "\"");
  t.replace(pos, 10 + 64 + 1, "sha256 = \"" + kHexB + "\"");
  expect_refused(t, "files[5]: image blob");
  // A file nested deeper under blobs/sha256/ is not named by a hash either.
  expect_refused(mutate(baseline(), "images/blobs/sha256/" + kHexA, "images/blobs/sha256/x/" + kHexA), "image blob");
  // The prefix is matched ignoring case.
  t = baseline();
  t.replace(t.rfind("sha256 = \"" + kHexA + "\""), 10 + 64 + 1, "sha256 = \"" + kHexB + "\"");
  expect_refused(mutate(t, "images/blobs/sha256/", "images/Blobs/SHA256/"), "image blob");
}

TEST(Manifest, RefusesBadMigrations) {
  auto two = mutate(baseline(), "[[config]]",
                    "[[migrations]]\nid = \"0042_add_personas\"\ndatabase = \"main\"\nup = \"notes/en.md\"\n"
                    "down = \"notes/en.md\"\n\n[[config]]");
  expect_refused(two, "migrations[1].id: \"0042_add_personas\" appears twice");
  expect_refused(mutate(baseline(), "id = \"0042_add_personas\"", "id = \"0042 add\""), "migrations[0].id");
  expect_refused(mutate(baseline(), "database = \"main\"", "database = \"\""), "migrations[0].database");
  expect_refused(mutate(baseline(), "database = \"main\"", "database = \"a/b\""), "migrations[0].database");
  auto irreversible = mutate(baseline(), "down = \"migrations/0042_add_personas.down.sql\"\n", "");
  expect_refused(irreversible, "migrations[0]: irreversible");  // rollback_to 4.5.0 != 4.5.3
  expect_refused(mutate(irreversible, "rollback_to = \"4.5.0\"\n", ""), "release.rollback_to is not set");
  auto ok = parse_manifest(mutate(irreversible, "rollback_to = \"4.5.0\"", "rollback_to = \"4.5.3\""));
  EXPECT_TRUE(ok) << ok.error().what();
}

TEST(Manifest, RefusesBadNotes) {
  expect_refused(mutate(baseline(), "lang = \"en\"", "lang = \"de\""), "notes: no entry with lang \"en\"");
  expect_refused(mutate(baseline(), "[[files]]", "[[notes]]\nlang = \"EN\"\npath = \"notes/en.md\"\n\n[[files]]"),
                 "notes[1].lang: \"EN\" appears twice");
  expect_refused(mutate(baseline(), "lang = \"en\"", "lang = \"e\""), "notes[0].lang");
  expect_refused(mutate(baseline(), "lang = \"en\"", "lang = \"en-x\""), "notes[0].lang");
  expect_refused(mutate(baseline(), "lang = \"en\"", "lang = \"en_US\""), "notes[0].lang");
}

TEST(Manifest, RefusesBadFiles) {
  expect_refused(mutate(baseline(), "path = \"notes/en.md\"\nsize", "path = \"notes/../en.md\"\nsize"),
                 "files[4].path: 'notes/../en.md'");
  expect_refused(mutate(baseline(), "path = \"notes/en.md\"\nsize", "path = \"/notes/en.md\"\nsize"), "files[4].path");
  expect_refused(mutate(baseline(), "path = \"notes/en.md\"\nsize", "path = \"manifest.toml\"\nsize"), "files[4].path");
  expect_refused(mutate(baseline(), "path = \"notes/en.md\"\nsize", "path = \"signatures/A.minisig\"\nsize"),
                 "files[4].path");
  expect_refused(mutate(baseline(), "path = \"trust/trust.toml\"\nsize", "path = \"NOTES/EN.md\"\nsize"),
                 "the same ignoring case");
  expect_refused(mutate(baseline(), "path = \"trust/trust.toml\"\nsize", "path = \"Notes\"\nsize"), "leading folder");
  expect_refused(mutate(baseline(), "size = 1234", "size = -1"), "files[0].size: -1 is negative");
  expect_refused(mutate(baseline(), "sha256 = \"" + kHexA + "\"\nexecutable",
                        "sha256 = \"" + std::string(64, 'A') + "\"\nexecutable"),
                 "files[0].sha256: not 64 lower-case hex digits");
  expect_refused(mutate(baseline(), "sha256 = \"" + kHexA + "\"\nexecutable", "sha256 = \"abc\"\nexecutable"),
                 "files[0].sha256");
  expect_refused(mutate(baseline(), "executable = false", "executable = 0"), "files[0].executable");
}

TEST(Manifest, RefusesSizesOverOneTebibyteWithoutOverflow) {
  const std::string max = "9223372036854775807";
  // Two maximal int64 sizes and the other 35 bytes sum to 2^64 + 33: a wrapping sum gives 33.
  std::string t = mutate(baseline(), "size = 1234", "size = " + max);
  t = mutate(t, "size = 0", "size = " + max);
  expect_refused(t, "sum of sizes");
  expect_refused(mutate(baseline(), "size = 1234", "size = " + std::to_string(kMaxTotalPayload)), "sum of sizes");
  auto at_limit = parse_manifest(mutate(baseline(), "size = 1234", "size = " + std::to_string(kMaxTotalPayload - 35)));
  EXPECT_TRUE(at_limit) << at_limit.error().what();
}

TEST(Manifest, RefusesReferencedPathsMissingFromFiles) {
  expect_refused(mutate(baseline(), "path = \"notes/en.md\"\nsize", "path = \"notes/fr.md\"\nsize"),
                 "notes[0].path: 'notes/en.md' is not listed");
  expect_refused(mutate(baseline(), "up = \"migrations/0042", "up = \"migrations/0043"), "migrations[0].up");
  expect_refused(mutate(baseline(), "down = \"migrations/0042", "down = \"migrations/0043"), "migrations[0].down");
  expect_refused(mutate(baseline(), "patch = \"config/", "patch = \"cfg/"), "config[0].patch");
  expect_refused(mutate(baseline(), "path = \"trust/trust.toml\"\n\n", "path = \"trust/new.toml\"\n\n"),
                 "trust_update.path");
  expect_refused(mutate(baseline(), "target = \"topology\"", "target = \"a b\""), "config[0].target");
}

TEST(Manifest, RefusesTooManyFiles) {
  std::string head =
      mutate(baseline(), "[[files]]", "[[files]]\npath = \"n\"\nsize = 0\nsha256 = \"" + kHexA + "\"\n\n[[files]]");
  std::string many;
  for (std::size_t i = 0; i < kMaxFiles - 6; ++i)
    many += "[[files]]\npath = \"f/" + std::to_string(i) + "\"\nsize = 0\nsha256 = \"" + kHexA + "\"\n";
  auto ok = parse_manifest(baseline() + many);  // exactly 30,000
  EXPECT_TRUE(ok) << ok.error().what();
  expect_refused(head + many, "30001 entries, over the limit of 30000");
}

TEST(Manifest, RenderRoundTrips) {
  auto m = parse_manifest(baseline());
  ASSERT_TRUE(m) << m.error().what();
  m->release.summary = "quotes \" backslash \\ unicode é ✓ 'single' #hash";
  m->release.critical = true;
  m->release.created = *parse_rfc3339("2026-05-06T12:00:00.125+02:00");
  m->images[0].ref = "r.example/x:1@weird\"\\";
  m->config[0].breaking = true;
  const std::string text = render_manifest(*m);
  auto again = parse_manifest(text);
  ASSERT_TRUE(again) << again.error().what() << "\n" << text;
  EXPECT_EQ(again->release.summary, m->release.summary);
  EXPECT_EQ(again->images[0].ref, m->images[0].ref);
  EXPECT_EQ(again->release.created, m->release.created);
  EXPECT_EQ(again->release.created.offset_minutes, 120);
  EXPECT_TRUE(again->release.critical);
  EXPECT_TRUE(again->config[0].breaking);
  EXPECT_TRUE(again->files[4].executable);
  EXPECT_FALSE(again->files[0].executable);
  EXPECT_EQ(again->release.expires, m->release.expires);
  EXPECT_EQ(again->files.size(), m->files.size());
  EXPECT_EQ(render_manifest(*again), text);  // fixed point: deterministic
  EXPECT_TRUE(text.starts_with("format = \"airlock-bundle/1\"\n\n[release]\nproduct = \"bench\"\n")) << text;
}

TEST(Manifest, RenderEscapesControlCharactersAsTomlAllows) {
  auto m = parse_manifest(baseline());
  ASSERT_TRUE(m);
  m->images[0].ref = "x";
  m->release.summary = std::string("bell\x07 del\x7F");
  const std::string text = render_manifest(*m);
  EXPECT_NE(text.find("\\u0007"), std::string::npos);
  EXPECT_NE(text.find("\\u007F"), std::string::npos);
  // The rendered text is valid TOML that parses back to the same summary.
  auto again = parse_manifest(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->release.summary, m->release.summary);
}

TEST(Manifest, ValidateCatchesBuiltManifests) {
  auto m = parse_manifest(baseline());
  ASSERT_TRUE(m);
  EXPECT_TRUE(validate_manifest(*m));
  m->files.push_back({"extra", UINT64_MAX, kHexA, false});
  auto s = validate_manifest(*m);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("sum of sizes"), std::string::npos);
}

TEST(Channel, Names) {
  for (auto c : {Channel::recommended, Channel::rc, Channel::beta}) EXPECT_EQ(parse_channel(channel_name(c)), c);
  EXPECT_FALSE(parse_channel("Recommended"));
}

}  // namespace
}  // namespace airlock

namespace airlock {
namespace {

TEST(Manifest, EveryErrorNamesTheFile) {
  for (const std::string& text : {std::string("\xEF\xBB\xBF"), std::string("a = ["), std::string("format = 1\n"),
                                  mutate(baseline(), "lang = \"en\"", "lang = \"de\"")}) {
    auto r = parse_manifest(text);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().what().starts_with("manifest.toml: ")) << r.error().what();
    EXPECT_EQ(r.error().what().find("manifest.toml: manifest.toml"), std::string::npos) << r.error().what();
  }
}

// Every prefix of a valid manifest, and every single-byte change to a few bytes, is either refused
// as malformed or parsed into something that renders and parses back the same: never a crash.
TEST(Manifest, TruncationAndByteFlipSweep) {
  const std::string base = baseline();
  auto check = [](const std::string& text) {
    auto r = parse_manifest(text);
    if (!r) {
      EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
      return;
    }
    const std::string once = render_manifest(*r);
    auto again = parse_manifest(once);
    ASSERT_TRUE(again) << again.error().what();
    EXPECT_EQ(render_manifest(*again), once);
  };
  for (std::size_t n = 0; n < base.size(); ++n) check(base.substr(0, n));
  for (std::size_t i = 0; i < base.size(); i += 7)
    for (char c : {'\0', '"', '[', '\n', 'x', '\xff', '.'}) {
      std::string t = base;
      t[i] = c;
      check(t);
    }
}

}  // namespace
}  // namespace airlock

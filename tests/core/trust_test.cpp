#include "core/model/trust.hpp"

#include <gtest/gtest.h>

#include "tests/support/tmpdir.hpp"

namespace airlock {
namespace {

minisign::PublicKey key(std::uint8_t seed) {
  minisign::PublicKey pk;
  for (std::size_t i = 0; i < pk.key_id.size(); ++i) pk.key_id[i] = static_cast<std::uint8_t>(seed + i);
  for (std::size_t i = 0; i < pk.pk.size(); ++i) pk.pk[i] = static_cast<std::uint8_t>(seed * 3 + i);
  return pk;
}

std::string b64(std::uint8_t seed) { return minisign::public_key_base64(key(seed)); }

std::string baseline() {
  return "format = \"airlock-trust/1\"\nthreshold = 2\n"
         "[[keys]]\nname = \"hq-2026\"\npublic_key = \"" +
         b64(1) +
         "\"\n"
         "not_before = 2026-01-01T00:00:00Z\nnot_after = 2027-07-01T00:00:00Z\n"
         "[[keys]]\nname = \"hq-2027\"\npublic_key = \"" +
         b64(50) +
         "\"\nrevoked = false\n"
         "[[keys]]\nname = \"old\"\npublic_key = \"" +
         b64(100) + "\"\nrevoked = true\n";
}

std::string mutate(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

void expect_refused(const std::string& text, const std::string& needle, ErrorClass cls = ErrorClass::usage) {
  auto r = parse_trust_root(text, cls);
  ASSERT_FALSE(r) << "accepted; expected: " << needle;
  EXPECT_EQ(r.error().cls(), cls);
  EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
}

Timestamp at(const char* s) { return *parse_rfc3339(s); }

TEST(TrustRoot, BaselineParses) {
  auto r = parse_trust_root(baseline(), ErrorClass::usage);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->threshold, 2);
  ASSERT_EQ(r->keys.size(), 3u);
  EXPECT_EQ(r->keys[0].name, "hq-2026");
  EXPECT_EQ(r->keys[0].key.key_id, key(1).key_id);
  EXPECT_EQ(r->keys[0].key.pk, key(1).pk);
  EXPECT_TRUE(r->keys[2].revoked);
  ASSERT_NE(r->find(key(50).key_id), nullptr);
  EXPECT_EQ(r->find(key(50).key_id)->name, "hq-2027");
  EXPECT_EQ(r->find(key(7).key_id), nullptr);
}

TEST(TrustRoot, SerialIsOptionalAndDefaultsToZero) {
  auto r = parse_trust_root(baseline(), ErrorClass::usage);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->serial, 0);
  r = parse_trust_root(mutate(baseline(), "threshold = 2", "serial = 7\nthreshold = 2"), ErrorClass::usage);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->serial, 7);
  r = parse_trust_root(mutate(baseline(), "threshold = 2", "serial = 9223372036854775807\nthreshold = 2"),
                       ErrorClass::usage);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->serial, INT64_MAX);
}

TEST(TrustRoot, SerialIsAStrictNonNegativeInteger) {
  auto with = [](const std::string& v) {
    return mutate(baseline(), "threshold = 2", "serial = " + v + "\nthreshold = 2");
  };
  expect_refused(with("-1"), "serial: -1 is negative");
  expect_refused(with("1.0"), "serial: expected an integer");
  expect_refused(with("\"3\""), "serial: expected an integer");
  expect_refused(with("true"), "serial: expected an integer");
  expect_refused(with("9223372036854775808"), "trust root");  // past int64: not a TOML integer
  expect_refused(with("-5"), "serial", ErrorClass::not_authentic);
}

TEST(TrustRoot, ValidityWindowIsInclusiveAndRevocationWins) {
  auto r = parse_trust_root(baseline(), ErrorClass::usage);
  ASSERT_TRUE(r);
  const TrustKey& k = r->keys[0];
  EXPECT_FALSE(k.valid_at(at("2025-12-31T23:59:59Z")));
  EXPECT_TRUE(k.valid_at(at("2026-01-01T00:00:00Z")));
  EXPECT_TRUE(k.valid_at(at("2026-01-01T01:00:00+01:00")));
  EXPECT_TRUE(k.valid_at(at("2027-07-01T00:00:00Z")));
  EXPECT_FALSE(k.valid_at(at("2027-07-01T00:00:00.000000001Z")));
  EXPECT_TRUE(r->keys[1].valid_at(at("1990-01-01T00:00:00Z")));  // no window: always
  EXPECT_FALSE(r->keys[2].valid_at(at("2026-06-01T00:00:00Z")));
}

TEST(TrustRoot, RefusesBreachesWithTheCallersClass) {
  expect_refused("\xEF\xBB\xBF" + baseline(), "byte-order mark");
  expect_refused(baseline() + "x = 1\n", "keys[2].x: unknown key");
  expect_refused(mutate(baseline(), "threshold", "extra = true\nthreshold"), "extra: unknown key");
  expect_refused(mutate(baseline(), "airlock-trust/1", "airlock-trust/2"), "format");
  expect_refused(mutate(baseline(), "threshold = 2", "threshold = 0"), "threshold: 0 is outside 1..16");
  expect_refused(mutate(baseline(), "threshold = 2", "threshold = 17"), "threshold");
  expect_refused(mutate(baseline(), "threshold = 2", "threshold = 4"), "threshold: 4 is more than the 3 keys");
  expect_refused(mutate(baseline(), "threshold = 2", "threshold = \"2\""), "threshold: expected an integer");
  expect_refused(mutate(baseline(), "name = \"hq-2027\"", "name = \"hq-2026\""),
                 "keys[1].name: \"hq-2026\" appears twice");
  expect_refused(mutate(baseline(), "name = \"hq-2027\"", "name = \"\""), "keys[1].name: is empty");
  expect_refused(mutate(baseline(), "name = \"hq-2027\"", "name = \"a\\nb\""), "keys[1].name: has a control");
  expect_refused(mutate(baseline(), b64(50), b64(1)), "keys[1].public_key: key id");
  expect_refused(mutate(baseline(), b64(50), "RWQnotakey"), "keys[1].public_key");
  expect_refused(mutate(baseline(), "not_before = 2026-01-01T00:00:00Z", "not_before = 2028-01-01T00:00:00Z"),
                 "keys[0].not_after");
  expect_refused(mutate(baseline(), "not_before = 2026-01-01T00:00:00Z", "not_before = 2026-01-01T00:00:00"),
                 "keys[0].not_before: expected an offset date-time");
  expect_refused(mutate(baseline(), "revoked = false", "revoked = 0"), "keys[1].revoked");
  expect_refused(baseline() + std::string(kMaxTrustRootBytes, '#'), "over the limit");
  expect_refused("format = \"airlock-trust/1\"\nthreshold = 1\n", "keys: required key is missing");
}

TEST(TrustRoot, FaultClassIsTheCallers) {
  expect_refused(mutate(baseline(), "threshold = 2", "threshold = 0"), "threshold", ErrorClass::not_authentic);
  expect_refused("not toml [", "trust root", ErrorClass::not_authentic);
}

TEST(TrustRoot, RenderRoundTrips) {
  auto r = parse_trust_root(baseline(), ErrorClass::usage);
  ASSERT_TRUE(r);
  r->keys[0].name = "odd \"name\" \\ é";
  r->serial = 41;
  const std::string text = render_trust_root(*r);
  auto again = parse_trust_root(text, ErrorClass::usage);
  ASSERT_TRUE(again) << again.error().what() << "\n" << text;
  EXPECT_EQ(again->threshold, 2);
  EXPECT_EQ(again->serial, 41);
  ASSERT_EQ(again->keys.size(), 3u);
  EXPECT_EQ(again->keys[0].name, r->keys[0].name);
  EXPECT_EQ(again->keys[0].not_before, r->keys[0].not_before);
  EXPECT_EQ(again->keys[0].not_after, r->keys[0].not_after);
  EXPECT_FALSE(again->keys[1].not_before);
  EXPECT_TRUE(again->keys[2].revoked);
  EXPECT_EQ(again->keys[1].key.pk, key(50).pk);
  EXPECT_EQ(render_trust_root(*again), text);
}

TEST(TrustRoot, TakesTheKeyLineOfAStockMinisignPublicKey) {
  test::TempDir dir;
  const auto pub = dir / "hq.pub", sec = dir / "hq.key";
  auto gen = test::run("minisign -G -W -p '" + pub.string() + "' -s '" + sec.string() + "'");
  ASSERT_EQ(gen.status, 0) << gen.output;
  const std::string file = test::slurp(pub);
  const auto nl = file.find('\n');
  const std::string line = file.substr(nl + 1, file.find('\n', nl + 1) - nl - 1);
  // minisign prints the key id in the comment line; the trust root must find that very key.
  const std::string id = file.substr(file.rfind(' ', nl) + 1, nl - file.rfind(' ', nl) - 1);
  auto r = parse_trust_root(
      "format = \"airlock-trust/1\"\nthreshold = 1\n[[keys]]\nname = \"hq\"\npublic_key = \"" + line + "\"\n",
      ErrorClass::usage);
  ASSERT_TRUE(r) << r.error().what();
  // minisign prints it without zero padding; key_id_hex pads to the spec's 16 digits.
  EXPECT_EQ(minisign::key_id_hex(r->keys[0].key.key_id), std::string(16 - id.size(), '0') + id);
  EXPECT_NE(render_trust_root(*r).find(line), std::string::npos);
}

TEST(TrustRoot, EveryPrefixIsRefusedWithTheCallersClassOrParses) {
  const std::string base = baseline();
  for (std::size_t n = 0; n < base.size(); ++n) {
    auto r = parse_trust_root(base.substr(0, n), ErrorClass::not_authentic);
    if (!r) {
      EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
    } else {
      auto again = parse_trust_root(render_trust_root(*r), ErrorClass::usage);
      EXPECT_TRUE(again) << again.error().what();
    }
  }
}

}  // namespace
}  // namespace airlock

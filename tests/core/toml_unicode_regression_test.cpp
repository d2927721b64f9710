// Fuzz finding (site_fuzz, 2026-11-23; docs/reliability.md): toml++ 3.3.0's
// is_non_ascii_horizontal_whitespace() reaches TOML_UNREACHABLE (undefined behaviour, a UBSan
// report) for most code points in U+00A0..U+049F, U+2D6E..U+3167 and U+FBA6..U+FEFF met where
// whitespace may appear — a bare 'é' before a key, after a value. Upstream: marzer/tomlplusplus
// issues #190 and #295 (fixed after 3.3.0). Core's parsers go through Debian's compiled toml++,
// where it is observed to come out as a plain parse error; these tests pin that every core TOML
// document refuses such input with its documented class instead of crashing or accepting it.
#include <gtest/gtest.h>

#include <string>

#include "core/model/config_delta.hpp"
#include "core/model/manifest.hpp"
#include "core/model/trust.hpp"

namespace airlock {
namespace {

// The minimised fuzz input (U+03FB, then two C0 controls), and the same fault in plainer TOML.
const std::string kInputs[] = {
    std::string("\xcf\xbb\x01\x01"),
    std::string("\xc3\xa9 = 1\n"),
    std::string("format = \"airlock-bundle/1\" \xc3\xa9\n"),
};

TEST(TomlUnicodeRegression, ManifestRefusesNonAsciiWhereWhitespaceMayBe) {
  for (const auto& in : kInputs) {
    auto r = parse_manifest(in);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << r.error().what();
  }
}

TEST(TomlUnicodeRegression, TrustRootRefusesNonAsciiWhereWhitespaceMayBe) {
  for (const auto& in : kInputs) {
    auto r = parse_trust_root(in, ErrorClass::not_authentic);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
  }
}

TEST(TomlUnicodeRegression, ConfigPatchAndTargetRefuseNonAsciiWhereWhitespaceMayBe) {
  auto patch = parse_config_patch("[set]\nmode = \"fast\"\n");
  ASSERT_TRUE(patch) << patch.error().what();
  for (const auto& in : kInputs) {
    auto p = parse_config_patch(in);
    ASSERT_FALSE(p) << in;
    EXPECT_EQ(p.error().cls(), ErrorClass::malformed) << p.error().what();
    auto applied = apply_config_patch(in, *patch);  // the site's own file: usage
    ASSERT_FALSE(applied) << in;
    EXPECT_EQ(applied.error().cls(), ErrorClass::usage) << applied.error().what();
  }
}

}  // namespace
}  // namespace airlock

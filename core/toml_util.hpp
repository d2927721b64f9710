// The one front door to toml++ for every TOML document airlock reads: manifests, trust roots and
// config targets and deltas (core), recipes (bundler), site.toml (applier). No other file calls
// toml::parse. It owns the byte-level checks that must come before toml++ sees the text (size,
// BOM, UTF-8, control characters, nesting depth: toml++ silently skips a BOM and recurses once
// per nesting level, so a 40,000-deep `[a.a.a...]` header would overflow the stack), turns
// toml::parse_error into an Error, and offers a strict field reader (exact types, unknown keys
// refused, errors naming the dotted key path). Only .cpp files include it (toml++ stays out of
// every public header).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

// toml++ as the compiled library that core links (pkg-config's flags), for every includer alike:
// compiled header-only, 3.3.0 reaches TOML_UNREACHABLE on some non-ASCII input
// (tests/applier/site_regression_test.cpp).
#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 0
#endif
#ifndef TOML_SHARED_LIB
#define TOML_SHARED_LIB 1
#endif
#include <toml++/toml.h>

#include "core/error.hpp"
#include "core/sys/time.hpp"

// Propagates an error unchanged: the messages of these parsers already name the key path.
#define TOMLU_TRY_IMPL(tmp, decl, expr)                                        \
  auto tmp = (expr);                                                           \
  if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define TOMLU_TRY(decl, expr) TOMLU_TRY_IMPL(AIRLOCK_CONCAT(_tomlu_r_, __LINE__), decl, expr)
#define TOMLU_CHECK(expr)                                                                  \
  do {                                                                                     \
    auto _tomlu_s = (expr);                                                                \
    if (!_tomlu_s) return ::tl::unexpected<::airlock::Error>(std::move(_tomlu_s).error()); \
  } while (0)

namespace airlock::tomlu {

// Before parsing: at most max_bytes, no UTF-8 BOM, valid UTF-8 (no overlong forms, surrogates or
// code points past U+10FFFF), and no control character other than tab, LF and CR-before-LF.
// TOML 1.0 allows raw control characters nowhere else, so this refuses only what is not TOML,
// whatever toml++ would make of it. `what` names the document ("manifest.toml").
[[nodiscard]] Status check_text(std::string_view bytes, std::size_t max_bytes, ErrorClass cls, std::string_view what);

// check_text, then toml::parse. A parse error becomes "<what>: line L, column C: <reason>".
[[nodiscard]] Result<toml::table> parse(std::string_view bytes, std::size_t max_bytes, ErrorClass cls,
                                        std::string_view what);

// "string", "integer", "offset date-time", ...: for messages.
std::string type_name(const toml::node& n);

// A strict view of one table. `where` is its dotted key path for messages ("files[3]"; empty at
// the root). Every accessor fails with `cls` and "<where>.<key>: <reason>".
class Fields {
 public:
  Fields(const toml::table& t, std::string where, ErrorClass cls) : t_(t), where_(std::move(where)), cls_(cls) {}

  // Refuses any key not in `allowed`.
  [[nodiscard]] Status only(std::initializer_list<std::string_view> allowed) const;

  [[nodiscard]] Result<std::string> str(std::string_view key) const;
  [[nodiscard]] Result<std::optional<std::string>> opt_str(std::string_view key) const;
  [[nodiscard]] Result<bool> boolean(std::string_view key) const;
  [[nodiscard]] Result<std::optional<bool>> opt_bool(std::string_view key) const;
  [[nodiscard]] Result<std::int64_t> integer(std::string_view key) const;
  [[nodiscard]] Result<Timestamp> instant(std::string_view key) const;  // offset date-time only
  [[nodiscard]] Result<std::optional<Timestamp>> opt_instant(std::string_view key) const;
  [[nodiscard]] Result<const toml::table*> table(std::string_view key) const;      // required
  [[nodiscard]] Result<const toml::table*> opt_table(std::string_view key) const;  // nullptr when absent
  // An array whose every element is a table (`[[x]]` or `x = [{...}]`); empty when absent.
  [[nodiscard]] Result<std::vector<const toml::table*>> tables(std::string_view key) const;

  std::string path(std::string_view key) const {
    return where_.empty() ? std::string(key) : where_ + "." + std::string(key);
  }
  tl::unexpected<Error> error(std::string_view key, const std::string& why) const {
    return fail(cls_, path(key) + ": " + why);
  }
  ErrorClass cls() const { return cls_; }

 private:
  Result<const toml::node*> required(std::string_view key) const;
  const toml::table& t_;
  std::string where_;
  ErrorClass cls_;
};

// A TOML basic string literal ("...") with every character TOML forbids raw escaped.
std::string quote(std::string_view s);

// Offset date-time from toml++'s value; nullopt for a local date-time or an invalid instant.
std::optional<Timestamp> to_timestamp(const toml::date_time& dt);

}  // namespace airlock::tomlu

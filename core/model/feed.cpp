// feed.toml (spec §10): strict parse, the value rules, canonical render.
#include "core/model/feed.hpp"

#include <algorithm>
#include <set>

#include "core/crypto/hash.hpp"
#include "core/model/semver.hpp"
#include "core/toml_util.hpp"

namespace airlock {
namespace {

using tomlu::Fields;
constexpr ErrorClass kCls = ErrorClass::malformed;
constexpr std::string_view kFormat = "airlock-feed/1";

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool name_char(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-'; }

// The manifest's rule for release.product: [a-z0-9][a-z0-9._-]{0,63}.
bool is_product(std::string_view s) {
  return !s.empty() && s.size() <= 64 && lower_alnum(s[0]) &&
         std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}
// A bare file name a consumer can look for beside the feed: [A-Za-z0-9._-]+, never "." or "..".
bool is_file_name(std::string_view s) {
  return !s.empty() && s.size() <= kMaxPathBytes && s != "." && s != ".." && std::all_of(s.begin(), s.end(), name_char);
}

Result<std::vector<std::string>> parse_parts(const toml::table& t, const Fields& f) {
  std::vector<std::string> out;
  const toml::node* n = t.get("parts");
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) return f.error("parts", "is " + tomlu::type_name(*n) + ", want an array of strings");
  if (arr->size() > kMaxParts) return f.error("parts", "more than " + std::to_string(kMaxParts) + " parts");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto* s = (*arr)[i].as_string();
    const std::string key = "parts[" + std::to_string(i) + "]";
    if (!s) return f.error(key, "is " + tomlu::type_name((*arr)[i]) + ", want a string");
    out.push_back(s->get());
  }
  return out;
}

Result<FeedEntry> parse_entry(const toml::table& t, std::size_t i) {
  Fields f(t, "entries[" + std::to_string(i) + "]", kCls);
  TOMLU_CHECK(f.only({"version", "file", "sha256", "size", "parts", "channel", "critical", "deprecated"}));
  FeedEntry e;
  TOMLU_TRY(e.version, f.str("version"));
  TOMLU_TRY(e.file, f.str("file"));
  TOMLU_TRY(e.sha256, f.str("sha256"));
  TOMLU_TRY(const auto size, f.integer("size"));
  if (size < 0) return f.error("size", std::to_string(size) + " is negative");
  e.size = static_cast<std::uint64_t>(size);
  TOMLU_TRY(e.parts, parse_parts(t, f));
  TOMLU_TRY(auto channel, f.str("channel"));
  auto ch = parse_channel(channel);
  if (!ch) return f.error("channel", "\"" + channel + "\" is not one of recommended, rc, beta");
  e.channel = *ch;
  TOMLU_TRY(auto critical, f.opt_bool("critical"));
  e.critical = critical.value_or(false);
  TOMLU_TRY(auto deprecated, f.opt_bool("deprecated"));
  e.deprecated = deprecated.value_or(false);
  return e;
}

Status validate_entry(const FeedEntry& e, const std::string& w) {
  auto bad = [&](std::string_view key, const std::string& why) {
    return fail(kCls, w + "." + std::string(key) + ": " + why);
  };
  if (e.version.size() > kMaxVersionBytes)
    return bad("version", "longer than " + std::to_string(kMaxVersionBytes) + " bytes");
  if (auto v = parse_semver(e.version); !v) return bad("version", v.error().message());
  if (!is_file_name(e.file)) return bad("file", "\"" + e.file + "\" is not a file name ([A-Za-z0-9._-]+)");
  if (!is_lower_hex(e.sha256, 64)) return bad("sha256", "is not 64 lower-case hex digits");
  if (e.parts.size() == 1) return bad("parts", "a split bundle has at least two parts");
  for (std::size_t i = 0; i < e.parts.size(); ++i)
    if (!is_lower_hex(e.parts[i], 64))
      return bad("parts[" + std::to_string(i) + "]", "is not 64 lower-case hex digits");
  return {};
}

void kv(std::string& out, std::string_view key, const std::string& rendered) {
  out.append(key).append(" = ").append(rendered).append("\n");
}

}  // namespace

std::vector<const FeedEntry*> Feed::find_version(std::string_view version) const {
  std::vector<const FeedEntry*> out;
  for (const auto& e : entries)
    if (e.version == version) out.push_back(&e);
  return out;
}

void sort_feed_entries(std::vector<FeedEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const FeedEntry& a, const FeedEntry& b) {
    auto va = parse_semver(a.version);
    auto vb = parse_semver(b.version);
    if (va && vb)
      if (int c = compare_semver(*va, *vb); c != 0) return c < 0;
    if (a.version != b.version) return a.version < b.version;
    return a.file < b.file;
  });
}

Status validate_feed(const Feed& f) {
  auto rules = [&]() -> Status {
    if (!is_product(f.product))
      return fail(kCls, "product: \"" + f.product + "\" does not match [a-z0-9][a-z0-9._-]{0,63}");
    if (f.serial < 0) return fail(kCls, "serial: " + std::to_string(f.serial) + " is negative");
    std::set<std::string_view> files;
    for (std::size_t i = 0; i < f.entries.size(); ++i) {
      const std::string w = "entries[" + std::to_string(i) + "]";
      if (auto ok = validate_entry(f.entries[i], w); !ok) return ok;
      // A consumer finds a bundle's entry by its file name too: one name, one entry.
      if (!files.insert(f.entries[i].file).second)
        return fail(kCls, w + ".file: \"" + f.entries[i].file + "\" is listed twice");
    }
    return {};
  };
  auto ok = rules();
  if (!ok) return fail(std::move(ok).error().with_context("feed.toml"));
  return {};
}

Result<Feed> parse_feed(std::string_view bytes) {
  TOMLU_TRY(auto doc, tomlu::parse(bytes, kMaxFeedBytes, kCls, "feed.toml"));
  Fields root(doc, "", kCls);
  auto shape = [&]() -> Result<Feed> {
    TOMLU_CHECK(root.only({"format", "product", "serial", "published", "entries"}));
    TOMLU_TRY(auto format, root.str("format"));
    if (format != kFormat) return root.error("format", "\"" + format + "\" is not \"" + std::string(kFormat) + "\"");
    Feed f;
    TOMLU_TRY(f.product, root.str("product"));
    TOMLU_TRY(f.serial, root.integer("serial"));
    TOMLU_TRY(f.published, root.instant("published"));
    TOMLU_TRY(auto tables, root.tables("entries"));
    for (std::size_t i = 0; i < tables.size(); ++i) {
      TOMLU_TRY(auto e, parse_entry(*tables[i], i));
      f.entries.push_back(std::move(e));
    }
    return f;
  };
  auto f = shape();
  if (!f) return fail(std::move(f).error().with_context("feed.toml"));
  if (auto ok = validate_feed(*f); !ok) return fail(std::move(ok).error());
  return f;
}

std::string render_feed(const Feed& f) {
  std::vector<FeedEntry> entries = f.entries;
  sort_feed_entries(entries);
  std::string out;
  kv(out, "format", tomlu::quote(kFormat));
  kv(out, "product", tomlu::quote(f.product));
  kv(out, "serial", std::to_string(f.serial));
  kv(out, "published", format_rfc3339(f.published));
  for (const auto& e : entries) {
    out += "\n[[entries]]\n";
    kv(out, "version", tomlu::quote(e.version));
    kv(out, "file", tomlu::quote(e.file));
    kv(out, "sha256", tomlu::quote(e.sha256));
    kv(out, "size", std::to_string(e.size));
    if (!e.parts.empty()) {
      std::string list = "[";
      for (std::size_t i = 0; i < e.parts.size(); ++i) list += (i ? ", " : "") + tomlu::quote(e.parts[i]);
      kv(out, "parts", list + "]");
    }
    kv(out, "channel", tomlu::quote(channel_name(e.channel)));
    kv(out, "critical", e.critical ? "true" : "false");
    kv(out, "deprecated", e.deprecated ? "true" : "false");
  }
  return out;
}

}  // namespace airlock

// toml++ adapter: the only place its exceptions are caught (STYLE: third-party headers and
// exceptions stay behind our interfaces).
#include "core/toml_util.hpp"

#include <algorithm>
#include <cstdio>

#include "core/text.hpp"

namespace airlock::tomlu {
namespace {

// Line and column (1-based) of byte offset `at`, for messages.
std::string where_in(std::string_view s, std::size_t at) {
  const auto line = 1 + std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  const auto nl = s.rfind('\n', at == 0 ? 0 : at - 1);
  const auto col = at - (nl == std::string_view::npos || at == 0 ? 0 : nl + 1) + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// toml++ recurses per nesting level while parsing and destroying, and a 40,000-deep
// `[a.a.a...]` header overflows the stack. TOML 1.0 sets no depth limit, so we set one: at most
// kMaxDottedKeys dots in one key and kMaxBrackets open brackets/braces, outside strings and
// comments. Returns the reason, or empty.
constexpr int kMaxDottedKeys = 32;
constexpr int kMaxBrackets = 64;

std::string nesting_problem(std::string_view s) {
  int dots = 0, brackets = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"' || c == '\'') {  // skip a string, single- or multi-line
      const bool multi = s.substr(i, 3) == std::string(3, c);
      const std::string close = multi ? std::string(3, c) : std::string(1, c);
      std::size_t j = i + close.size();
      while (j < s.size() && s.substr(j, close.size()) != close) j += (c == '"' && s[j] == '\\') ? 2 : 1;
      j += close.size();
      // A run of four or five quotes ends the string: the first one or two are content.
      for (int extra = 0; multi && extra < 2 && j < s.size() && s[j] == c; ++extra) ++j;
      i = j - 1;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      dots = 0;
      continue;
    }
    const bool key_char = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-' || c == ' ' || c == '\t';
    if (c == '.' && ++dots > kMaxDottedKeys) return "a key has more than " + std::to_string(kMaxDottedKeys) + " parts";
    if (c == '[' || c == '{') {
      if (++brackets > kMaxBrackets) return "more than " + std::to_string(kMaxBrackets) + " nested brackets";
    } else if ((c == ']' || c == '}') && brackets > 0) {
      --brackets;
    }
    if (!key_char && c != '.') dots = 0;
  }
  return {};
}

}  // namespace

Status check_text(std::string_view s, std::size_t max_bytes, ErrorClass cls, std::string_view what) {
  const std::string w(what);
  if (s.size() > max_bytes)
    return fail(cls, w + " is " + std::to_string(s.size()) + " bytes, over the limit of " + std::to_string(max_bytes));
  if (s.starts_with("\xEF\xBB\xBF")) return fail(cls, w + ": starts with a UTF-8 byte-order mark");
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      const bool ok = c == '\t' || c == '\n' || (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n');
      if (!ok) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02X", c);
        return fail(cls, w + ": " + where_in(s, i) + ": control character 0x" + buf + " is not allowed");
      }
    }
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return fail(cls, w + ": " + where_in(s, i) + ": invalid UTF-8");
    i += n;
  }
  if (auto why = nesting_problem(s); !why.empty()) return fail(cls, w + ": nested too deeply: " + why);
  return {};
}

Result<toml::table> parse(std::string_view bytes, std::size_t max_bytes, ErrorClass cls, std::string_view what) {
  TOMLU_CHECK(check_text(bytes, max_bytes, cls, what));
  try {
    return toml::parse(bytes);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return fail(cls, std::string(what) + ": line " + std::to_string(b.line) + ", column " + std::to_string(b.column) +
                         ": " + std::string(e.description()));
  }
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a local date";
    case toml::node_type::time:
      return "a local time";
    case toml::node_type::date_time:
      return n.as_date_time()->get().offset ? "an offset date-time" : "a local date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

std::optional<Timestamp> to_timestamp(const toml::date_time& dt) {
  if (!dt.offset) return std::nullopt;
  // Re-render and parse with our own reader: one set of range rules for every instant.
  const int off = dt.offset->minutes;
  const int a = off < 0 ? -off : off;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04u-%02u-%02uT%02u:%02u:%02u.%09u%c%02d:%02d", unsigned{dt.date.year},
                unsigned{dt.date.month}, unsigned{dt.date.day}, unsigned{dt.time.hour}, unsigned{dt.time.minute},
                unsigned{dt.time.second}, unsigned{dt.time.nanosecond}, off < 0 ? '-' : '+', a / 60, a % 60);
  return parse_rfc3339(buf);
}

Status Fields::only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [k, v] : t_) {
    if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end())
      return error(k.str(), "unknown key (a new field needs a new format)");
  }
  return {};
}

Result<const toml::node*> Fields::required(std::string_view key) const {
  const toml::node* n = t_.get(key);
  if (!n) return error(key, "required key is missing");
  return n;
}

Result<std::string> Fields::str(std::string_view key) const {
  TOMLU_TRY(const toml::node* n, required(key));
  if (!n->is_string()) return error(key, "expected a string, found " + type_name(*n));
  return n->as_string()->get();
}

Result<std::optional<std::string>> Fields::opt_str(std::string_view key) const {
  if (!t_.contains(key)) return std::optional<std::string>{};
  TOMLU_TRY(auto s, str(key));
  return std::optional<std::string>(std::move(s));
}

Result<bool> Fields::boolean(std::string_view key) const {
  TOMLU_TRY(const toml::node* n, required(key));
  if (!n->is_boolean()) return error(key, "expected a boolean, found " + type_name(*n));
  return n->as_boolean()->get();
}

Result<std::optional<bool>> Fields::opt_bool(std::string_view key) const {
  if (!t_.contains(key)) return std::optional<bool>{};
  TOMLU_TRY(bool b, boolean(key));
  return std::optional<bool>(b);
}

Result<std::int64_t> Fields::integer(std::string_view key) const {
  TOMLU_TRY(const toml::node* n, required(key));
  if (!n->is_integer()) return error(key, "expected an integer, found " + type_name(*n));
  return n->as_integer()->get();
}

Result<Timestamp> Fields::instant(std::string_view key) const {
  TOMLU_TRY(const toml::node* n, required(key));
  if (!n->is_date_time() || !n->as_date_time()->get().offset)
    return error(key, "expected an offset date-time (with Z or ±hh:mm), found " + type_name(*n));
  auto t = to_timestamp(n->as_date_time()->get());
  if (!t) return error(key, "not a valid instant");
  return *t;
}

Result<std::optional<Timestamp>> Fields::opt_instant(std::string_view key) const {
  if (!t_.contains(key)) return std::optional<Timestamp>{};
  TOMLU_TRY(auto t, instant(key));
  return std::optional<Timestamp>(t);
}

Result<const toml::table*> Fields::table(std::string_view key) const {
  TOMLU_TRY(const toml::node* n, required(key));
  if (!n->is_table()) return error(key, "expected a table, found " + type_name(*n));
  return n->as_table();
}

Result<const toml::table*> Fields::opt_table(std::string_view key) const {
  if (!t_.contains(key)) return static_cast<const toml::table*>(nullptr);
  return table(key);
}

Result<std::vector<const toml::table*>> Fields::tables(std::string_view key) const {
  std::vector<const toml::table*> out;
  const toml::node* n = t_.get(key);
  if (!n) return out;
  if (!n->is_array()) return error(key, "expected an array of tables, found " + type_name(*n));
  const toml::array& arr = *n->as_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_table())
      return fail(cls_, path(key) + "[" + std::to_string(i) + "]: expected a table, found " + type_name(arr[i]));
    out.push_back(arr[i].as_table());
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += ch;  // UTF-8 passes through: TOML text is UTF-8
        }
    }
  }
  return out + "\"";
}

}  // namespace airlock::tomlu

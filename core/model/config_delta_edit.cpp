// In-place editing of a config target (see config_delta_internal.hpp): deletes the lines of
// removed keys, replaces the text of replaced values, and adds new keys as `a.b = v` lines at the
// end of the root section or of a [header] table's own key/values. Everything else gives up
// (nullopt) and the caller falls back to re-serialization; the caller also verifies every
// result, so this file may be simple rather than complete.
#include <algorithm>

#include "core/model/config_delta_internal.hpp"

namespace airlock::config_delta {
namespace {

constexpr std::size_t npos = std::string_view::npos;

// toml++ source positions (1-based line, 1-based column in code points, end exclusive) to bytes.
class Locator {
 public:
  explicit Locator(std::string_view s) : s_(s) {
    starts_.push_back(0);
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] == '\n') starts_.push_back(i + 1);
  }
  std::size_t offset(const toml::source_position& p) const {
    if (p.line == 0 || p.line > starts_.size() || p.column == 0) return npos;
    std::size_t i = starts_[p.line - 1];
    for (std::size_t col = 1; col < p.column; ++col) {
      if (i >= s_.size() || s_[i] == '\n') return npos;
      ++i;
      while (i < s_.size() && (static_cast<unsigned char>(s_[i]) & 0xC0) == 0x80) ++i;  // UTF-8 continuation
    }
    return i;
  }
  std::size_t line_start(std::size_t off) const {
    const auto nl = s_.rfind('\n', off == 0 ? npos : off - 1);
    return off == 0 || nl == npos ? 0 : nl + 1;
  }
  // Just past the '\n' ending the line holding off (or the end of the text).
  std::size_t next_line(std::size_t off) const {
    const auto nl = s_.find('\n', off);
    return nl == npos ? s_.size() : nl + 1;
  }
  std::string_view text() const { return s_; }

 private:
  std::string_view s_;
  std::vector<std::size_t> starts_;
};

struct Edit {
  std::size_t begin, end;
  std::string text;
};

bool is_header_table(const toml::node& n, const Locator& loc) {
  const auto* t = n.as_table();
  if (!t || t->is_inline()) return false;
  const auto off = loc.offset(t->source().begin);
  return off != npos && off < loc.text().size() && loc.text()[off] == '[';
}

// Largest end offset of the key/values that belong to t's own section (through dotted tables,
// not into [header] tables or [[arrays of tables]]); npos when it has none.
std::size_t section_end(const toml::table& t, const Locator& loc) {
  std::size_t best = npos;
  for (const auto& [k, v] : t) {
    std::size_t end = npos;
    if (const auto* sub = v.as_table(); sub && !sub->is_inline()) {
      if (is_header_table(v, loc)) continue;
      end = section_end(*sub, loc);
    } else if (const auto* arr = v.as_array();
               arr && arr->is_array_of_tables() && !arr->empty() && is_header_table((*arr)[0], loc)) {
      continue;
    } else {
      end = loc.offset(v.source().end);
    }
    if (end != npos && (best == npos || end > best)) best = end;
  }
  return best;
}

// Deletes the whole lines of key = value, when nothing else shares them.
bool remove_edit(const toml::table& doc, const Keys& ks, const Locator& loc, std::vector<Edit>& edits) {
  const toml::node* n = lookup(doc, ks);
  if (!n) return true;  // absent: nothing to do
  if (n->is_table()) return false;
  const toml::table* parent = ks.size() == 1 ? &doc : lookup(doc, Keys(ks.begin(), ks.end() - 1))->as_table();
  auto it = parent->find(ks.back());
  const auto kb = loc.offset(it->first.source().begin), ve = loc.offset(n->source().end);
  if (kb == npos || ve == npos || ve < kb) return false;
  const auto ls = loc.line_start(kb), le = loc.next_line(ve);
  const auto prefix = loc.text().substr(ls, kb - ls);  // a dotted-key prefix at most
  if (prefix.find_first_of("=[]{},") != npos) return false;
  const auto rest = loc.text().substr(ve, le - ve);
  const auto first = rest.find_first_not_of(" \t\r\n");
  if (first != npos && rest[first] != '#') return false;
  edits.push_back({ls, le, ""});
  return true;
}

bool set_edit(const toml::table& doc, const Keys& ks, const toml::node& v, const Locator& loc,
              std::vector<Edit>& edits) {
  if (const toml::node* n = lookup(doc, ks)) {  // replace the value's text
    if (n->is_table()) return false;
    const auto b = loc.offset(n->source().begin), e = loc.offset(n->source().end);
    if (b == npos || e == npos || e < b) return false;
    edits.push_back({b, e, render_value(v)});
    return true;
  }
  // New key: written in the section of the nearest ancestor that is the root or a [header]
  // table, as a dotted key through any dotted (non-inline) tables on the way.
  std::size_t depth = ks.size() - 1;
  const toml::table* anc = &doc;
  for (; depth > 0; --depth) {
    const toml::node* a = lookup(doc, Keys(ks.begin(), ks.begin() + static_cast<std::ptrdiff_t>(depth)));
    if (!a) continue;
    if (!a->is_table() || a->as_table()->is_inline()) return false;
    if (!is_header_table(*a, loc)) continue;
    anc = a->as_table();
    break;
  }
  std::size_t at = section_end(*anc, loc);
  if (at == npos) at = depth == 0 ? 0 : loc.offset(anc->source().begin);
  if (at == npos) return false;
  std::string line;
  for (std::size_t i = depth; i < ks.size(); ++i) line = join(line, ks[i]);
  line += " = " + render_value(v) + "\n";
  if (depth == 0 && section_end(*anc, loc) == npos) {  // no root key/values: insert at the top
    edits.push_back({0, 0, line});
    return true;
  }
  at = loc.next_line(at);
  if (at == loc.text().size() && !loc.text().empty() && loc.text().back() != '\n') line = "\n" + line;
  edits.push_back({at, at, line});
  return true;
}

bool overlaps(const std::vector<Edit>& edits) {
  for (std::size_t i = 1; i < edits.size(); ++i)
    if (edits[i].begin < edits[i - 1].end) return true;
  return false;
}

}  // namespace

std::optional<std::string> edit_in_place(std::string_view text, const toml::table& doc, const toml::table* remove,
                                         const toml::table* set) {
  Locator loc(text);
  std::vector<Edit> edits;
  std::vector<std::vector<std::string>> removed;
  bool ok = true;
  Keys keys;
  if (remove)
    (void)each_leaf(*remove, "", keys, [&](const std::string&, const Keys& ks, const toml::node&) -> Status {
      removed.emplace_back(ks.begin(), ks.end());
      ok = ok && remove_edit(doc, ks, loc, edits);
      return {};
    });
  if (set)
    (void)each_leaf(*set, "", keys, [&](const std::string&, const Keys& ks, const toml::node& v) -> Status {
      // A key both removed and set (or under one another): leave it to re-serialization.
      for (const auto& r : removed) {
        const std::size_t n = std::min(r.size(), ks.size());
        if (std::equal(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(n), ks.begin())) ok = false;
      }
      ok = ok && set_edit(doc, ks, v, loc, edits);
      return {};
    });
  if (!ok) return std::nullopt;
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  if (overlaps(edits)) return std::nullopt;
  std::string out;
  std::size_t pos = 0;
  for (const auto& e : edits) {
    out.append(text.substr(pos, e.begin - pos));
    out += e.text;
    pos = e.end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace airlock::config_delta

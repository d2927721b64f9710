#include "core/db/pg_script.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace airlock::db {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

// Skips what starts at `i` when it is a comment, a literal or a quoted identifier; returns the
// index after it, or `i` when nothing is to be skipped.
std::size_t skip_opaque(std::string_view s, std::size_t i) {
  if (s.compare(i, 2, "--") == 0) {
    auto e = s.find('\n', i);
    return e == std::string_view::npos ? s.size() : e + 1;
  }
  if (s.compare(i, 2, "/*") == 0) {  // nested, as PostgreSQL reads them
    int depth = 0;
    for (std::size_t j = i; j + 1 < s.size(); ++j) {
      if (s.compare(j, 2, "/*") == 0)
        ++depth, ++j;
      else if (s.compare(j, 2, "*/") == 0 && --depth == 0)
        return j + 2;
      else if (s.compare(j, 2, "*/") == 0)
        ++j;
    }
    return s.size();
  }
  if (s[i] == '\'' || s[i] == '"') {
    char q = s[i];
    // E'...' strings may escape a quote with a backslash.
    bool backslash = q == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
    for (std::size_t j = i + 1; j < s.size(); ++j) {
      if (backslash && s[j] == '\\')
        ++j;
      else if (s[j] == q && j + 1 < s.size() && s[j + 1] == q)
        ++j;
      else if (s[j] == q)
        return j + 1;
    }
    return s.size();
  }
  if (s[i] == '$' && (i == 0 || !word_char(s[i - 1]))) {
    auto close = s.find('$', i + 1);
    if (close == std::string_view::npos) return i;
    std::string_view tag = s.substr(i, close - i + 1);
    if (!std::all_of(tag.begin() + 1, tag.end() - 1, [](char c) { return word_char(c) && c != '$'; })) return i;
    auto end = s.find(tag, close + 1);
    return end == std::string_view::npos ? s.size() : end + tag.size();
  }
  return i;
}

// The script's words, statement by statement (outside comments and literals).
std::vector<std::vector<std::string>> statements(std::string_view s) {
  std::vector<std::vector<std::string>> out(1);
  for (std::size_t i = 0; i < s.size();) {
    if (auto j = skip_opaque(s, i); j != i) {
      i = j;
      continue;
    }
    if (s[i] == ';') {
      if (!out.back().empty()) out.emplace_back();
      ++i;
    } else if (word_char(s[i])) {
      std::size_t j = i;
      while (j < s.size() && word_char(s[j])) ++j;
      out.back().push_back(upper(s.substr(i, j - i)));
      i = j;
    } else {
      ++i;
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

bool transaction_control(const std::vector<std::string>& w) {
  static const char* kLeading[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"};
  for (const char* k : kLeading)
    if (w[0] == k) return true;
  if (w.size() > 1 && w[1] == "TRANSACTION" && (w[0] == "START" || w[0] == "PREPARE")) return true;
  return false;
}

}  // namespace

std::optional<std::string> pg_script_problem(std::string_view sql) {
  auto stmts = statements(sql);
  for (std::size_t n = 0; n < stmts.size(); ++n) {
    const auto& w = stmts[n];
    const std::string where = " in statement " + std::to_string(n + 1);
    if (transaction_control(w))
      return "transaction control '" + w[0] + "'" + where +
             " (each migration runs in the one transaction airlock opens)";
    if (std::find(w.begin(), w.end(), "CONCURRENTLY") != w.end())
      return "CONCURRENTLY" + where + " (it cannot run inside the migration's transaction)";
  }
  return std::nullopt;
}

}  // namespace airlock::db

#include "core/db/sqlite_schema.hpp"

#include <algorithm>
#include <cctype>

namespace airlock::db {
namespace {

bool plain_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

std::string normalize_sql(std::string_view sql) {
  std::string out;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '"') {
      auto close = sql.find('"', i + 1);
      if (close != std::string_view::npos && plain_identifier(sql.substr(i + 1, close - i - 1))) {
        out.append(sql.substr(i + 1, close - i - 1));
        i = close;
        continue;
      }
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    if ((c == '(' || c == ')' || c == ',') && !out.empty() && out.back() == ' ') out.pop_back();
    out += c;
    if (c == '(' || c == ',') {
      while (i + 1 < sql.size() && std::isspace(static_cast<unsigned char>(sql[i + 1]))) ++i;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Result<std::string> normalized_schema(Database& d) {
  auto rows = d.query("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name");
  if (!rows) return fail(rows.error());
  std::string out;
  for (const auto& row : *rows) {
    for (std::size_t i = 0; i < 3; ++i) out += std::get<std::string>(row[i]) + " | ";
    if (const auto* sql = std::get_if<std::string>(&row[3])) out += normalize_sql(*sql);
    out += '\n';
  }
  return out;
}

}  // namespace airlock::db

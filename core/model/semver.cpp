// Strict SemVer 2.0.0 (https://semver.org): the grammar of the spec's BNF, nothing more — no "v"
// prefix, no leading zeros in numeric identifiers, no empty identifiers; numbers of any length
// (compared as digit strings, so no number overflows).
#include "core/model/semver.hpp"

#include <algorithm>

namespace airlock {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-'; }
bool all_digits(std::string_view s) { return std::all_of(s.begin(), s.end(), is_digit); }

// A numeric core part: digits, no leading zero.
bool is_number(std::string_view s) { return !s.empty() && all_digits(s) && (s.size() == 1 || s[0] != '0'); }

// <0, 0, >0 for two numbers without leading zeros: the longer is larger, else lexical == numeric.
int compare_numbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

// Returns the reason an identifier list is invalid, or empty when fine.
std::string check_identifiers(std::string_view list, bool numeric_no_leading_zero, std::vector<std::string>& out) {
  for (auto id : split_dots(list)) {
    if (id.empty()) return "empty identifier";
    if (!std::all_of(id.begin(), id.end(), is_ident_char))
      return "identifier '" + std::string(id) + "' has a character outside [0-9A-Za-z-]";
    if (numeric_no_leading_zero && id.size() > 1 && id[0] == '0' && all_digits(id))
      return "numeric identifier '" + std::string(id) + "' has a leading zero";
    out.emplace_back(id);
  }
  return {};
}

int compare_identifier(const std::string& a, const std::string& b) {
  const bool an = all_digits(a), bn = all_digits(b);
  if (an && bn) return compare_numbers(a, b);
  if (an != bn) return an ? -1 : 1;  // numeric identifiers have lower precedence
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

Result<SemVer> parse_semver(std::string_view text) {
  if (text.size() > kMaxVersionBytes)
    return fail(ErrorClass::malformed, "version \"" + std::string(text.substr(0, 32)) + "...\" is " +
                                           std::to_string(text.size()) + " bytes, over the limit of " +
                                           std::to_string(kMaxVersionBytes));
  auto bad = [&](const std::string& why) {
    return fail(ErrorClass::malformed, "version \"" + std::string(text) + "\" is not SemVer 2.0.0: " + why);
  };
  SemVer v;
  std::string_view rest = text;
  if (auto plus = rest.find('+'); plus != std::string_view::npos) {
    if (auto why = check_identifiers(rest.substr(plus + 1), false, v.build); !why.empty())
      return bad("build metadata: " + why);
    rest = rest.substr(0, plus);
  }
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    if (auto why = check_identifiers(rest.substr(dash + 1), true, v.prerelease); !why.empty())
      return bad("pre-release: " + why);
    rest = rest.substr(0, dash);
  }
  auto core = split_dots(rest);
  if (core.size() != 3) return bad("expected MAJOR.MINOR.PATCH");
  if (!is_number(core[0]) || !is_number(core[1]) || !is_number(core[2]))
    return bad("MAJOR, MINOR and PATCH must be decimal numbers without leading zeros");
  v.major = std::string(core[0]);
  v.minor = std::string(core[1]);
  v.patch = std::string(core[2]);
  v.text = std::string(text);
  return v;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  for (auto part : {&SemVer::major, &SemVer::minor, &SemVer::patch})
    if (int c = compare_numbers(a.*part, b.*part); c != 0) return c;
  // A release without pre-release identifiers ranks above any pre-release of the same core.
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  const std::size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (std::size_t i = 0; i < n; ++i)
    if (int c = compare_identifier(a.prerelease[i], b.prerelease[i]); c != 0) return c;
  if (a.prerelease.size() != b.prerelease.size()) return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  return 0;
}

}  // namespace airlock

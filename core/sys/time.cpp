// RFC 3339 offset date-times without the C library's time zone machinery (timegm and friends
// depend on TZ and on the platform's time_t range): civil dates are converted with Howard
// Hinnant's days_from_civil / civil_from_days, exact for the whole proleptic Gregorian calendar.
// Leap seconds (second 60) are refused, as toml++ refuses them: one rule for manifests and --at.
#include "core/sys/time.hpp"

#include <chrono>
#include <cstdio>
#include <limits>

namespace airlock {
namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m, d;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n decimal digits at s[pos], advancing pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// ".123" -> nanos (digits past the ninth are truncated, as TOML asks). pos at the '.'.
bool fraction(std::string_view s, std::size_t& pos, std::uint32_t& nanos) {
  ++pos;
  const std::size_t start = pos;
  std::uint32_t v = 0;
  std::size_t n = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    if (n < 9) {
      v = v * 10 + static_cast<std::uint32_t>(s[pos] - '0');
      ++n;
    }
    ++pos;
  }
  if (pos == start) return false;
  for (; n < 9; ++n) v *= 10;
  nanos = v;
  return true;
}

// "Z" | "z" | ("+"|"-") hh ":" mm
bool offset(std::string_view s, std::size_t& pos, std::int32_t& minutes) {
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
    minutes = 0;
    return true;
  }
  if (s[pos] != '+' && s[pos] != '-') return false;
  const int sign = s[pos] == '-' ? -1 : 1;
  ++pos;
  unsigned hh = 0, mm = 0;
  if (!digits(s, pos, 2, hh) || !expect(s, pos, ':') || !digits(s, pos, 2, mm)) return false;
  if (hh > 23 || mm > 59) return false;
  minutes = sign * static_cast<std::int32_t>(hh * 60 + mm);
  return true;
}

}  // namespace

std::optional<Timestamp> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, pos, 4, year) || !expect(s, pos, '-') || !digits(s, pos, 2, month) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, day))
    return std::nullopt;
  // RFC 3339 allows 't'; TOML also allows a space in place of the 'T'.
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!digits(s, pos, 2, hour) || !expect(s, pos, ':') || !digits(s, pos, 2, minute) || !expect(s, pos, ':') ||
      !digits(s, pos, 2, second))
    return std::nullopt;
  Timestamp t;
  if (pos < s.size() && s[pos] == '.' && !fraction(s, pos, t.nanos)) return std::nullopt;
  if (!offset(s, pos, t.offset_minutes) || pos != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const std::int64_t local =
      days_from_civil(year, month, day) * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
  t.unix_seconds = local - static_cast<std::int64_t>(t.offset_minutes) * 60;
  return t;
}

std::string format_rfc3339(const Timestamp& t) {
  const std::int64_t local = t.unix_seconds + static_cast<std::int64_t>(t.offset_minutes) * 60;
  std::int64_t days = local / 86400, secs = local % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  const Civil c = civil_from_days(days);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(c.y), c.m, c.d,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  std::string out = buf;
  if (t.nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09u", static_cast<unsigned>(t.nanos));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  if (t.offset_minutes == 0) return out + "Z";
  const std::int32_t m = t.offset_minutes < 0 ? -t.offset_minutes : t.offset_minutes;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", t.offset_minutes < 0 ? '-' : '+', m / 60, m % 60);
  return out + buf;
}

Timestamp now_utc() {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Timestamp t;
  t.unix_seconds = ns / 1'000'000'000;
  t.nanos = static_cast<std::uint32_t>(ns % 1'000'000'000);
  return t;
}

std::optional<std::int64_t> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t unit = 1;
  switch (s.back()) {
    case 's':
      unit = 1;
      s.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      s.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      s.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      s.remove_suffix(1);
      break;
    default:
      break;
  }
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::int64_t d = c - '0';
    if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v > std::numeric_limits<std::int64_t>::max() / unit) return std::nullopt;
  return v * unit;
}

}  // namespace airlock

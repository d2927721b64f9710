// Zone rules through glibc: localtime_r under TZ=":<zone>". Setting TZ is process-wide and not
// safe against another thread's getenv/localtime, so every use here holds one mutex, and airlock
// calls these only from its command thread before a run starts its worker threads (scheduling a
// job, listing jobs, deciding whether one is due). Only localtime_r is used (never mktime, whose
// handling of skipped and repeated wall times is unspecified): a wall time is resolved by trying
// the offsets in force around it.
#include "core/sys/local_time.hpp"

#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>

namespace airlock {
namespace {

std::mutex tz_mutex;

// TZ set to the zone for the life of the object, then restored.
class ScopedTz {
 public:
  explicit ScopedTz(const std::string& tz) : lock_(tz_mutex) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", (":" + tz).c_str(), 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_)
      ::setenv("TZ", old_->c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::lock_guard<std::mutex> lock_;
  std::optional<std::string> old_;
};

struct Wall {
  std::int64_t days;  // since 1970-01-01 in the zone
  std::int64_t offset;
};

// Both under the caller's ScopedTz.
std::int64_t offset_at(std::int64_t t) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  return tm.tm_gmtoff;
}

Wall wall_at(std::int64_t t) {
  const std::int64_t off = offset_at(t);
  const std::int64_t local = t + off;
  return {(local >= 0 ? local : local - 86399) / 86400, off};
}

// The instant whose wall clock reads `wall` (seconds since the epoch as if the zone were UTC).
std::int64_t resolve(std::int64_t wall) {
  const std::int64_t before = offset_at(wall - 86400), after = offset_at(wall + 86400);
  std::optional<std::int64_t> best;
  for (std::int64_t off : {before, after}) {
    const std::int64_t t = wall - off;
    if (offset_at(t) == off && (!best || t < *best)) best = t;  // two fit: ambiguous, the earlier
  }
  if (best) return *best;
  // In a gap: the transition lies between the two readings; the first instant of the new offset.
  std::int64_t lo = wall - std::max(before, after), hi = wall - std::min(before, after);
  const std::int64_t old_off = offset_at(lo);
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (offset_at(mid) == old_off ? lo : hi) = mid;
  }
  return hi;
}

bool plain_name(const std::string& tz) {
  if (tz.empty() || tz.size() > 64 || tz.front() == '/' || tz.find("..") != std::string::npos) return false;
  for (char c : tz)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '+') return false;
  return true;
}

}  // namespace

Status check_time_zone(const std::string& tz) {
  if (tz == "UTC") return {};
  std::error_code ec;
  if (!plain_name(tz) || !std::filesystem::is_regular_file("/usr/share/zoneinfo/" + tz, ec))
    return fail(ErrorClass::usage, "time zone '" + tz +
                                       "' is not a zone of the system's tz database (/usr/share/zoneinfo); "
                                       "use a name such as 'UTC' or 'Europe/Berlin'");
  return {};
}

Result<Timestamp> in_zone(const std::string& tz, const Timestamp& t) {
  AIRLOCK_CHECK(check_time_zone(tz), "time zone");
  ScopedTz scope(tz);
  return Timestamp{t.unix_seconds, t.nanos, static_cast<std::int32_t>(offset_at(t.unix_seconds) / 60)};
}

Result<Timestamp> next_wall_time(const std::string& tz, int hh, int mm, const Timestamp& now) {
  AIRLOCK_CHECK(check_time_zone(tz), "time zone");
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return fail(ErrorClass::usage, "a wall time is HH:MM, 00:00 to 23:59");
  ScopedTz scope(tz);
  const std::int64_t today = wall_at(now.unix_seconds).days;
  for (std::int64_t day = today; day <= today + 2; ++day) {
    const std::int64_t t = resolve(day * 86400 + hh * 3600 + mm * 60);
    if (t > now.unix_seconds) return Timestamp{t, 0, static_cast<std::int32_t>(offset_at(t) / 60)};
  }
  return fail(ErrorClass::internal, "no wall time " + std::to_string(hh) + ":" + std::to_string(mm) + " found");
}

}  // namespace airlock

// Wall-clock time in a named IANA time zone (site.toml `timezone`, `schedule add --at HH:MM`).
// GCC 12's libstdc++ has no std::chrono time-zone database (no locate_zone), so the zone rules are
// read by glibc's localtime_r from the system tz database (/usr/share/zoneinfo), with TZ set to the
// zone for the duration of one call (see local_time.cpp for why that is safe where it is used).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/sys/time.hpp"

namespace airlock {

// "UTC", or a zone name of the system's tz database ("Europe/Berlin"): ErrorClass::usage otherwise
// (glibc would silently read an unknown name as UTC).
[[nodiscard]] Status check_time_zone(const std::string& tz);

// The same instant, with the offset zone `tz` has then (what format_rfc3339 shows).
[[nodiscard]] Result<Timestamp> in_zone(const std::string& tz, const Timestamp& t);

// The first instant after `now` whose wall clock in `tz` reads hh:mm. A wall time the zone skips
// (a DST gap) is the first instant after the gap; one it reads twice (the hour after a DST end)
// is the earlier instant.
[[nodiscard]] Result<Timestamp> next_wall_time(const std::string& tz, int hh, int mm, const Timestamp& now);

}  // namespace airlock

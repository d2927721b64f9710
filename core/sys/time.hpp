// Instants: RFC 3339 offset date-times as used in manifests, trust roots and --at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace airlock {

struct Timestamp {
  std::int64_t unix_seconds = 0;  // UTC
  std::uint32_t nanos = 0;        // fraction
  std::int32_t offset_minutes = 0;  // as written (for round-trip rendering)
  auto operator<=>(const Timestamp& o) const {
    if (auto c = unix_seconds <=> o.unix_seconds; c != 0) return c;
    return nanos <=> o.nanos;
  }
  bool operator==(const Timestamp& o) const { return unix_seconds == o.unix_seconds && nanos == o.nanos; }
};

// "2026-05-06T10:00:00Z", "2026-05-06T12:00:00.5+02:00"; nullopt when not an offset date-time.
std::optional<Timestamp> parse_rfc3339(std::string_view s);
// Renders in the written offset ("Z" for 0), fraction only when non-zero.
std::string format_rfc3339(const Timestamp& t);
Timestamp now_utc();
// "90s", "5m", "2h", "1d" -> seconds; nullopt when malformed.
std::optional<std::int64_t> parse_duration(std::string_view s);

}  // namespace airlock

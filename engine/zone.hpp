// Customers' local time: IANA zones (date/tz), next occurrences of a local time of day across
// DST changes, and quiet-hours windows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <date/tz.h>

#include "engine/time.hpp"

namespace journey::engine {

/// Every IANA zone name of the system tzdata (and, with a text tzdb, every link name) with its
/// zone, resolved once. Immutable: looked up without a lock from any thread.
class Zones {
 public:
  /// Reads the zone names from the tzdata (date::get_tzdb(), which loads them on its first call
  /// in the process). A zone's rules are read by date/tz on the zone's first use. Without
  /// tzdata the table is empty.
  static Zones from_tzdb();

  /// The zone with this IANA name, or nullptr when unknown (as date::locate_zone, which throws).
  const date::time_zone* find(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, const date::time_zone*>> by_name_;  // sorted by name
};

/// The instant of a local date and time in `zone`. A time in a spring-forward gap resolves to
/// the first instant after the gap; an ambiguous (fall-back) time to its first occurrence.
Millis resolve_local(const date::time_zone* zone, date::local_seconds local);

/// A local time of day, on one weekday or on any day.
struct LocalTime {
  std::int64_t time_of_day = 0;  // seconds since local midnight
  int weekday = -1;              // 0 sunday .. 6 saturday; -1 any day
};

/// The next instant at or after (inclusive) or strictly after `now` at the local time `local`.
Millis next_local_time(const date::time_zone* zone, Millis now, LocalTime local, bool inclusive);

/// Seconds since local midnight of an instant.
std::int64_t local_time_of_day(const date::time_zone* zone, Millis at);

/// Whether `at` is inside the local window [start, end) (it may cross midnight).
bool in_window(const date::time_zone* zone, Millis at, std::int64_t start, std::int64_t end);

}  // namespace journey::engine

// Calendar arithmetic for the calendar clauses (docs/language.md, "Calendar campaigns"): dates
// read from attributes, yearly anniversaries, weekday sets and send windows with holidays, all
// in a customer's local time. Built on date/tz, as engine/zone.hpp is.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

#include <date/tz.h>

#include "engine/time.hpp"

namespace journey::engine {

/// A date read from an attribute: "YYYY-MM-DD" (a calendar date, `instant` empty) or an ISO-8601
/// timestamp (its date as written, and the instant it names).
struct DateValue {
  date::year_month_day day;
  std::optional<Millis> instant;
};

/// Reads "YYYY-MM-DD" or a timestamp (time.hpp); nullopt for anything else.
std::optional<DateValue> parse_date_value(std::string_view text);

/// The local day (days since 1970-01-01) of an instant in `zone`.
std::int64_t local_day(const date::time_zone* zone, Millis at);

/// The instant of a local day at a time of day plus an offset, in `zone` (the offset moves the
/// local date and time, so `offset -7d` of 09:00 is 09:00 a week before, across DST changes).
Millis local_instant(const date::time_zone* zone, date::local_days day, std::int64_t time_of_day,
                     std::int64_t offset_ms);

/// The next instant strictly after `now` of the yearly anniversary of month/day at a local time
/// of day plus an offset. February 29 falls on February 28 in years without one.
Millis next_anniversary(const date::time_zone* zone, Millis now, date::month_day day,
                        std::int64_t time_of_day, std::int64_t offset_ms);

/// A local time of day on a set of weekdays.
struct DaysTime {
  std::int64_t time_of_day = 0;  // seconds since local midnight
  int weekdays = 0;              // bit d for weekday d (0 sunday .. 6 saturday); 0 = every day
};

/// The next instant at or after (inclusive) or strictly after `now` at the local time of day on
/// one of the weekdays.
Millis next_time_on_days(const date::time_zone* zone, Millis now, DaysTime when, bool inclusive);

/// A local window [start, end) on a set of weekdays, as `send window` gives it.
struct DaysWindow {
  int weekdays = 0x7F;     // bit d for weekday d (0 sunday .. 6 saturday)
  std::int64_t start = 0;  // seconds since local midnight
  std::int64_t end = 0;
};

/// When a send due at `now` may go out under the window, skipping the local dates in `holidays`
/// when given: `now` itself when the window is open, else its next opening; nullopt when it
/// never opens (no weekday in the set, or a year of holidays).
std::optional<Millis> window_opening(const date::time_zone* zone, Millis now,
                                     const DaysWindow& window,
                                     const std::set<std::int64_t>* holidays);

/// Whether the local date of `at` in `zone` is in `holidays`.
bool is_holiday(const date::time_zone* zone, Millis at, const std::set<std::int64_t>& holidays);

}  // namespace journey::engine

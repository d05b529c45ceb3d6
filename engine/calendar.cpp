#include "engine/calendar.hpp"

#include "engine/zone.hpp"

namespace journey::engine {
namespace {

date::sys_seconds sys_of(Millis at) {
  return date::sys_seconds{std::chrono::seconds{at >= 0 ? at / 1000 : (at - 999) / 1000}};
}

date::local_days local_date(const date::time_zone* zone, Millis at) {
  return date::floor<date::days>(zone->to_local(sys_of(at)));
}

bool on_days(date::local_days day, int weekdays) {
  return weekdays == 0 || (weekdays >> date::weekday{day}.c_encoding() & 1) != 0;
}

}  // namespace

std::optional<DateValue> parse_date_value(std::string_view text) {
  if (text.size() == 10) {
    const auto timestamp = parse_timestamp(std::string(text) + "T00:00:00Z");
    if (!timestamp) return std::nullopt;
    const date::sys_days day = date::floor<date::days>(
        date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{*timestamp}});
    return DateValue{date::year_month_day{day}, std::nullopt};
  }
  const auto instant = parse_timestamp(text);
  if (!instant) return std::nullopt;
  const auto written = parse_timestamp(std::string(text.substr(0, 10)) + "T00:00:00Z");
  if (!written) return std::nullopt;
  const date::sys_days day = date::floor<date::days>(
      date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{*written}});
  return DateValue{date::year_month_day{day}, instant};
}

std::int64_t local_day(const date::time_zone* zone, Millis at) {
  return local_date(zone, at).time_since_epoch().count();
}

Millis local_instant(const date::time_zone* zone, date::local_days day, std::int64_t time_of_day,
                     std::int64_t offset_ms) {
  const Millis base = resolve_local(
      zone, day + std::chrono::seconds{time_of_day} + std::chrono::seconds{offset_ms / 1000});
  return base + offset_ms % 1000;
}

Millis next_anniversary(const date::time_zone* zone, Millis now, date::month_day day,
                        std::int64_t time_of_day, std::int64_t offset_ms) {
  const date::year this_year = date::year_month_day{local_date(zone, now)}.year();
  // An offset of up to a few years either way still finds the occurrence in this window.
  const auto years = static_cast<int>(offset_ms / (366LL * 86400 * 1000));
  for (int k = -2 - std::max(years, 0); k <= 3 - std::min(years, 0); ++k) {
    const date::year y = this_year + date::years{k};
    date::year_month_day ymd = y / day;
    if (!ymd.ok()) ymd = y / date::February / date::day{28};  // February 29, not a leap year
    const Millis at = local_instant(zone, date::local_days{ymd}, time_of_day, offset_ms);
    if (at > now) return at;
  }
  return now + 366LL * 86400 * 1000;  // unreachable: some year of the window is after now
}

Millis next_time_on_days(const date::time_zone* zone, Millis now, DaysTime when, bool inclusive) {
  const date::local_days today = local_date(zone, now);
  for (int k = -1; k <= 9; ++k) {
    const date::local_days day = today + date::days{k};
    if (!on_days(day, when.weekdays)) continue;
    const Millis at = resolve_local(zone, day + std::chrono::seconds{when.time_of_day});
    if (inclusive ? at >= now : at > now) return at;
  }
  return now + 7LL * 86400 * 1000;  // unreachable for a non-empty weekday set
}

std::optional<Millis> window_opening(const date::time_zone* zone, Millis now,
                                     const DaysWindow& window,
                                     const std::set<std::int64_t>* holidays) {
  const auto [weekdays, start, end] = window;
  if ((weekdays & 0x7F) == 0) return std::nullopt;
  const date::local_days today = local_date(zone, now);
  for (int k = 0; k <= 400; ++k) {
    const date::local_days day = today + date::days{k};
    if (!on_days(day, weekdays)) continue;
    if (holidays != nullptr && holidays->count(day.time_since_epoch().count()) > 0) continue;
    const Millis open = resolve_local(zone, day + std::chrono::seconds{start});
    const Millis close = resolve_local(zone, day + std::chrono::seconds{end});
    if (now < open) return open;
    if (now < close) return now;
  }
  return std::nullopt;
}

bool is_holiday(const date::time_zone* zone, Millis at, const std::set<std::int64_t>& holidays) {
  return holidays.count(local_day(zone, at)) > 0;
}

}  // namespace journey::engine

#include "engine/zone.hpp"

#include <algorithm>
#include <exception>

namespace journey::engine {

Zones Zones::from_tzdb() {
  Zones out;
  try {
    const date::tzdb& db = date::get_tzdb();
    for (const auto& zone : db.zones) out.by_name_.emplace_back(zone.name(), &zone);
#if !USE_OS_TZDB
    for (const auto& link : db.links) {
      try {
        out.by_name_.emplace_back(link.name(), db.locate_zone(link.name()));
      } catch (const std::exception&) {
        // a link to a zone the tzdb lacks: unknown, as date::locate_zone has it
      }
    }
#endif
  } catch (const std::exception&) {
    out.by_name_.clear();  // no tzdata: every name is unknown
  }
  std::sort(out.by_name_.begin(), out.by_name_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

const date::time_zone* Zones::find(std::string_view name) const {
  const auto it =
      std::lower_bound(by_name_.begin(), by_name_.end(), name,
                       [](const auto& entry, std::string_view n) { return entry.first < n; });
  return it != by_name_.end() && it->first == name ? it->second : nullptr;
}

Millis resolve_local(const date::time_zone* zone, date::local_seconds local) {
  const auto info = zone->get_info(local);
  std::chrono::seconds sys{};
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // the first occurrence uses the earlier offset
      sys = local.time_since_epoch() - info.first.offset;
      break;
    case date::local_info::nonexistent:  // the first instant after the gap
      sys = info.second.begin.time_since_epoch();
      break;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(sys).count();
}

Millis next_local_time(const date::time_zone* zone, Millis now, LocalTime local, bool inclusive) {
  const auto [time_of_day, weekday] = local;
  const date::sys_seconds sys_now{std::chrono::seconds{now >= 0 ? now / 1000 : (now - 999) / 1000}};
  const auto local_now = zone->to_local(sys_now);
  const auto today = date::floor<date::days>(local_now);
  for (int k = -1; k <= 9; ++k) {
    const date::local_days day = today + date::days{k};
    if (weekday >= 0 && date::weekday{day}.c_encoding() != static_cast<unsigned>(weekday)) continue;
    const Millis at = resolve_local(zone, day + std::chrono::seconds{time_of_day});
    if (inclusive ? at >= now : at > now) return at;
  }
  return now + 7LL * 86400 * 1000;  // unreachable for valid zones
}

std::int64_t local_time_of_day(const date::time_zone* zone, Millis at) {
  const date::sys_seconds sys{std::chrono::seconds{at >= 0 ? at / 1000 : (at - 999) / 1000}};
  const auto local = zone->to_local(sys);
  return (local - date::floor<date::days>(local)).count();
}

bool in_window(const date::time_zone* zone, Millis at, std::int64_t start, std::int64_t end) {
  const std::int64_t t = local_time_of_day(zone, at);
  if (start < end) return t >= start && t < end;
  return t >= start || t < end;
}

}  // namespace journey::engine

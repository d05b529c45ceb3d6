#include "engine/time.hpp"

#include <charconv>

#include <date/date.h>

namespace journey::engine {
namespace {

bool read_int(std::string_view text, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > text.size()) return false;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  std::from_chars(text.data() + pos, text.data() + pos + len, out);
  return true;
}

}  // namespace

std::optional<Millis> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM); a space is accepted in place of `T`.
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_int(text, 0, 4, y) || text.size() < 19 || text[4] != '-' || !read_int(text, 5, 2, mo) ||
      text[7] != '-' || !read_int(text, 8, 2, d) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_int(text, 11, 2, h) ||
      text[13] != ':' || !read_int(text, 14, 2, mi) || text[16] != ':' ||
      !read_int(text, 17, 2, s)) {
    return std::nullopt;
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::size_t pos = 19;
  Millis ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) ms *= 10;
  }
  Millis offset = 0;
  if (pos == text.size()) return std::nullopt;  // a zone is required
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh = 0, om = 0;
    const int sign = text[pos] == '-' ? -1 : 1;
    if (!read_int(text, pos + 1, 2, oh)) return std::nullopt;
    pos += 3;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!read_int(text, pos, 2, om)) return std::nullopt;
    pos += 2;
    if (oh > 23 || om > 59) return std::nullopt;
    offset = sign * (Millis{oh} * 3600 + Millis{om} * 60) * 1000;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const auto days = date::sys_days{ymd}.time_since_epoch().count();
  return (static_cast<Millis>(days) * 86400 + Millis{h} * 3600 + Millis{mi} * 60 + s) * 1000 + ms -
         offset;
}

std::string format_timestamp(Millis at) {
  const date::sys_time<std::chrono::milliseconds> tp{std::chrono::milliseconds{at}};
  const auto day = date::floor<date::days>(tp);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<std::chrono::milliseconds> tod{tp - day};
  char buf[40];
  const int ms = static_cast<int>(tod.subseconds().count());
  int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                    static_cast<int>(tod.seconds().count()));
  if (ms != 0) n += std::snprintf(buf + n, sizeof buf - n, ".%03d", ms);
  std::snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

}  // namespace journey::engine

// The language's canonical printers of expressions and literals, apart from the file formatter
// (fmt.hpp) so that the engine's traces and IR can use them without it. Defined in fmt.cpp,
// whose layout shares their helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/ast.hpp"

namespace journey::dsl {

/// The canonical source text of an expression, with the fewest parentheses that keep its meaning.
/// Shared by `journey fmt`, the compiler's IR and version hash, graphs and messages.
std::string expr_text(const Expr& expr);

/// A duration in seconds as the language writes it: "1d12h", "30m", "0s".
std::string duration_text(std::int64_t seconds);

/// Seconds since midnight as HH:MM.
std::string time_of_day_text(std::int64_t seconds);

/// A set of weekdays (bit d for weekday d, 0 sunday) as the language writes it: "daily",
/// "weekdays", "weekends", "monday", "mon-wed", "mon,wed,fri".
std::string days_text(int weekdays);

/// A `wait until` target of weekdays and a time: "09:00" (any day), "monday 09:00".
std::string until_time_text(int weekdays, std::int64_t time_of_day);

/// An `offset` value in seconds: "-7d", "+2h".
std::string offset_text(std::int64_t seconds);

/// A local date and time in seconds since 1970-01-01T00:00 as written: "2026-12-24T10:00", with
/// seconds only when set ("2026-12-24T10:00:30").
std::string date_time_text(std::int64_t seconds);

/// When a calendar entry fires, as written (Entry's fields of the same names).
struct CalendarTime {
  std::int64_t time_of_day = 0;  // Yearly, OnDate: seconds since local midnight
  std::int64_t offset = 0;       // Yearly, OnDate: seconds
  std::int64_t at = 0;           // At: local date and time, seconds since 1970-01-01T00:00
  bool local = false;            // At
};

/// A calendar entry clause after `entry`, without its `when`: "every year on customer.birthday
/// at 09:00 offset -7d", "on date customer.renewal_at", "at 2026-12-24T10:00 local".
std::string calendar_entry_text(EntryKind kind, const std::vector<std::string>& path,
                                const CalendarTime& when);

/// A send window clause: "send window mon-fri 09:00-18:00 except holidays".
std::string send_window_text(int weekdays, std::int64_t start, std::int64_t end,
                             bool except_holidays);

/// A binary operator as written: "and", "==", "+".
const char* op_text(BinaryOp op);

/// A string literal: in double quotes, with `"`, `\`, line breaks, tabs and control characters
/// escaped.
std::string string_text(std::string_view text);

/// An event name as a script writes it: bare when it can be, else as a string.
std::string event_name_text(const std::string& name);

}  // namespace journey::dsl

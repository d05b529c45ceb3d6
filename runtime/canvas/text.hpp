// Text helpers of the canvas and pages: escaping for HTML and numbers as people read them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace journey::canvas {

/// `&`, `<`, `>`, `"` and `'` as entities; invalid UTF-8 as U+FFFD.
std::string html_escape(std::string_view text);

/// `text` with every byte but ASCII letters, digits and those in `keep` as `marker` and two
/// upper-case hex digits: `%` gives a URL's percent-encoding, `.` an HTML id fragment.
std::string hex_escape(std::string_view text, char marker, std::string_view keep);

/// 1234567 as "1,234,567".
std::string count_text(std::int64_t n);

/// part/whole as "12.5%", or "-" when whole is 0.
std::string percent_text(std::int64_t part, std::int64_t whole);

}  // namespace journey::canvas

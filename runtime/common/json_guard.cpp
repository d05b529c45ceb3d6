#include "runtime/common/json_guard.hpp"

#include <charconv>
#include <vector>

namespace journey::runtime {
namespace {

/// One open array or object: its key or index so far, for the path.
struct Level {
  bool array = false;
  std::size_t index = 0;
  std::string key;  // the raw text of the current key (objects)
};

bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

std::string path_of(const std::vector<Level>& levels) {
  std::string path = "$";
  for (const auto& level : levels) {
    if (level.array) {
      path += "[" + std::to_string(level.index) + "]";
    } else if (plain_key(level.key)) {
      path += "." + level.key;
    } else {
      path += "[\"" + level.key + "\"]";
    }
  }
  return path;
}

}  // namespace

bool beyond_double(std::string_view number) {
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc::result_out_of_range) return false;
  // from_chars says out of range for underflow too: nlohmann reads that as 0.
  const std::string_view parsed(number.data(), static_cast<std::size_t>(end - number.data()));
  auto exponent = parsed.find_first_of("eE");
  return exponent == std::string_view::npos || exponent + 1 >= parsed.size() ||
         parsed[exponent + 1] != '-';
}

std::optional<JsonLimitError> check_json_limits(std::string_view text, std::size_t max_depth) {
  std::vector<Level> levels;
  // Object keys: the string after `{` or `,` inside an object is a key, not a value.
  bool expect_key = false;
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const char c = text[i];
    if (c == '"') {
      std::size_t start = ++i;
      while (i < n && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
      if (i >= n) return std::nullopt;  // unterminated: the parser reports it
      if (expect_key && !levels.empty())
        levels.back().key = std::string(text.substr(start, i - start));
      expect_key = false;
      ++i;
      continue;
    }
    if (c == '{' || c == '[') {
      if (levels.size() >= max_depth) {
        return JsonLimitError{path_of(levels), "nesting deeper than " + std::to_string(max_depth) +
                                                   " levels (limits.json_depth)"};
      }
      levels.push_back({c == '[', 0, {}});
      expect_key = c == '{';
      ++i;
      continue;
    }
    if (c == '}' || c == ']') {
      if (!levels.empty()) levels.pop_back();
      expect_key = false;
      ++i;
      continue;
    }
    if (c == ',') {
      if (!levels.empty()) {
        if (levels.back().array) {
          ++levels.back().index;
        } else {
          expect_key = true;
        }
      }
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t start = i;
      while (i < n && (text[i] == '-' || text[i] == '+' || text[i] == '.' || text[i] == 'e' ||
                       text[i] == 'E' || (text[i] >= '0' && text[i] <= '9'))) {
        ++i;
      }
      if (beyond_double(text.substr(start, i - start))) {
        return JsonLimitError{
            path_of(levels),
            "the number " + std::string(text.substr(start, std::min<std::size_t>(i - start, 40))) +
                " is out of range (larger than a double)"};
      }
      continue;
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace journey::runtime

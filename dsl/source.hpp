// A loaded source file: its path and text, and the mapping from byte offsets to line:col.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace journey::dsl {

/// A 1-based line and column. Columns count characters (UTF-8 code points), not bytes.
struct LineCol {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

/// One source file held in memory. Offsets in Spans refer to `text()`.
class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }

  /// Line and column of a byte offset (clamped to the end of the text).
  LineCol locate(std::uint32_t offset) const;
  /// The text of a 1-based line, without its line break.
  std::string_view line_text(std::uint32_t line) const;
  std::uint32_t line_count() const { return static_cast<std::uint32_t>(line_starts_.size()); }

 private:
  std::string path_;
  std::string text_;
  std::vector<std::uint32_t> line_starts_;
};

}  // namespace journey::dsl

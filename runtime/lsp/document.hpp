// One document's text as the editor has it, addressed the way LSP addresses it: lines, and
// columns counted in UTF-16 code units, while the language library works in byte offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace journey::lsp {

/// An LSP position: a 0-based line and a column in UTF-16 code units.
struct Position {
  std::uint32_t line = 0;
  std::uint32_t character = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

/// A text with its line index.
class Document {
 public:
  explicit Document(std::string text = {}) { set(std::move(text)); }

  const std::string& text() const { return text_; }

  /// Replaces the whole text.
  void set(std::string text);

  /// Replaces the text between two positions (an incremental change).
  void replace(Position from, Position to, std::string_view text);

  /// The byte offset of a position. A column past the end of its line means the end of the line
  /// (LSP's rule), a line past the end the end of the text; a column inside a character that
  /// takes two UTF-16 units means its start.
  std::uint32_t offset(Position position) const;

  /// The position of a byte offset (clamped to the text; inside a character, its start).
  Position position(std::uint32_t offset) const;

  /// The position after the last character.
  Position end() const { return position(static_cast<std::uint32_t>(text_.size())); }

 private:
  void index_lines();

  /// Where line `line` ends, before its line break (`\n` or `\r\n`).
  std::uint32_t line_end(std::uint32_t line) const;

  std::string text_;
  std::vector<std::uint32_t> line_starts_;
};

}  // namespace journey::lsp

#include "runtime/lsp/document.hpp"

#include <algorithm>

namespace journey::lsp {

namespace {

/// The length in bytes of the UTF-8 sequence a lead byte starts (1 for a stray byte).
std::uint32_t sequence_length(unsigned char lead) {
  if (lead >= 0xF0 && lead <= 0xF7) return 4;
  if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
  if (lead >= 0xC0) return 2;
  return 1;
}

}  // namespace

void Document::set(std::string text) {
  text_ = std::move(text);
  index_lines();
}

void Document::index_lines() {
  line_starts_.assign(1, 0);
  for (std::uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

void Document::replace(Position from, Position to, std::string_view text) {
  std::uint32_t begin = offset(from);
  std::uint32_t end = offset(to);
  if (end < begin) std::swap(begin, end);
  text_.replace(begin, end - begin, text);
  index_lines();
}

std::uint32_t Document::line_end(std::uint32_t line) const {
  std::uint32_t end = line + 1 < line_starts_.size() ? line_starts_[line + 1] - 1
                                                     : static_cast<std::uint32_t>(text_.size());
  if (end > line_starts_[line] && text_[end - 1] == '\r') --end;
  return end;
}

std::uint32_t Document::offset(Position position) const {
  if (position.line >= line_starts_.size()) return static_cast<std::uint32_t>(text_.size());
  std::uint32_t at = line_starts_[position.line];
  const std::uint32_t end = line_end(position.line);
  std::uint32_t units = 0;
  while (at < end) {
    const std::uint32_t length =
        std::min(sequence_length(static_cast<unsigned char>(text_[at])), end - at);
    const std::uint32_t width = length == 4 ? 2 : 1;
    if (units + width > position.character) break;
    units += width;
    at += length;
  }
  return at;
}

Position Document::position(std::uint32_t offset) const {
  offset = std::min<std::uint32_t>(offset, static_cast<std::uint32_t>(text_.size()));
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const auto line = static_cast<std::uint32_t>(it - line_starts_.begin() - 1);
  std::uint32_t at = line_starts_[line];
  const std::uint32_t end = std::min(offset, line_end(line));
  std::uint32_t units = 0;
  while (at < end) {
    const std::uint32_t length = sequence_length(static_cast<unsigned char>(text_[at]));
    if (at + length > end) break;  // inside a character: its start
    units += length == 4 ? 2 : 1;
    at += length;
  }
  return {line, units};
}

}  // namespace journey::lsp

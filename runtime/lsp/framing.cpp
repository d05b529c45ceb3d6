#include "runtime/lsp/framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace journey::lsp {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The Content-Length of a header block (without its final blank line), or an error.
std::optional<std::size_t> content_length(std::string_view headers, std::string& error) {
  std::optional<std::size_t> length;
  while (!headers.empty()) {
    const std::size_t end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    headers.remove_prefix(end == std::string_view::npos ? headers.size() : end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = "malformed header line (expected `Name: value`)";
      return std::nullopt;
    }
    if (!same_name(trim(line.substr(0, colon)), "Content-Length")) continue;
    const std::string_view value = trim(line.substr(colon + 1));
    std::size_t n = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
      error = "Content-Length is not a number";
      return std::nullopt;
    }
    length = n;
  }
  if (!length) error = "no Content-Length header";
  return length;
}

}  // namespace

void FrameReader::feed(std::string_view bytes) {
  if (skip_ > 0) {
    const std::size_t dropped = std::min(skip_, bytes.size());
    skip_ -= dropped;
    bytes.remove_prefix(dropped);
  }
  buffer_.append(bytes);
}

std::optional<Frame> FrameReader::next() {
  if (skip_ > 0) return std::nullopt;
  if (!in_body_) {
    const std::size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buffer_.size() <= kMaxHeader) return std::nullopt;
      buffer_.clear();
      return Frame{{}, "a header longer than " + std::to_string(kMaxHeader) + " bytes"};
    }
    std::string error;
    const auto length = content_length(std::string_view(buffer_).substr(0, end), error);
    buffer_.erase(0, end + 4);
    if (!length) return Frame{{}, "malformed message header: " + error};
    if (*length > max_body_) {
      const std::size_t dropped = std::min(*length, buffer_.size());
      buffer_.erase(0, dropped);
      skip_ = *length - dropped;
      return Frame{{},
                   "a message of " + std::to_string(*length) +
                       " bytes is larger than the limit of " + std::to_string(max_body_) +
                       " bytes"};
    }
    body_length_ = *length;
    in_body_ = true;
  }
  if (buffer_.size() < body_length_) return std::nullopt;
  Frame out;
  out.body = buffer_.substr(0, body_length_);
  buffer_.erase(0, body_length_);
  in_body_ = false;
  return out;
}

std::string frame(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace journey::lsp

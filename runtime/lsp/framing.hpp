// The base protocol of LSP: messages framed by a `Content-Length` header (JSON-RPC over a byte
// stream). The reader takes bytes as they come and hands out whole message bodies, or an error
// for a frame it cannot take (a malformed header, a body over the size limit); it never throws
// and always makes progress, so a bad frame costs that frame only.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace journey::lsp {

/// One frame read: its body, or why it was dropped.
struct Frame {
  std::string body;
  std::string error;  // non-empty when the frame was dropped; `body` is then empty
};

/// Splits a byte stream into frames.
class FrameReader {
 public:
  /// `max_body`: the largest body taken; a larger one is skipped as it arrives, with an error.
  explicit FrameReader(std::size_t max_body) : max_body_(max_body) {}

  /// Adds bytes read from the stream.
  void feed(std::string_view bytes);

  /// The next whole frame (or error), if the bytes fed hold one.
  std::optional<Frame> next();

  /// Bytes fed and not yet handed out (or still to skip).
  bool pending() const { return !buffer_.empty() || skip_ > 0; }

  /// The longest header block taken (then the block is dropped with an error).
  static constexpr std::size_t kMaxHeader = 8192;

 private:
  std::size_t max_body_;
  std::string buffer_;
  std::size_t body_length_ = 0;  // of the frame whose header was read
  bool in_body_ = false;
  std::size_t skip_ = 0;  // bytes of an oversized body still to drop
};

/// A message body with its header, ready to write.
std::string frame(std::string_view body);

}  // namespace journey::lsp

// Byte records kept in memory up to a limit and in an unnamed temporary file beyond it: how
// `journey simulate` handles inputs larger than memory. Records are read back in the order they
// were added.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace journey::runtime {

/// An append-only sequence of records. Not thread-safe: one writer, then one reader.
class Spill {
 public:
  /// Keeps up to `memory_limit` bytes in memory; the rest goes to a file in $TMPDIR (else /tmp)
  /// that is never linked into a folder, so nothing is left behind.
  explicit Spill(std::size_t memory_limit);
  ~Spill();
  Spill(Spill&& other) noexcept;
  Spill(const Spill&) = delete;
  Spill& operator=(const Spill&) = delete;
  Spill& operator=(Spill&&) = delete;

  /// Adds one record. Throws std::runtime_error when the temporary file cannot be written.
  void add(std::string_view record);

  std::size_t size() const { return count_; }
  /// Bytes held, in memory and on disk.
  std::size_t bytes() const { return on_disk_ + memory_.size(); }

  /// Reads the records back in order, one at a time. Throws std::runtime_error when the
  /// temporary file cannot be read.
  class Cursor {
   public:
    /// Reads the file part in blocks of `block` bytes (larger for a larger record).
    explicit Cursor(const Spill& spill, std::size_t block = std::size_t{1} << 20);
    /// The next record, valid until the next call; false at the end.
    bool next(std::string_view& record);

   private:
    bool fill(std::size_t n);
    const Spill& spill_;
    std::size_t block_size_;
    std::string block_;
    std::size_t pos_ = 0;     // next unread byte of block_
    std::size_t have_ = 0;    // bytes of block_ holding data
    std::size_t offset_ = 0;  // file bytes read into block_ so far
    std::size_t memory_at_ = 0;
  };

  /// Calls `visit` for each record in order. The view is valid only during the call.
  void read(const std::function<void(std::string_view)>& visit) const;

  /// Appends every framed record ([u32 length][bytes]...) to `out` and empties the spill,
  /// releasing its memory and file.
  void take_all(std::string& out);

  /// Walks framed records in `bytes` (as take_all gives them).
  static void for_each(std::string_view bytes, const std::function<void(std::string_view)>& visit);

 private:
  void flush();

  std::size_t limit_;
  std::string memory_;  // framed records not yet on disk: [u32 length][bytes]...
  int fd_ = -1;
  std::size_t on_disk_ = 0;
  std::size_t count_ = 0;
};

}  // namespace journey::runtime

#include "runtime/sim/spill.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace journey::runtime {
namespace {

constexpr std::size_t kReserve = std::size_t{1}
                                 << 20;  // the memory part's first allocation, at most

std::string temp_folder() {
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + " a temporary file in " + temp_folder() + ": " +
                           std::strerror(errno));
}

// An unnamed file: O_TMPFILE where the file system has it, else a named one removed at once.
int open_temp() {
  const std::string dir = temp_folder();
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string name = dir + "/journey-spill-XXXXXX";
  fd = ::mkstemp(name.data());
  if (fd < 0) fail("cannot create");
  ::unlink(name.c_str());
  return fd;
}

void write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write");
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

Spill::Spill(std::size_t memory_limit) : limit_(memory_limit) {}

Spill::~Spill() {
  if (fd_ >= 0) ::close(fd_);
}

Spill::Spill(Spill&& other) noexcept
    : limit_(other.limit_),
      memory_(std::move(other.memory_)),
      fd_(other.fd_),
      on_disk_(other.on_disk_),
      count_(other.count_) {
  other.fd_ = -1;
  other.on_disk_ = 0;
  other.count_ = 0;
}

void Spill::add(std::string_view record) {
  const auto len = static_cast<std::uint32_t>(record.size());
  const std::size_t framed = sizeof len + record.size();
  // The memory part never grows past the limit (so its capacity stays at the limit).
  if (memory_.size() + framed > limit_ && !memory_.empty()) flush();
  if (memory_.capacity() < std::min(limit_, kReserve)) memory_.reserve(std::min(limit_, kReserve));
  memory_.append(reinterpret_cast<const char*>(&len), sizeof len);
  memory_.append(record);
  ++count_;
  if (memory_.size() > limit_) flush();
}

void Spill::take_all(std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + on_disk_);
  for (std::size_t done = 0; done < on_disk_;) {
    const ssize_t r =
        ::pread(fd_, out.data() + start + done, on_disk_ - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("cannot read");
    done += static_cast<std::size_t>(r);
  }
  out.append(memory_);
  std::string().swap(memory_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  on_disk_ = 0;
  count_ = 0;
}

void Spill::for_each(std::string_view bytes, const std::function<void(std::string_view)>& visit) {
  for (std::size_t at = 0; at + sizeof(std::uint32_t) <= bytes.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + at, sizeof len);
    visit(bytes.substr(at + sizeof len, len));
    at += sizeof len + len;
  }
}

void Spill::flush() {
  if (fd_ < 0) fd_ = open_temp();
  write_all(fd_, memory_.data(), memory_.size());
  on_disk_ += memory_.size();
  memory_.clear();
}

Spill::Cursor::Cursor(const Spill& spill, std::size_t block) : spill_(spill), block_size_(block) {}

// Makes at least n unread bytes of the file part available in block_; false at the file's end.
bool Spill::Cursor::fill(std::size_t n) {
  if (have_ - pos_ >= n) return true;
  std::memmove(block_.data(), block_.data() + pos_, have_ - pos_);
  have_ -= pos_;
  pos_ = 0;
  if (block_.size() < std::max(n, block_size_)) block_.resize(std::max(n, block_size_));
  while (have_ < n) {
    const std::size_t want = std::min(block_.size() - have_, spill_.on_disk_ - offset_);
    if (want == 0) return false;
    const ssize_t r = ::pread(spill_.fd_, block_.data() + have_, want, static_cast<off_t>(offset_));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("cannot read");
    offset_ += static_cast<std::size_t>(r);
    have_ += static_cast<std::size_t>(r);
  }
  return true;
}

bool Spill::Cursor::next(std::string_view& record) {
  std::uint32_t len = 0;
  if (offset_ < spill_.on_disk_ || pos_ < have_) {
    if (!fill(sizeof len)) fail("cannot read");  // a cut record: the file is damaged
    std::memcpy(&len, block_.data() + pos_, sizeof len);
    if (!fill(sizeof len + len)) fail("cannot read");
    record = std::string_view(block_.data() + pos_ + sizeof len, len);
    pos_ += sizeof len + len;
    return true;
  }
  const std::string& memory = spill_.memory_;
  if (memory_at_ >= memory.size()) return false;
  std::memcpy(&len, memory.data() + memory_at_, sizeof len);
  record = std::string_view(memory.data() + memory_at_ + sizeof len, len);
  memory_at_ += sizeof len + len;
  return true;
}

void Spill::read(const std::function<void(std::string_view)>& visit) const {
  Cursor cursor(*this);
  std::string_view record;
  while (cursor.next(record)) visit(record);
}

}  // namespace journey::runtime

#include "runtime/sim/event_scan.hpp"

#include <array>

#include "runtime/common/json_guard.hpp"

namespace journey::runtime {
namespace {

constexpr int kMaxDepth = 64;

// Bytes that end a plain string: the closing quote, and what the fast path leaves to the slow
// one (escapes, control characters, non-ASCII).
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> stop{};
  for (int c = 0; c < 256; ++c) stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
  return stop;
}();

// A validating JSON reader over one line. Every method returns false on anything the fast path
// does not take (errors, escapes, non-ASCII, deep nesting); the caller then falls back.
class Reader {
 public:
  explicit Reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }
  bool at_end() const { return p_ == end_; }
  bool peek(char c) const { return p_ < end_ && *p_ == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++p_;
    return true;
  }
  const char* pos() const { return p_; }

  // A string without escapes, control characters or non-ASCII bytes; `out` is its content.
  bool string(std::string_view& out) {
    if (!take('"')) return false;
    const char* start = p_;
    while (p_ < end_ && !kStringStop[static_cast<unsigned char>(*p_)]) ++p_;
    if (p_ == end_ || *p_ != '"') return false;
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }

  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': {
        std::string_view ignored;
        return string(ignored);
      }
      case 't': return word("true");
      case 'f': return word("false");
      case 'n': return word("null");
      default: return number();
    }
  }

  bool object(int depth) {
    if (depth > kMaxDepth || !take('{')) return false;
    space();
    if (take('}')) return true;
    for (;;) {
      std::string_view key;
      space();
      if (!string(key)) return false;
      space();
      if (!take(':')) return false;
      space();
      if (!value(depth)) return false;
      space();
      if (take('}')) return true;
      if (!take(',')) return false;
    }
  }

 private:
  bool array(int depth) {
    if (depth > kMaxDepth || !take('[')) return false;
    space();
    if (take(']')) return true;
    for (;;) {
      space();
      if (!value(depth)) return false;
      space();
      if (take(']')) return true;
      if (!take(',')) return false;
    }
  }

  bool word(std::string_view w) {
    if (static_cast<std::size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w)
      return false;
    p_ += w.size();
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  // The JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    const char* start = p_;
    if (!number_syntax()) return false;
    // A number beyond a double is refused by nlohmann: the slow path reports it.
    return !beyond_double({start, static_cast<std::size_t>(p_ - start)});
  }
  bool number_syntax() {
    take('-');
    if (take('0')) {
      if (p_ < end_ && *p_ >= '0' && *p_ <= '9') return false;
    } else if (!digits()) {
      return false;
    }
    if (take('.') && !digits()) return false;
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (!take('+')) take('-');
      if (!digits()) return false;
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

// One top-level field the event reader needs.
struct Field {
  enum class Kind { Absent, String, Null, Object, Other } kind = Kind::Absent;
  std::string_view text;  // String: the content; Object: the whole object's JSON text
};

}  // namespace

ScannedEvent scanned_from(const engine::Event& event, std::string_view properties) {
  ScannedEvent out;
  out.type = event.type;
  out.customer_id = event.customer_id;
  out.anonymous_id = event.anonymous_id;
  out.previous_id = event.previous_id;
  out.anonymous = event.anonymous;
  out.name = event.name;
  out.at = event.at;
  out.message_id = event.message_id;
  out.properties = properties;
  return out;
}

std::optional<ScannedEvent> scan_event(std::string_view line) {
  Reader r(line);
  Field type, user, anonymous, event, timestamp, properties, traits, message_id;
  const auto field_of = [&](std::string_view key) -> Field* {
    switch (key.size()) {
      case 4: return key == "type" ? &type : nullptr;
      case 5: return key == "event" ? &event : nullptr;
      case 6: return key == "userId" ? &user : key == "traits" ? &traits : nullptr;
      case 9: return key == "timestamp" ? &timestamp : key == "messageId" ? &message_id : nullptr;
      case 10: return key == "properties" ? &properties : nullptr;
      case 11: return key == "anonymousId" ? &anonymous : nullptr;
      default: return nullptr;
    }
  };
  r.space();
  if (!r.take('{')) return std::nullopt;
  r.space();
  if (!r.take('}')) {
    for (;;) {
      std::string_view key;
      r.space();
      if (!r.string(key)) return std::nullopt;
      r.space();
      if (!r.take(':')) return std::nullopt;
      r.space();
      Field* f = field_of(key);
      if (f != nullptr && f->kind != Field::Kind::Absent)
        return std::nullopt;  // a duplicate: last wins, slow path
      const char* start = r.pos();
      if (f != nullptr && r.peek('"')) {
        if (!r.string(f->text)) return std::nullopt;
        f->kind = Field::Kind::String;
      } else {
        if (!r.value(1)) return std::nullopt;
        if (f != nullptr) {
          const std::string_view text(start, static_cast<std::size_t>(r.pos() - start));
          f->kind = text == "null"  ? Field::Kind::Null
                    : *start == '{' ? Field::Kind::Object
                                    : Field::Kind::Other;
          f->text = text;
        }
      }
      r.space();
      if (r.take('}')) break;
      if (!r.take(',')) return std::nullopt;
    }
  }
  r.space();
  if (!r.at_end()) return std::nullopt;

  // The rules of engine::parse_event, for the accepting cases only.
  ScannedEvent out;
  if (type.kind == Field::Kind::String) {
    if (type.text == "track") {
      out.type = engine::Event::Type::Track;
    } else if (type.text == "identify") {
      out.type = engine::Event::Type::Identify;
    } else {
      return std::nullopt;
    }
  } else if (type.kind == Field::Kind::Absent) {
    out.type = event.kind == Field::Kind::Absent ? engine::Event::Type::Identify
                                                 : engine::Event::Type::Track;
  } else {
    return std::nullopt;
  }
  if (anonymous.kind == Field::Kind::String && !anonymous.text.empty()) {
    out.anonymous_id = anonymous.text;
  } else if (anonymous.kind != Field::Kind::Absent && anonymous.kind != Field::Kind::Null) {
    return std::nullopt;
  }
  if (user.kind == Field::Kind::String && !user.text.empty()) {
    out.customer_id = user.text;
  } else if ((user.kind == Field::Kind::Absent || user.kind == Field::Kind::Null) &&
             !out.anonymous_id.empty()) {
    out.customer_id = out.anonymous_id;
    out.anonymous = true;
  } else {
    return std::nullopt;
  }
  if (timestamp.kind != Field::Kind::String) return std::nullopt;
  const auto at = engine::parse_timestamp(timestamp.text);
  if (!at) return std::nullopt;
  out.at = *at;
  if (out.type == engine::Event::Type::Track) {
    if (event.kind != Field::Kind::String || event.text.empty()) return std::nullopt;
    out.name = event.text;
  }
  const Field& props = out.type == engine::Event::Type::Track ? properties : traits;
  if (props.kind == Field::Kind::Object) {
    out.properties = props.text;
  } else if (props.kind != Field::Kind::Absent && props.kind != Field::Kind::Null) {
    return std::nullopt;
  }
  if (message_id.kind == Field::Kind::String) {
    out.message_id = message_id.text;
  } else if (message_id.kind != Field::Kind::Absent && message_id.kind != Field::Kind::Null) {
    return std::nullopt;
  }
  return out;
}

}  // namespace journey::runtime

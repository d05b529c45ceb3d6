// CustomerState to bytes and back, for the store. A wake-up reads and writes one state, so this
// encodes it directly, without building a JSON tree first.
//
// Format 2 (written):
//   state    = 0x02 text:customer_id flag:known value:profile set:message_ids zz:clock
//              map<text, list<entry>>:timeline map<text, run>:runs map<text, history>:history
//              list<sent>:sent
//   entry    = zz:at value:properties
//   run      = text:version zz:entry_no zz:entered_at uint:pc byte:wait zz:wake_at value:trigger
//              value:event text:variant text:step map<text, zz>:visits bytes:exit_values
//   history  = zz:entries zz:last_entry text:version text:variant text:step value:trigger
//              set:goals_reached bytes:when_values optional<zz>:check_at map<uint, zz>:every_next
//   sent     = zz:at text:journey text:channel
//   value    = a JSON value: one tag byte, then 0 null, 1 false, 2 true, 3 zz (integer),
//              4 uint (unsigned), 5 f64 (float), 6 text (string), 7 list<value> (array),
//              8 map<text, value> (object)
// uint is a LEB128 varint, zz a zigzag varint, f64 an IEEE 754 double in 8 bytes little-endian,
// flag a byte 0 or 1, text and bytes a uint length and the bytes, optional<x> a flag and x when
// set, list / set / map a uint count and the items, keys strictly ascending. A run's journey is
// its key. The encoding is canonical (no overlong varints, keys in order, nothing after the
// state), so serialize(deserialize(b)) == b for any b that reads.
//
// Format 3 (written when the state counts purchases for the purchase model): format 2 with 0x03
// in front and one more field at the end:
//   purchases = uint:model zz:first_day zz:last_day zz:days f64:repeat_value zz:valued_days
//               flag:last_day_valued
// A state without purchases is written in format 2, so states written before the purchase model
// existed read and write the same bytes.
//
// Format 4 (written when the state has identity facts: the time of its first input, an anonymous
// id, linked ids): format 2 with 0x04 in front and, at the end:
//   flag:has_purchases [purchases] flag:anonymous optional<zz>:first_at list<text>:linked_ids
//   list<merge>:merges
//   merge     = zz:at text:absorbed text:into text:cause
//
// Format 5 (written when the state keeps consent records or a journey's last delivered send):
// format 2 with 0x05 in front and, at the end, the identity part of format 4 (even when empty),
// then:
//   list<consent>:consents map<text, text>:last_sends
//   consent   = text:key text:state text:at text:source zz:recorded
// last_sends maps a journey to JourneyHistory::last_send, for the histories that have one.
//
// Format 1 (read only, written by earlier builds): the state as a JSON object encoded as CBOR.
// Its first byte is a CBOR map header (0xA0..0xBB), never 0x02.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "engine/state.hpp"

namespace journey::engine {
namespace {

using nlohmann::json;

constexpr std::uint8_t kFormat = 0x02;
constexpr std::uint8_t kFormatPurchases = 0x03;
constexpr std::uint8_t kFormatIdentity = 0x04;
constexpr std::uint8_t kFormatProgram = 0x05;
// Deeper JSON is refused on both sides, so that reading cannot exhaust the stack and whatever
// is written can be read back. Events from the API are limited to 64 levels.
constexpr int kMaxDepth = 256;
// A welcome customer's state takes a few hundred bytes to about 1 KB (bench_state); larger
// states grow the string.
constexpr std::size_t kReserve = 1024;

// The first byte of an encoded JSON value.
enum class Tag : std::uint8_t {
  Null,
  False,
  True,
  Integer,
  Unsigned,
  Float,
  String,
  Array,
  Object
};

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("customer state: ") + what);
}

// Adds an item read in key order to a map or set. Keys must ascend without repeats (the one
// encoding of a map), so each item goes at the end, in constant time.
template <typename Container, typename... Args>
void append(Container& container, Args&&... args) {
  const auto size = container.size();
  const auto it = container.emplace_hint(container.end(), std::forward<Args>(args)...);
  if (container.size() == size || std::next(it) != container.end()) fail("keys out of order");
}

class Writer {
 public:
  Writer() { out_.reserve(kReserve); }

  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void flag(bool b) { byte(b ? 1 : 0); }

  void varint(std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) byte(static_cast<std::uint8_t>(v | 0x80));
    byte(static_cast<std::uint8_t>(v));
  }

  // Small negative numbers stay short: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
  void zigzag(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }

  void text(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }

  void number(double d) {
    auto bits = std::bit_cast<std::uint64_t>(d);
    for (int i = 0; i < 8; ++i, bits >>= 8) byte(static_cast<std::uint8_t>(bits));
  }

  void small_ints(const std::vector<std::int8_t>& values) {
    varint(values.size());
    for (const auto v : values) byte(static_cast<std::uint8_t>(v));
  }

  void value(const json& j, int depth = 0) {
    if (depth > kMaxDepth) fail("JSON nested too deep");
    switch (j.type()) {
      case json::value_t::null: tag(Tag::Null); break;
      case json::value_t::boolean: tag(j.get<bool>() ? Tag::True : Tag::False); break;
      case json::value_t::number_integer:
        tag(Tag::Integer);
        zigzag(j.get<std::int64_t>());
        break;
      case json::value_t::number_unsigned:
        tag(Tag::Unsigned);
        varint(j.get<std::uint64_t>());
        break;
      case json::value_t::number_float:
        tag(Tag::Float);
        number(j.get<double>());
        break;
      case json::value_t::string:
        tag(Tag::String);
        text(j.get_ref<const std::string&>());
        break;
      case json::value_t::array:
        tag(Tag::Array);
        varint(j.size());
        for (const auto& item : j) value(item, depth + 1);
        break;
      case json::value_t::object:
        tag(Tag::Object);
        varint(j.size());
        for (const auto& [key, item] : j.get_ref<const json::object_t&>()) {
          text(key);
          value(item, depth + 1);
        }
        break;
      default:  // binary (made only by binary formats such as CBOR) and discarded
        fail("JSON value of a kind that is not stored");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void tag(Tag t) { byte(static_cast<std::uint8_t>(t)); }

  std::string out_;
};

// Every read checks what is left, so no input makes it read past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }

  std::uint8_t byte() {
    if (rest_.empty()) fail("truncated");
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  bool flag() {
    const auto b = byte();
    if (b > 1) fail("bad flag");
    return b == 1;
  }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto b = byte();
      v |= std::uint64_t{b & 0x7fU} << shift;
      if ((b & 0x80) != 0) continue;
      if (b == 0 && shift > 0) fail("overlong varint");
      if (shift == 63 && b > 1) fail("varint out of range");
      return v;
    }
    fail("varint out of range");
  }

  std::int64_t zigzag() {
    const auto u = varint();
    return static_cast<std::int64_t>((u >> 1) ^ (0 - (u & 1)));
  }

  // A length or an item count. Every item takes at least one byte, so a count larger than what
  // is left is corrupt: checked before anything is allocated for it.
  std::size_t count() {
    const auto n = varint();
    if (n > rest_.size()) fail("count past the end");
    return static_cast<std::size_t>(n);
  }

  std::string text() { return std::string(take(count())); }

  double number() {
    std::uint64_t bits = 0;
    const auto raw = take(8);
    for (int i = 7; i >= 0; --i) bits = bits << 8 | static_cast<std::uint8_t>(raw[i]);
    return std::bit_cast<double>(bits);
  }

  std::vector<std::int8_t> small_ints() {
    const auto raw = take(count());
    return {raw.begin(), raw.end()};
  }

  json value(int depth = 0) {
    if (depth > kMaxDepth) fail("JSON nested too deep");
    switch (static_cast<Tag>(byte())) {
      case Tag::Null: return nullptr;
      case Tag::False: return false;
      case Tag::True: return true;
      case Tag::Integer: return zigzag();
      case Tag::Unsigned: return varint();
      case Tag::Float: return number();
      case Tag::String: return text();
      case Tag::Array: {
        json out = json::array();
        auto& items = out.get_ref<json::array_t&>();
        const auto n = count();
        items.reserve(n);
        for (std::size_t i = 0; i < n; ++i) items.push_back(value(depth + 1));
        return out;
      }
      case Tag::Object: {
        json out = json::object();
        auto& members = out.get_ref<json::object_t&>();
        for (auto n = count(); n > 0; --n) {
          auto key = text();
          append(members, std::move(key), value(depth + 1));
        }
        return out;
      }
    }
    fail("unknown JSON tag");
  }

 private:
  std::string_view take(std::size_t n) {
    if (n > rest_.size()) fail("truncated");
    const auto out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }

  std::string_view rest_;
};

void write_names(Writer& out, const std::set<std::string>& names) {
  out.varint(names.size());
  for (const auto& name : names) out.text(name);
}

std::set<std::string> read_names(Reader& in) {
  std::set<std::string> names;
  for (auto n = in.count(); n > 0; --n) append(names, in.text());
  return names;
}

void write_run(Writer& out, const RunState& run) {
  out.text(run.version);
  out.zigzag(run.entry_no);
  out.zigzag(run.entered_at);
  out.varint(run.pc);
  out.byte(static_cast<std::uint8_t>(run.wait));
  out.zigzag(run.wake_at);
  out.value(run.trigger);
  out.value(run.event);
  out.text(run.variant);
  out.text(run.step);
  out.varint(run.visits.size());
  for (const auto& [step, n] : run.visits) {
    out.text(step);
    out.zigzag(n);
  }
  out.small_ints(run.exit_values);
}

RunState read_run(Reader& in, const std::string& journey) {
  RunState run;
  run.journey = journey;
  run.version = in.text();
  run.entry_no = in.zigzag();
  run.entered_at = in.zigzag();
  run.pc = in.varint();
  const auto wait = in.byte();
  if (wait > static_cast<std::uint8_t>(RunState::Wait::Hold)) fail("unknown wait");
  run.wait = static_cast<RunState::Wait>(wait);
  run.wake_at = in.zigzag();
  run.trigger = in.value();
  run.event = in.value();
  run.variant = in.text();
  run.step = in.text();
  for (auto n = in.count(); n > 0; --n) {
    auto step = in.text();
    append(run.visits, std::move(step), in.zigzag());
  }
  run.exit_values = in.small_ints();
  return run;
}

void write_history(Writer& out, const JourneyHistory& history) {
  out.zigzag(history.entries);
  out.zigzag(history.last_entry);
  out.text(history.version);
  out.text(history.variant);
  out.text(history.step);
  out.value(history.trigger);
  write_names(out, history.goals_reached);
  out.small_ints(history.when_values);
  out.flag(history.check_at.has_value());
  if (history.check_at) out.zigzag(*history.check_at);
  out.varint(history.every_next.size());
  for (const auto& [clause, next] : history.every_next) {
    out.varint(clause);
    out.zigzag(next);
  }
}

JourneyHistory read_history(Reader& in) {
  JourneyHistory history;
  history.entries = in.zigzag();
  history.last_entry = in.zigzag();
  history.version = in.text();
  history.variant = in.text();
  history.step = in.text();
  history.trigger = in.value();
  history.goals_reached = read_names(in);
  history.when_values = in.small_ints();
  if (in.flag()) history.check_at = in.zigzag();
  for (auto n = in.count(); n > 0; --n) {
    const std::size_t clause = in.varint();
    append(history.every_next, clause, in.zigzag());
  }
  return history;
}

void write_purchases(Writer& out, const Purchases& p) {
  out.varint(p.model);
  out.zigzag(p.first_day);
  out.zigzag(p.last_day);
  out.zigzag(p.days);
  out.number(p.repeat_value);
  out.zigzag(p.valued_days);
  out.flag(p.last_day_valued);
}

Purchases read_purchases(Reader& in) {
  Purchases p;
  p.model = in.varint();
  p.first_day = in.zigzag();
  p.last_day = in.zigzag();
  p.days = in.zigzag();
  p.repeat_value = in.number();
  p.valued_days = in.zigzag();
  p.last_day_valued = in.flag();
  return p;
}

std::unique_ptr<CustomerState> read_state(Reader& in) {
  auto state = std::make_unique<CustomerState>();
  state->customer_id = in.text();
  state->known = in.flag();
  state->profile = in.value();
  state->message_ids = read_names(in);
  state->clock = in.zigzag();
  for (auto n = in.count(); n > 0; --n) {
    auto event = in.text();
    const auto entry_count = in.count();
    std::vector<TimelineEntry> entries;
    entries.reserve(entry_count);
    for (std::size_t i = 0; i < entry_count; ++i) {
      const Millis at = in.zigzag();
      entries.push_back({at, in.value()});
    }
    append(state->timeline, std::move(event), std::move(entries));
  }
  for (auto n = in.count(); n > 0; --n) {
    auto journey = in.text();
    auto run = read_run(in, journey);
    append(state->runs, std::move(journey), std::move(run));
  }
  for (auto n = in.count(); n > 0; --n) {
    auto journey = in.text();
    append(state->history, std::move(journey), read_history(in));
  }
  state->sent.resize(in.count());
  for (auto& sent : state->sent) {
    sent.at = in.zigzag();
    sent.journey = in.text();
    sent.channel = in.text();
  }
  return state;
}

// Format 1, as earlier builds wrote it.
std::vector<std::int8_t> values_from(const json& j) {
  std::vector<std::int8_t> out;
  for (const auto& v : j) out.push_back(static_cast<std::int8_t>(v.get<int>()));
  return out;
}

std::unique_ptr<CustomerState> read_cbor_state(const std::string& bytes) {
  const json in = json::from_cbor(bytes);
  if (!in.is_object() || in.value("v", 0) != 1)
    throw std::runtime_error("customer state: unknown format");
  auto state = std::make_unique<CustomerState>();
  state->customer_id = in.at("id").get<std::string>();
  state->known = in.at("known").get<bool>();
  state->profile = in.at("profile");
  state->message_ids = in.at("mids").get<std::set<std::string>>();
  state->clock = in.at("clock").get<Millis>();
  for (const auto& [event, list] : in.at("timeline").items()) {
    auto& entries = state->timeline[event];
    for (const auto& e : list) entries.push_back({e.at(0).get<Millis>(), e.at(1)});
  }
  for (const auto& [name, r] : in.at("runs").items()) {
    RunState run;
    run.journey = name;
    run.version = r.at("version").get<std::string>();
    run.entry_no = r.at("entry").get<std::int64_t>();
    run.entered_at = r.at("entered").get<Millis>();
    run.pc = r.at("pc").get<std::size_t>();
    run.wait = static_cast<RunState::Wait>(r.at("wait").get<int>());
    run.wake_at = r.at("wake").get<Millis>();
    run.trigger = r.at("trigger");
    run.event = r.at("event");
    run.variant = r.at("variant").get<std::string>();
    run.step = r.at("step").get<std::string>();
    run.visits = r.at("visits").get<std::map<std::string, std::int64_t>>();
    run.exit_values = values_from(r.at("exits"));
    state->runs[name] = std::move(run);
  }
  for (const auto& [name, h] : in.at("history").items()) {
    JourneyHistory hist;
    hist.entries = h.at("entries").get<std::int64_t>();
    hist.last_entry = h.at("last").get<Millis>();
    hist.version = h.at("version").get<std::string>();
    hist.variant = h.at("variant").get<std::string>();
    hist.step = h.at("step").get<std::string>();
    hist.trigger = h.at("trigger");
    hist.goals_reached = h.at("goals").get<std::set<std::string>>();
    hist.when_values = values_from(h.at("when"));
    if (!h.at("check").is_null()) hist.check_at = h.at("check").get<Millis>();
    for (const auto& e : h.at("every"))
      hist.every_next[e.at(0).get<std::size_t>()] = e.at(1).get<Millis>();
    state->history[name] = std::move(hist);
  }
  for (const auto& s : in.at("sent"))
    state->sent.push_back(
        {s.at(0).get<Millis>(), s.at(1).get<std::string>(), s.at(2).get<std::string>()});
  return state;
}

}  // namespace

namespace {

void write_identity(Writer& out, const CustomerState& state) {
  out.flag(state.purchases.has_value());
  if (state.purchases) write_purchases(out, *state.purchases);
  out.flag(state.anonymous);
  out.flag(state.first_at.has_value());
  if (state.first_at) out.zigzag(*state.first_at);
  out.varint(state.linked_ids.size());
  for (const auto& id : state.linked_ids) out.text(id);
  out.varint(state.merges.size());
  for (const auto& m : state.merges) {
    out.zigzag(m.at);
    out.text(m.absorbed);
    out.text(m.into);
    out.text(m.cause);
  }
}

void read_identity(Reader& in, CustomerState& state) {
  if (in.flag()) state.purchases = read_purchases(in);
  state.anonymous = in.flag();
  if (in.flag()) state.first_at = in.zigzag();
  for (auto n = in.varint(); n > 0; --n) state.linked_ids.push_back(in.text());
  for (auto n = in.varint(); n > 0; --n) {
    MergeNote m;
    m.at = in.zigzag();
    m.absorbed = in.text();
    m.into = in.text();
    m.cause = in.text();
    state.merges.push_back(std::move(m));
  }
}

bool has_last_send(const CustomerState& state) {
  return std::any_of(state.history.begin(), state.history.end(),
                     [](const auto& h) { return !h.second.last_send.empty(); });
}

}  // namespace

std::string serialize(const CustomerState& state) {
  Writer out;
  const bool program = !state.consents.empty() || has_last_send(state);
  const bool identity =
      state.anonymous || state.first_at || !state.linked_ids.empty() || !state.merges.empty();
  out.byte(program           ? kFormatProgram
           : identity        ? kFormatIdentity
           : state.purchases ? kFormatPurchases
                             : kFormat);
  out.text(state.customer_id);
  out.flag(state.known);
  out.value(state.profile);
  write_names(out, state.message_ids);
  out.zigzag(state.clock);
  out.varint(state.timeline.size());
  for (const auto& [event, entries] : state.timeline) {
    out.text(event);
    out.varint(entries.size());
    for (const auto& entry : entries) {
      out.zigzag(entry.at);
      out.value(entry.properties);
    }
  }
  out.varint(state.runs.size());
  for (const auto& [journey, run] : state.runs) {
    out.text(journey);
    write_run(out, run);
  }
  out.varint(state.history.size());
  for (const auto& [journey, history] : state.history) {
    out.text(journey);
    write_history(out, history);
  }
  out.varint(state.sent.size());
  for (const auto& sent : state.sent) {
    out.zigzag(sent.at);
    out.text(sent.journey);
    out.text(sent.channel);
  }
  if (program || identity) {
    write_identity(out, state);
  } else if (state.purchases) {
    write_purchases(out, *state.purchases);
  }
  if (program) {
    out.varint(state.consents.size());
    for (const auto& c : state.consents) {
      out.text(c.key);
      out.text(c.state);
      out.text(c.at);
      out.text(c.source);
      out.zigzag(c.recorded);
    }
    out.varint(static_cast<std::uint64_t>(
        std::count_if(state.history.begin(), state.history.end(),
                      [](const auto& h) { return !h.second.last_send.empty(); })));
    for (const auto& [journey, history] : state.history) {
      if (history.last_send.empty()) continue;
      out.text(journey);
      out.text(history.last_send);
    }
  }
  return out.take();
}

std::unique_ptr<CustomerState> deserialize(const std::string& bytes) {
  const auto format = bytes.empty() ? 0 : static_cast<std::uint8_t>(bytes.front());
  if (format < kFormat || format > kFormatProgram) return read_cbor_state(bytes);  // format 1
  Reader in(std::string_view(bytes).substr(1));
  auto state = read_state(in);
  if (format == kFormatPurchases) state->purchases = read_purchases(in);
  if (format == kFormatIdentity || format == kFormatProgram) read_identity(in, *state);
  if (format == kFormatIdentity && !state->anonymous && !state->first_at &&
      state->linked_ids.empty() && state->merges.empty())
    fail("an empty identity part");
  if (format == kFormatProgram) {
    for (auto n = in.varint(); n > 0; --n) {
      ConsentRecord c;
      c.key = in.text();
      c.state = in.text();
      c.at = in.text();
      c.source = in.text();
      c.recorded = in.zigzag();
      state->consents.push_back(std::move(c));
    }
    std::string previous;
    for (auto n = in.varint(); n > 0; --n) {
      std::string journey = in.text();
      if (!previous.empty() && journey <= previous) fail("keys out of order");
      const auto h = state->history.find(journey);
      if (h == state->history.end()) fail("a last send of a journey without history");
      h->second.last_send = in.text();
      if (h->second.last_send.empty()) fail("an empty last send");
      previous = std::move(journey);
    }
    if (state->consents.empty() && !has_last_send(*state)) fail("an empty program part");
  }
  if (!in.done()) fail("bytes after the end");
  return state;
}

}  // namespace journey::engine

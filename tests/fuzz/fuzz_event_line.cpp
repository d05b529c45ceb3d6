// libFuzzer target: the fast event-line scanner (runtime/event_scan.hpp) against the slow path.
// A differential oracle: whenever scan_event accepts a line, nlohmann's parser and
// engine::parse_event must accept it too and read the same type, customer id, name, time,
// message id and properties. Any difference aborts. Lines the scanner refuses are only run
// through the slow path for crashes (it must answer with an error, not fail).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "engine/event.hpp"
#include "runtime/common/json_guard.hpp"
#include "runtime/sim/event_scan.hpp"

namespace {

[[noreturn]] void mismatch(const char* what, std::string_view line) {
  std::fprintf(stderr, "fuzz_event_line: scan_event and parse_event differ (%s) on: %.*s\n", what,
               static_cast<int>(line.size()), line.data());
  std::abort();
}

// The slow path as the simulator runs it (runtime/simulate.cpp): the JSON guard first, then the
// parser and parse_event. The guard refuses every number beyond a double (json_guard.hpp), so the
// parser may throw nothing but a parse_error here.
void slow_path(std::string_view line) {
  if (journey::runtime::check_json_limits(line, 64)) return;
  try {
    auto parsed = journey::engine::parse_event(nlohmann::json::parse(line.begin(), line.end()));
    if (auto* event = std::get_if<journey::engine::Event>(&parsed)) {
      (void)event->properties.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } catch (const nlohmann::json::parse_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using journey::engine::Event;
  const std::string line(reinterpret_cast<const char*>(data), size);
  const auto scanned = journey::runtime::scan_event(line);
  if (!scanned) {
    slow_path(line);
    return 0;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "fuzz_event_line: nlohmann: %s\n", e.what());
    mismatch("the JSON parser refuses the line", line);
  }
  const auto parsed = journey::engine::parse_event(doc);
  const auto* event = std::get_if<Event>(&parsed);
  if (event == nullptr) {
    const auto& error = std::get<journey::engine::EventError>(parsed);
    std::fprintf(stderr, "fuzz_event_line: parse_event: %s: %s\n", error.path.c_str(),
                 error.message.c_str());
    mismatch("parse_event refuses the line", line);
  }
  if (event->type != scanned->type) mismatch("type", line);
  if (event->customer_id != scanned->customer_id) mismatch("customer_id", line);
  if (event->name != scanned->name) mismatch("name", line);
  if (event->at != scanned->at) mismatch("at", line);
  if (event->message_id != scanned->message_id) mismatch("message_id", line);
  nlohmann::json properties = nlohmann::json::object();
  if (!scanned->properties.empty()) {
    try {
      properties = nlohmann::json::parse(scanned->properties);
    } catch (const nlohmann::json::exception& e) {
      std::fprintf(stderr, "fuzz_event_line: nlohmann: %s\n", e.what());
      mismatch("the properties text does not parse", line);
    }
  }
  if (properties != event->properties) mismatch("properties", line);
  return 0;
}

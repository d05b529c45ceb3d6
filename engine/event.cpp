#include "engine/event.hpp"

#include <optional>

namespace journey::engine {
namespace {

const char* type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    default: return "a number";
  }
}

// An id field: absent or null leaves `out` empty; an empty string is an error.
std::optional<EventError> read_id(const nlohmann::json& object, const char* key, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  const std::string path = std::string("$.") + key;
  if (!it->is_string())
    return EventError{path, std::string("expected a string, found ") + type_name(*it)};
  out = it->get<std::string>();
  if (out.empty()) return EventError{path, std::string("empty ") + key};
  return std::nullopt;
}

}  // namespace

std::variant<Event, EventError> parse_event(const nlohmann::json& object) {
  if (!object.is_object())
    return EventError{"$", std::string("expected a JSON object, found ") + type_name(object)};
  Event ev;
  const auto type_it = object.find("type");
  std::string type;
  if (type_it != object.end()) {
    if (!type_it->is_string())
      return EventError{"$.type", std::string("expected a string, found ") + type_name(*type_it)};
    type = type_it->get<std::string>();
  } else {
    type = object.contains("event") ? "track" : "identify";
  }
  if (type == "track") {
    ev.type = Event::Type::Track;
  } else if (type == "identify") {
    ev.type = Event::Type::Identify;
  } else if (type == "page") {
    ev.type = Event::Type::Track;
    ev.name = "page";
  } else if (type == "alias") {
    ev.type = Event::Type::Alias;
  } else {
    return EventError{"$.type", "unsupported type \"" + type +
                                    "\" (expected \"track\", \"identify\", \"page\" or \"alias\")"};
  }
  if (auto problem = read_id(object, "anonymousId", ev.anonymous_id)) return *problem;
  if (auto problem = read_id(object, "userId", ev.customer_id)) return *problem;
  if (ev.type == Event::Type::Alias) {
    if (ev.customer_id.empty()) return EventError{"$.userId", "missing userId"};
    if (auto problem = read_id(object, "previousId", ev.previous_id)) return *problem;
    if (ev.previous_id.empty()) return EventError{"$.previousId", "missing previousId"};
  } else if (ev.customer_id.empty()) {
    if (ev.anonymous_id.empty()) return EventError{"$.userId", "missing userId and anonymousId"};
    ev.customer_id = ev.anonymous_id;
    ev.anonymous = true;
  }
  const auto ts = object.find("timestamp");
  if (ts == object.end() || ts->is_null()) return EventError{"$.timestamp", "missing timestamp"};
  if (!ts->is_string())
    return EventError{"$.timestamp", std::string("expected a string, found ") + type_name(*ts)};
  const auto at = parse_timestamp(ts->get<std::string>());
  if (!at)
    return EventError{"$.timestamp", "unparsable timestamp \"" + ts->get<std::string>() + "\""};
  ev.at = *at;
  if (ev.type == Event::Type::Track && ev.name.empty()) {
    const auto name = object.find("event");
    if (name == object.end() || name->is_null()) return EventError{"$.event", "missing event name"};
    if (!name->is_string())
      return EventError{"$.event", std::string("expected a string, found ") + type_name(*name)};
    ev.name = name->get<std::string>();
    if (ev.name.empty()) return EventError{"$.event", "empty event name"};
  }
  const char* const props_key = ev.type == Event::Type::Track ? "properties" : "traits";
  const auto props = object.find(props_key);
  if (props != object.end() && !props->is_null()) {
    if (!props->is_object()) {
      return EventError{std::string("$.") + props_key,
                        std::string("expected an object, found ") + type_name(*props)};
    }
    ev.properties = *props;
  }
  if (ev.name == "page") {  // the page's name is a property of the `page` event
    const auto page = object.find("name");
    if (page != object.end() && !page->is_null()) {
      if (!page->is_string())
        return EventError{"$.name", std::string("expected a string, found ") + type_name(*page)};
      ev.properties["name"] = *page;
    }
  }
  const auto mid = object.find("messageId");
  if (mid != object.end() && !mid->is_null()) {
    if (!mid->is_string())
      return EventError{"$.messageId", std::string("expected a string, found ") + type_name(*mid)};
    ev.message_id = mid->get<std::string>();
  }
  return ev;
}

}  // namespace journey::engine

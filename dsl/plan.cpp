#include "dsl/plan.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace journey::dsl {

namespace {

bool valid_type(const std::string& t) {
  return t == "string" || t == "number" || t == "integer" || t == "boolean" || t == "object" ||
         t == "array";
}

/// A type as a plan writes it: "number" or {"type": "number"}; empty when it is neither.
std::string type_name(const nlohmann::json& type) {
  if (type.is_string()) return type.get<std::string>();
  if (type.is_object() && type.contains("type") && type["type"].is_string())
    return type["type"].get<std::string>();
  return {};
}

/// Both formats are read through JSON: TOML tables map onto JSON objects one to one.
PlanLoad from_json(const std::string& path, const nlohmann::json& doc) {
  PlanLoad out;
  auto fail = [&](const std::string& where, const std::string& what) {
    out.plan.reset();
    out.error = path + ": " + where + ": " + what;
    return out;
  };
  if (!doc.is_object()) return fail("(document)", "expected an object with an \"events\" key");
  const auto events = doc.find("events");
  if (events == doc.end()) return fail("(document)", "missing \"events\"");
  if (!events->is_object()) return fail("events", "expected an object of events");
  TrackingPlan plan;
  for (const auto& [name, event] : events->items()) {
    const std::string where = "events." + name;
    auto& props = plan.events[name];
    if (event.is_null()) continue;
    if (!event.is_object()) return fail(where, "expected an object");
    for (const auto& [key, value] : event.items()) {
      if (key == "description") continue;
      if (key != "properties") {
        return fail(std::string(where).append(".").append(key),
                    "unknown key (expected \"properties\")");
      }
      if (!value.is_object()) {
        return fail(std::string(where).append(".properties"), "expected an object of properties");
      }
      for (const auto& [prop, type] : value.items()) {
        const std::string at = std::string(where).append(".properties.").append(prop);
        const std::string t = type_name(type);
        if (t.empty())
          return fail(at, "expected a type name such as \"number\", or {\"type\": \"number\"}");
        if (!valid_type(t)) {
          return fail(at, "unknown type \"" + t +
                              "\" (expected string, number, integer, boolean, object or array)");
        }
        props.push_back({prop, t});
      }
    }
  }
  if (const auto customer = doc.find("customer"); customer != doc.end()) {
    if (!customer->is_object()) return fail("customer", "expected an object of attributes");
    for (const auto& [attribute, type] : customer->items()) {
      const std::string at = "customer." + attribute;
      const std::string t = type_name(type);
      if (t.empty())
        return fail(at, "expected a type name such as \"date\", or {\"type\": \"date\"}");
      if (!valid_type(t) && t != "date" && t != "timestamp") {
        return fail(at, "unknown type \"" + t +
                            "\" (expected string, number, integer, boolean, object, array, date "
                            "or timestamp)");
      }
      plan.customer[attribute] = t;
    }
  }
  out.plan = std::move(plan);
  return out;
}

}  // namespace

PlanLoad parse_plan(const std::string& path, const std::string& text, bool toml) {
  if (toml) {
    try {
      const toml::table table = toml::parse(text, path);
      std::ostringstream json;
      json << toml::json_formatter{table};
      return from_json(path, nlohmann::json::parse(json.str()));
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      PlanLoad out;
      out.error = path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                  ": invalid TOML: " + std::string(e.description());
      return out;
    }
  }
  try {
    return from_json(path, nlohmann::json::parse(text));
  } catch (const nlohmann::json::parse_error& e) {
    PlanLoad out;
    out.error = path + ": invalid JSON: " + e.what();
    return out;
  }
}

PlanLoad load_plan(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PlanLoad out;
    out.error = "cannot read plan `" + path + "`: " + std::strerror(errno);
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const bool toml = path.size() >= 5 && path.compare(path.size() - 5, 5, ".toml") == 0;
  return parse_plan(path, text.str(), toml);
}

}  // namespace journey::dsl

// Loading a tracking plan (`journey lint --plan FILE`), in JSON or TOML:
//
//   {"events": {"order_completed": {"properties": {"amount": "number", "sku": "string"}}}}
//
//   [events.order_completed.properties]
//   amount = "number"
//   sku = "string"
//
// A property's type is one of "string", "number" (or "integer"), "boolean", "object", "array";
// it may also be written as {"type": "number"}. An event may have no properties. An optional
// `customer` table gives customer attributes' types, by path: {"customer": {"birthday": "date"}},
// where "date" and "timestamp" are also types; the calendar clauses check them (E120).
#pragma once

#include <optional>
#include <string>

#include "dsl/workspace.hpp"

namespace journey::dsl {

/// A loaded plan, or the reason it could not be loaded (naming the file and the place in it).
struct PlanLoad {
  std::optional<TrackingPlan> plan;
  std::string error;
};

/// Reads and parses a plan file. TOML when the name ends in `.toml`, else JSON.
PlanLoad load_plan(const std::string& path);

/// Parses plan text; `path` is only used in messages.
PlanLoad parse_plan(const std::string& path, const std::string& text, bool toml);

}  // namespace journey::dsl

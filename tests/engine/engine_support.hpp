// What the engine tests share: compiling a journey text, and timestamps from ISO-8601 text.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "dsl/workspace.hpp"
#include "engine/engine.hpp"
#include "engine/program.hpp"

namespace journey::test {

/// Compiles one file's text; the test fails (showing the diagnostics) when it has errors.
inline std::shared_ptr<const engine::Program> build(const std::string& text, bool run_checks = true,
                                                    const dsl::CheckOptions& options = {}) {
  dsl::Workspace ws;
  dsl::add_source(ws, "test.journey", text);
  if (run_checks) dsl::check(ws, options);
  std::string messages;
  for (const auto& d : ws.diagnostics) messages += d.code + " " + d.message + "\n";
  INFO(messages);
  REQUIRE_FALSE(ws.has_errors());
  auto result = engine::compile(ws);
  REQUIRE(result.program);
  return result.program;
}

/// A track event of a customer at a time, with properties.
inline engine::Event track_event(const std::string& customer, const std::string& name,
                                 engine::Millis when,
                                 nlohmann::json properties = nlohmann::json::object()) {
  engine::Event e;
  e.customer_id = customer;
  e.name = name;
  e.at = when;
  e.properties = std::move(properties);
  return e;
}

/// An identify event of a customer at a time, with traits.
inline engine::Event identify_event(const std::string& customer, engine::Millis when,
                                    nlohmann::json traits) {
  engine::Event e = track_event(customer, "", when, std::move(traits));
  e.type = engine::Event::Type::Identify;
  return e;
}

/// A timestamp from ISO-8601 text; the test fails when it does not parse.
inline engine::Millis at(const char* text) {
  const auto t = engine::parse_timestamp(text);
  REQUIRE(t);
  return *t;
}

}  // namespace journey::test

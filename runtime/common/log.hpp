// Structured logs: one JSON object per line on stderr.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace journey::runtime {

enum class LogLevel : unsigned char { Debug, Info, Warn, Error };

/// Lines below this level are dropped (default Info).
void set_log_level(LogLevel level);

/// Writes {"ts":..., "level":..., "msg":..., ...fields} as one line on stderr, atomically.
void log(LogLevel level, std::string_view message,
         const nlohmann::json& fields = nlohmann::json::object());

}  // namespace journey::runtime

#include "runtime/store/store.hpp"

#include <string_view>
#include <unordered_map>

#include "engine/action.hpp"

namespace journey::runtime {

const char* status_name(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::Pending: return "pending";
    case DeliveryStatus::Delivered: return "delivered";
    case DeliveryStatus::Dead: return "dead";
  }
  return "pending";
}

std::vector<TraceRow> trace_rows(const std::vector<StoredTrace>& lines) {
  std::vector<TraceRow> rows;
  std::unordered_map<std::string_view, std::size_t> row_of;  // customer -> index in rows
  for (const auto& line : lines) {
    auto [it, added] = row_of.try_emplace(line.customer_id, rows.size());
    if (added) rows.push_back({line.customer_id, 0, "["});
    auto& row = rows[it->second];
    if (row.lines++ > 0) row.json += ',';
    row.json += '[';
    row.json += std::to_string(line.at);
    row.json += ',';
    engine::append_json_string(row.json, line.journey);
    row.json += ',';
    engine::append_json_string(row.json, line.message);
    row.json += ',';
    row.json += line.detail_json.empty() ? "{}" : line.detail_json;
    row.json += ']';
  }
  for (auto& row : rows) row.json += ']';
  return rows;
}

}  // namespace journey::runtime

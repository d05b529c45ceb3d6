#include "runtime/model/history.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/event.hpp"
#include "engine/model.hpp"
#include "engine/time.hpp"
#include "runtime/common/json_guard.hpp"
#include "runtime/sim/event_scan.hpp"

namespace journey::runtime::model {
namespace {

constexpr engine::Millis kDayMillis = 86'400'000;
constexpr std::size_t kJsonDepth = 64;

bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

void refuse(PurchaseRead& out, std::uint64_t line, std::string message) {
  if (out.problems.size() < kMaxProblems) {
    out.problems.push_back({line, std::move(message)});
  } else {
    ++out.more_problems;
  }
}

// The purchase's value from the properties' JSON text, or why there is none.
std::optional<double> value_of(std::string_view properties, const std::string& name,
                               std::string& problem) {
  if (properties.empty()) {
    problem = "$.properties." + name + ": missing (--value " + name + ")";
    return std::nullopt;
  }
  const auto json = nlohmann::json::parse(properties.begin(), properties.end(), nullptr, false);
  const auto it = json.is_object() ? json.find(name) : json.end();
  if (it == json.end() || !it->is_number()) {
    problem = "$.properties." + name + (it == json.end() ? ": missing" : ": expected a number") +
              " (--value " + name + ")";
    return std::nullopt;
  }
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0) {
    problem = "$.properties." + name + ": expected a number of 0 or more";
    return std::nullopt;
  }
  return value;
}

}  // namespace

PurchaseRead read_purchases(std::istream& in, const PurchaseReading& reading) {
  PurchaseRead out;
  out.opened = true;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<CustomerPurchases> customers;
  std::string line;
  while (std::getline(in, line)) {
    const std::uint64_t number = ++out.history.lines;
    if (blank(line)) continue;
    std::optional<ScannedEvent> scanned = scan_event(line);
    engine::Event slow;  // the slow path's event, which the views point into
    std::string slow_properties;
    if (!scanned) {
      if (auto limit = check_json_limits(line, kJsonDepth)) {
        refuse(out, number, limit->path + ": " + limit->message);
        continue;
      }
      const auto json = nlohmann::json::parse(line, nullptr, false);
      if (json.is_discarded()) {
        refuse(out, number, "malformed JSON");
        continue;
      }
      auto parsed = engine::parse_event(json);
      if (const auto* e = std::get_if<engine::EventError>(&parsed)) {
        refuse(out, number, e->path + ": " + e->message);
        continue;
      }
      slow = std::move(std::get<engine::Event>(parsed));
      slow_properties = slow.properties.dump();
      scanned = scanned_from(slow, slow_properties);
    }
    const ScannedEvent& ev = *scanned;
    if (ev.type != engine::Event::Type::Track || ev.name != reading.event) continue;
    double value = 0;
    if (reading.value_property) {
      std::string problem;
      const auto v = value_of(ev.properties, *reading.value_property, problem);
      if (!v) {
        refuse(out, number, problem);
        continue;
      }
      value = *v;
    }
    ++out.history.purchases;
    const auto [it, fresh] = index.try_emplace(std::string(ev.customer_id), customers.size());
    if (fresh) customers.push_back({it->first, {}});
    customers[it->second].transactions.push_back({engine::purchase_day(ev.at), value});
  }
  for (auto& c : customers) {
    auto& t = c.transactions;
    std::stable_sort(t.begin(), t.end(),
                     [](const Transaction& x, const Transaction& y) { return x.day < y.day; });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (kept > 0 && t[kept - 1].day == t[i].day) {
        t[kept - 1].value += t[i].value;  // same day: one transaction
      } else {
        t[kept++] = t[i];
      }
    }
    t.resize(kept);
    auto& h = out.history;
    if (!h.first_day || t.front().day < *h.first_day) h.first_day = t.front().day;
    if (!h.last_day || t.back().day > *h.last_day) h.last_day = t.back().day;
  }
  std::sort(customers.begin(), customers.end(),
            [](const CustomerPurchases& x, const CustomerPurchases& y) {
              return x.customer_id < y.customer_id;
            });
  out.history.customers = std::move(customers);
  return out;
}

PurchaseRead read_purchases(const std::string& path, const PurchaseReading& reading) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return read_purchases(in, reading);
}

std::vector<CustomerSummary> summarise(const PurchaseHistory& history,
                                       const Calibration& calibration) {
  std::vector<CustomerSummary> out;
  out.reserve(history.customers.size());
  const double unit = calibration.unit_days;
  for (std::size_t k = 0; k < history.customers.size(); ++k) {
    const auto& t = history.customers[k].transactions;
    if (t.empty() || t.front().day > calibration.until) continue;
    CustomerSummary s;
    s.customer = k;
    s.first_day = t.front().day;
    std::size_t last = 0;
    double repeat_value = 0;
    for (std::size_t i = 1; i < t.size() && t[i].day <= calibration.until; ++i) {
      last = i;
      repeat_value += t[i].value;
    }
    s.frequency = static_cast<double>(last);
    s.recency = static_cast<double>(t[last].day - s.first_day) / unit;
    s.age = static_cast<double>(calibration.until - s.first_day) / unit;
    s.mean_value = last > 0 ? repeat_value / static_cast<double>(last) : 0;
    out.push_back(s);
  }
  return out;
}

std::size_t transactions_between(const CustomerPurchases& customer, Day from, Day to) {
  return static_cast<std::size_t>(
      std::count_if(customer.transactions.begin(), customer.transactions.end(),
                    [&](const Transaction& t) { return t.day >= from && t.day <= to; }));
}

std::optional<Day> parse_day(const std::string& text) {
  auto at = engine::parse_timestamp(text);
  if (!at && text.size() == 10) at = engine::parse_timestamp(text + "T00:00:00Z");
  if (!at) return std::nullopt;
  return engine::purchase_day(*at);
}

std::string format_day(Day day) {
  return engine::format_timestamp(day * kDayMillis).substr(0, 10);
}

}  // namespace journey::runtime::model

// Lint speed: generates a 10,000-line journey file (segments, and journeys with every kind of
// step and expression), then times parse + check, best of several runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "dsl/workspace.hpp"

namespace {

constexpr int kTargetLines = 10000;
constexpr int kRuns = 7;

/// One segment, a few lines, different per index.
void segment_decl(std::ostringstream& out, int i, int& lines) {
  out << "# segment " << i << "\n";
  out << "segment seg_" << i << " = count(order_completed within " << (i % 90 + 1)
      << "d) >= " << (i % 5) << " and since(app_open) < " << (i % 30 + 1) << "d";
  if (i > 0) out << " or customer is seg_" << (i - 1);
  out << "\n\n";
  lines += 3;
}

/// One journey of about 60 lines using every step kind.
void journey_decl(std::ostringstream& out, int i, int& lines) {
  const std::string text =
      "journey flow_" + std::to_string(i) + " {\n" + "  title \"Flow " + std::to_string(i) +
      "\"\n"
      "  entry on signup where event.source == \"ads\" or event.source == \"seo\"\n"
      "  reentry after " +
      std::to_string(i % 60 + 1) +
      "d\n"
      "  exit on unsubscribe\n"
      "  exit when customer.consent.email == false\n"
      "  goal purchase: order_completed where event.amount > 20 within 14d\n"
      "  goal second: order_completed within 30d\n"
      "  quiet hours 21:00-09:00\n"
      "  cap 3 per 7d\n"
      "\n"
      "  send email \"welcome-" +
      std::to_string(i) + "\" with { name: customer.first_name, n: " + std::to_string(i) +
      " }\n"
      "  tag \"onboarding\"\n"
      "  wait up to 3d {\n"
      "    on order_completed where event.amount >= 50 {\n"
      "      send email \"thanks-big\" with { amount: event.amount, sku: event.sku }\n"
      "      exit \"bought\"\n"
      "    }\n"
      "    on order_completed { send email \"thanks\"; exit }\n"
      "    timeout { send push \"nudge\" with { code: \"NUDGE10\" } }\n"
      "  }\n"
      "  if customer is seg_" +
      std::to_string(i % 50) +
      " and sum(order_completed.amount within 90d) > 100 {\n"
      "    send sms \"vip-offer\" with { amount: 10 * 2 + 5 }\n"
      "  } else if count(email_open within 30d) == 0 or since(email_open) > 30d {\n"
      "    send email \"re-engage\"\n"
      "  } else {\n"
      "    set customer.segment_hint = \"active\"\n"
      "  }\n"
      "  split {\n"
      "    33.3% a { send email \"variant-a\" }\n"
      "    33.3% b { send email \"variant-b\" }\n"
      "    33.4% control { }\n"
      "  }\n"
      "  wait 2d\n"
      "  wait until 10:00\n"
      "  retry: send email \"reminder\" with { last: last(order_completed).sku }\n"
      "  wait up to 2d {\n"
      "    on email_click { emit engaged with { via: \"email\" } }\n"
      "  }\n"
      "  if has(customer.phone) and customer.tier in [\"gold\", \"silver\"] {\n"
      "    send sms \"tier-offer\"\n"
      "  }\n"
      "  if count(email_open where event.campaign == \"spring\" within 7d) < 2 and not "
      "(customer.vip == true) {\n"
      "    goto retry\n"
      "  }\n"
      "  untag \"onboarding\"\n"
      "  if avg(order_completed.amount) > 40 and max(order_completed.amount) < 500 and "
      "min(order_completed.amount) > 1 {\n"
      "    send webhook \"crm-update\" with { total: sum(order_completed.amount), at: now }\n"
      "  }\n"
      "  wait 1d\n"
      "  send email \"last-" +
      std::to_string(i) +
      "\"\n"
      "}\n\n";
  out << text;
  lines += static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

int main() {
  std::ostringstream out;
  int lines = 0;
  for (int i = 0; i < 50; ++i) segment_decl(out, i, lines);
  for (int i = 0; lines < kTargetLines; ++i) journey_decl(out, i, lines);
  const std::string text = out.str();

  using Ms = std::chrono::duration<double, std::milli>;
  double best_ms = 1e300;
  double parse_ms = 0;
  double check_ms = 0;
  std::size_t diagnostics = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = std::chrono::steady_clock::now();
    journey::dsl::Workspace ws;
    journey::dsl::add_source(ws, "bench.journey", text);
    const auto parsed = std::chrono::steady_clock::now();
    journey::dsl::check(ws, {});
    const auto stop = std::chrono::steady_clock::now();
    if (Ms(stop - start).count() < best_ms) {
      best_ms = Ms(stop - start).count();
      parse_ms = Ms(parsed - start).count();
      check_ms = Ms(stop - parsed).count();
    }
    diagnostics = ws.diagnostics.size();
  }
  std::printf("lint %d lines: %.1f ms (target < 100 ms)\n", lines, best_ms);
  std::printf("  of which parse %.1f ms, check %.1f ms (best run of %d)\n", parse_ms, check_ms,
              kRuns);
  if (diagnostics != 0)
    std::printf("warning: the generated file has %zu diagnostics\n", diagnostics);
  return 0;
}

// A generated journey file of about 10,000 lines (segments, and journeys with every kind of step
// and expression), shared by the lint and language server benchmarks.
#pragma once

#include <algorithm>
#include <sstream>
#include <string>

namespace journey::bench {

/// One segment, a few lines, different per index.
inline void segment_decl(std::ostringstream& out, int i, int& lines) {
  out << "# segment " << i << "\n";
  out << "segment seg_" << i << " = count(order_completed within " << (i % 90 + 1)
      << "d) >= " << (i % 5) << " and since(app_open) < " << (i % 30 + 1) << "d";
  if (i > 0) out << " or customer is seg_" << (i - 1);
  out << "\n\n";
  lines += 3;
}

/// One journey of about 60 lines using every step kind.
inline void journey_decl(std::ostringstream& out, int i, int& lines) {
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

/// The whole file: 50 segments, then journeys until it has `target_lines` lines; `lines` is set
/// to its line count.
inline std::string generated_journeys(int target_lines, int& lines) {
  std::ostringstream out;
  lines = 0;
  for (int i = 0; i < 50; ++i) segment_decl(out, i, lines);
  for (int i = 0; lines < target_lines; ++i) journey_decl(out, i, lines);
  return out.str();
}

}  // namespace journey::bench

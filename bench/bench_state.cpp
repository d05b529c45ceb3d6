// bench_state: what reading and writing one customer's state costs, as the daemon does at every
// wake-up. The state is a welcome-journey customer (welcome.journey) with about twenty timeline
// events, one waiting run, history for two journeys and a few sends. Times the current format
// (engine::serialize / deserialize) and format 1, the JSON-as-CBOR encoding that earlier builds
// wrote and that deserialize still reads; best of several rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "state_format1.hpp"

namespace je = journey::engine;
using journey::test::format1;
using nlohmann::json;

namespace {

constexpr int kIterations = 50000;
constexpr int kRounds = 5;
constexpr je::Millis kSignup = 1772350200000;  // 2026-03-01T07:30:00Z
constexpr je::Millis kHour = 3600000;

je::CustomerState welcome_customer() {
  je::CustomerState s;
  s.customer_id = "c1000042";
  s.known = true;
  s.profile = {{"email", "ada@example.com"},
               {"first_name", "Ada"},
               {"timezone", "Europe/Berlin"},
               {"plan", "free"},
               {"consent", {{"email", true}, {"push", true}, {"sms", false}}}};
  s.message_ids = {"msg-1000042-1", "msg-1000042-2", "msg-1000042-3"};
  s.timeline["signup"] = {{kSignup, {{"source", "ads"}, {"campaign", "spring"}}}};
  for (int i = 0; i < 10; ++i) {
    s.timeline["view"].push_back(
        {kSignup + (i + 1) * kHour,
         {{"page", "/products/" + std::to_string(100 + i)}, {"ms", 800 + 37 * i}}});
  }
  for (int i = 0; i < 5; ++i) {
    s.timeline["email_open"].push_back({kSignup + (12 + i) * kHour, {{"template", "welcome-1"}}});
  }
  for (int i = 0; i < 2; ++i) {
    s.timeline["cart_add"].push_back(
        {kSignup + (20 + i) * kHour,
         {{"sku", "SKU-" + std::to_string(7 + i)}, {"price", 19.9 + i}}});
  }
  s.timeline["email_click"] = {{kSignup + 13 * kHour, {{"template", "welcome-1"}, {"link", 2}}}};
  s.clock = kSignup + 30 * kHour;
  je::RunState run;
  run.journey = "welcome";
  run.version = "b3f1c2d4";
  run.entry_no = 1;
  run.entered_at = kSignup;
  run.pc = 4;
  run.wait = je::RunState::Wait::Branches;
  run.wake_at = kSignup + 72 * kHour;
  run.trigger = {{"source", "ads"}, {"campaign", "spring"}};
  run.step = "s2";
  run.visits = {{"s1", 1}, {"s2", 1}};
  run.exit_values = {0};
  s.runs["welcome"] = run;
  je::JourneyHistory welcome;
  welcome.entries = 1;
  welcome.last_entry = kSignup;
  welcome.version = run.version;
  welcome.step = "s2";
  welcome.trigger = run.trigger;
  welcome.when_values = {-1};
  s.history["welcome"] = welcome;
  je::JourneyHistory browse;
  browse.entries = 2;
  browse.last_entry = kSignup + 5 * kHour;
  browse.version = "77aa01ee";
  browse.variant = "b";
  browse.step = "s3";
  browse.trigger = {{"page", "/products/104"}};
  browse.goals_reached = {"viewed_cart"};
  browse.check_at = kSignup + 48 * kHour;
  s.history["browse_abandon"] = browse;
  s.sent = {{kSignup, "welcome", "email"},
            {kSignup + 5 * kHour, "browse_abandon", "push"},
            {kSignup + 26 * kHour, "browse_abandon", "email"}};
  return s;
}

/// Microseconds per call of `f`, best of kRounds rounds of kIterations calls. `f` returns a size
/// that is summed into `sink`, so that the calls are not optimised away.
template <typename F>
double best_us(F f, std::size_t& sink) {
  double best = 1e300;
  for (int round = 0; round < kRounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterations; ++i) sink += f();
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / kIterations);
  }
  return best;
}

}  // namespace

int main() {
  const auto state = welcome_customer();
  const std::string current = je::serialize(state);
  const std::string old = format1(state);
  // Both encodings read back as the state (CBOR turns positive integers into unsigned ones,
  // which format 2 would tell apart, so each is compared in its own format).
  if (je::serialize(*je::deserialize(current)) != current ||
      format1(*je::deserialize(old)) != old) {
    std::fprintf(stderr, "bench_state: a format does not read back as the same state\n");
    return 1;
  }
  std::size_t sink = 0;
  const double write_new = best_us([&] { return je::serialize(state).size(); }, sink);
  const double read_new = best_us([&] { return je::deserialize(current)->timeline.size(); }, sink);
  const double write_old = best_us([&] { return format1(state).size(); }, sink);
  const double read_old = best_us([&] { return je::deserialize(old)->timeline.size(); }, sink);
  std::size_t events = 0;
  for (const auto& [name, entries] : state.timeline) events += entries.size();
  std::printf("welcome customer, %zu timeline events: %zu bytes (format 2), %zu bytes (format 1)\n",
              events, current.size(), old.size());
  std::printf("              serialize  deserialize  (us per call, best of %d x %d)\n", kRounds,
              kIterations);
  std::printf("format 2      %9.2f  %11.2f\n", write_new, read_new);
  std::printf("format 1 CBOR %9.2f  %11.2f\n", write_old, read_old);
  std::printf("(checksum %zu)\n", sink);
  return 0;
}

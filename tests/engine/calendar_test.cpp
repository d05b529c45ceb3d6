// The calendar clauses (issue 20): the date arithmetic under them (anniversaries and 29 February,
// DST gaps, offsets, weekday sets, send windows and holidays), and the engine's timers for
// `entry every year on`, `entry on date`, `entry at`, `wait until EXPR` and `send window`.
#include "engine/calendar.hpp"

#include <catch2/catch.hpp>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "engine/zone.hpp"
#include "engine_support.hpp"

namespace je = journey::engine;

using journey::test::at;
using journey::test::build;
using journey::test::identify_event;
using journey::test::track_event;

namespace {

const date::time_zone* zone(const char* name) {
  static const je::Zones zones = je::Zones::from_tzdb();
  const auto* z = zones.find(name);
  REQUIRE(z != nullptr);
  return z;
}

je::EngineConfig consent_assumed() {
  je::EngineConfig config;
  config.consent_assumed = true;
  return config;
}

std::int64_t day_of(const char* date) {
  return date::sys_days{je::parse_date_value(date)->day}.time_since_epoch().count();
}

}  // namespace

TEST_CASE("calendar: dates read from attributes", "[calendar]") {
  const auto d = je::parse_date_value("1990-03-14");
  REQUIRE(d);
  CHECK(d->day == date::year{1990} / 3 / 14);
  CHECK_FALSE(d->instant);
  // A timestamp: its date as written, and its instant.
  const auto t = je::parse_date_value("1990-03-14T23:30:00-05:00");
  REQUIRE(t);
  CHECK(t->day == date::year{1990} / 3 / 14);
  REQUIRE(t->instant);
  CHECK(*t->instant == at("1990-03-15T04:30:00Z"));
  CHECK_FALSE(je::parse_date_value("1990-02-30"));
  CHECK_FALSE(je::parse_date_value("soon"));
  CHECK_FALSE(je::parse_date_value(""));
}

TEST_CASE("calendar: 29 February falls on 28 February in other years", "[calendar]") {
  const auto* utc = zone("UTC");
  const date::month_day leap = date::February / 29;
  CHECK(je::next_anniversary(utc, at("2026-01-01T00:00:00Z"), leap, 9 * 3600, 0) ==
        at("2026-02-28T09:00:00Z"));
  CHECK(je::next_anniversary(utc, at("2027-03-01T00:00:00Z"), leap, 9 * 3600, 0) ==
        at("2028-02-29T09:00:00Z"));
  // Strictly after now: at the instant itself, the next year.
  CHECK(je::next_anniversary(utc, at("2028-02-29T09:00:00Z"), leap, 9 * 3600, 0) ==
        at("2029-02-28T09:00:00Z"));
  // An offset that crosses the year end still finds the next occurrence.
  CHECK(je::next_anniversary(utc, at("2026-12-20T00:00:00Z"), date::January / 3, 0,
                             -7LL * 86400 * 1000) == at("2026-12-27T00:00:00Z"));
}

TEST_CASE("calendar: local times across DST changes", "[calendar]") {
  const auto* ny = zone("America/New_York");
  // 02:30 on 2026-03-08 does not exist in New York: the first instant after the gap.
  CHECK(je::next_anniversary(ny, at("2026-01-01T00:00:00Z"), date::March / 8, 2 * 3600 + 1800, 0) ==
        at("2026-03-08T07:00:00Z"));
  // An offset moves the local date: 09:00 a week before, in EST, then the anniversary in EDT.
  const auto* paris = zone("Europe/Paris");
  CHECK(je::next_anniversary(paris, at("2026-01-01T00:00:00Z"), date::April / 2, 9 * 3600,
                             -7LL * 86400 * 1000) == at("2026-03-26T08:00:00Z"));
  CHECK(je::next_anniversary(paris, at("2026-01-01T00:00:00Z"), date::April / 2, 9 * 3600, 0) ==
        at("2026-04-02T07:00:00Z"));
}

TEST_CASE("calendar: weekday sets and send windows", "[calendar]") {
  const auto* utc = zone("UTC");
  constexpr int kWeekdays = 0x3E;
  // 2026-03-14 is a Saturday: the next weekday 09:00 is Monday's.
  CHECK(je::next_time_on_days(utc, at("2026-03-14T10:00:00Z"), {9 * 3600, kWeekdays}, true) ==
        at("2026-03-16T09:00:00Z"));
  // Inclusive: at that time now.
  CHECK(je::next_time_on_days(utc, at("2026-03-16T09:00:00Z"), {9 * 3600, kWeekdays}, true) ==
        at("2026-03-16T09:00:00Z"));
  // Open now; before the opening; after the close; over a holiday and a weekend.
  const auto open = [&](const char* now, const std::set<std::int64_t>* holidays) {
    return je::window_opening(utc, at(now), {kWeekdays, 9 * 3600, 18 * 3600}, holidays);
  };
  CHECK(open("2026-03-16T12:00:00Z", nullptr) == at("2026-03-16T12:00:00Z"));
  CHECK(open("2026-03-16T07:00:00Z", nullptr) == at("2026-03-16T09:00:00Z"));
  CHECK(open("2026-03-16T18:00:00Z", nullptr) == at("2026-03-17T09:00:00Z"));
  const std::set<std::int64_t> holidays{day_of("2026-03-20"), day_of("2026-03-23")};
  CHECK(open("2026-03-19T18:30:00Z", &holidays) == at("2026-03-24T09:00:00Z"));
  CHECK_FALSE(
      je::window_opening(utc, at("2026-03-16T12:00:00Z"), {0, 9 * 3600, 18 * 3600}, nullptr));
  CHECK(je::is_holiday(zone("Asia/Tokyo"), at("2026-03-19T16:00:00Z"), holidays));
  CHECK_FALSE(je::is_holiday(utc, at("2026-03-19T16:00:00Z"), holidays));
}

TEST_CASE("calendar: a changed date attribute moves the entry timer", "[calendar]") {
  je::Engine engine(je::EngineConfig{});
  engine.deploy(build(R"(journey renewal {
  entry on date customer.renewal_at offset -7d
  send email "soon"
})"));
  auto state = je::new_customer("c1");
  engine.on_event(*state,
                  identify_event("c1", at("2026-01-01T00:00:00Z"), {{"renewal_at", "2026-03-10"}}));
  CHECK(engine.next_wakeup(*state, false) == at("2026-03-03T00:00:00Z"));
  engine.on_event(*state,
                  identify_event("c1", at("2026-02-01T00:00:00Z"), {{"renewal_at", "2026-06-10"}}));
  CHECK(engine.next_wakeup(*state, false) == at("2026-06-03T00:00:00Z"));
  // No timer is left at the old instant: nothing happens then.
  CHECK(engine.on_time(*state, at("2026-03-04T00:00:00Z")).actions.empty());
  // Removed or past: no timer.
  engine.on_event(*state,
                  identify_event("c1", at("2026-03-05T00:00:00Z"), {{"renewal_at", nullptr}}));
  CHECK_FALSE(engine.next_wakeup(*state, false));
  engine.on_event(*state,
                  identify_event("c1", at("2026-03-06T00:00:00Z"), {{"renewal_at", "2026-03-01"}}));
  CHECK_FALSE(engine.next_wakeup(*state, false));
}

TEST_CASE("calendar: a broadcast reaches customers known before it, once", "[calendar]") {
  je::Engine engine(consent_assumed());
  engine.deploy(build(R"(journey sale {
  entry at 2026-11-27T08:00 local
  reentry always
  send email "sale"
})"));
  auto early = je::new_customer("early");
  engine.on_event(
      *early, identify_event("early", at("2026-11-01T00:00:00Z"), {{"timezone", "Asia/Tokyo"}}));
  const auto out = engine.on_time(*early, at("2027-01-01T00:00:00Z"));
  REQUIRE(out.actions.size() == 1);
  CHECK(out.actions[0].at == at("2026-11-26T23:00:00Z"));
  const auto audience = std::count_if(out.records.begin(), out.records.end(), [](const auto& r) {
    return r.kind == je::Record::Kind::Audience;
  });
  CHECK(audience == 1);
  CHECK_FALSE(engine.next_wakeup(*early, true));  // one-off: no later occurrence
  auto late = je::new_customer("late");
  engine.on_event(*late,
                  identify_event("late", at("2026-11-28T00:00:00Z"), nlohmann::json::object()));
  CHECK(engine.on_time(*late, at("2027-01-01T00:00:00Z")).actions.empty());
}

TEST_CASE("calendar: an exit during a send-window hold cancels the send", "[calendar]") {
  je::Engine engine(consent_assumed());
  engine.deploy(build(R"(journey followup {
  entry on order_completed
  exit on refund
  send window mon-fri 09:00-18:00
  send email "thanks"
})"));
  auto state = je::new_customer("c1");
  // Saturday: held to Monday 09:00.
  CHECK(engine.on_event(*state, track_event("c1", "order_completed", at("2026-03-14T10:00:00Z")))
            .actions.empty());
  CHECK(engine.next_wakeup(*state) == at("2026-03-16T09:00:00Z"));
  engine.on_event(*state, track_event("c1", "refund", at("2026-03-15T10:00:00Z")));
  CHECK(engine.on_time(*state, at("2026-03-20T00:00:00Z")).actions.empty());
}

TEST_CASE("calendar: wait until a date goes on at once when it is past or absent", "[calendar]") {
  je::Engine engine(consent_assumed());
  engine.deploy(build(R"(journey trial {
  entry on trial_started
  wait until customer.ends_at offset -1d
  send email "ends-soon"
})"));
  auto later = je::new_customer("later");
  engine.on_event(*later,
                  identify_event("later", at("2026-03-01T00:00:00Z"), {{"ends_at", "2026-03-20"}}));
  CHECK(engine.on_event(*later, track_event("later", "trial_started", at("2026-03-02T00:00:00Z")))
            .actions.empty());
  CHECK(engine.next_wakeup(*later) == at("2026-03-19T00:00:00Z"));
  auto past = je::new_customer("past");
  engine.on_event(*past,
                  identify_event("past", at("2026-03-01T00:00:00Z"), {{"ends_at", "2026-02-01"}}));
  CHECK(engine.on_event(*past, track_event("past", "trial_started", at("2026-03-02T00:00:00Z")))
            .actions.size() == 1);
  auto none = je::new_customer("none");
  CHECK(engine.on_event(*none, track_event("none", "trial_started", at("2026-03-02T00:00:00Z")))
            .actions.size() == 1);
}

TEST_CASE("calendar: is_holiday reads the calendar in the customer's zone", "[calendar]") {
  je::EngineConfig config = consent_assumed();
  config.holidays = {day_of("2026-12-25")};
  je::Engine engine(config);
  engine.deploy(build(R"(journey greet {
  entry on visit
  reentry always
  if is_holiday(now) { send email "holiday" } else { send email "workday" }
})"));
  const auto template_of = [&](const char* customer, nlohmann::json traits, const char* when) {
    auto state = je::new_customer(customer);
    engine.on_event(*state,
                    identify_event(customer, at("2026-12-01T00:00:00Z"), std::move(traits)));
    const auto out = engine.on_event(*state, track_event(customer, "visit", at(when)));
    REQUIRE(out.actions.size() == 1);
    return out.actions[0].template_name;
  };
  CHECK(template_of("utc", nlohmann::json::object(), "2026-12-25T12:00:00Z") == "holiday");
  CHECK(template_of("utc2", nlohmann::json::object(), "2026-12-24T20:00:00Z") == "workday");
  // 20:00 UTC on the 24th is already the 25th in Tokyo.
  CHECK(template_of("tokyo", {{"timezone", "Asia/Tokyo"}}, "2026-12-24T20:00:00Z") == "holiday");
}

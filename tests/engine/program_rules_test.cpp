// Program controls inside the engine: the global holdout, shares, consent records (proof of
// consent), subscription topics, transactional sends, arbitration by priority, goal attribution
// to the last send, and the program part of a stored state.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/counts.hpp"
#include "engine/engine.hpp"
#include "engine/rules.hpp"
#include "engine/state.hpp"
#include "engine_support.hpp"

using journey::engine::Action;
using journey::engine::CustomerState;
using journey::engine::Engine;
using journey::engine::EngineConfig;
using journey::engine::Outcome;
using journey::engine::ProgramRules;
using journey::engine::Record;
using journey::test::at;
using journey::test::build;
using journey::test::identify_event;
using journey::test::track_event;
using nlohmann::json;
namespace je = journey::engine;

namespace {

std::string customer(int i) {
  return "customer-" + std::to_string(i);
}

// The actions of one customer's inputs, in order.
struct Run {
  Engine& engine;
  std::unique_ptr<CustomerState> state;
  std::vector<Action> actions;
  std::vector<Record> records;
  std::vector<std::string> trace;

  void take(Outcome out) {
    actions.insert(actions.end(), out.actions.begin(), out.actions.end());
    records.insert(records.end(), out.records.begin(), out.records.end());
    for (const auto& t : out.trace) trace.push_back(t.journey + ": " + t.message);
  }
  void event(const je::Event& e) { take(engine.on_event(*state, e, true)); }
  void time(je::Millis t) { take(engine.on_time(*state, t, true)); }
};

Run run_of(Engine& engine, const std::string& id) {
  return Run{engine, je::new_customer(id), {}, {}, {}};
}

bool traced(const Run& run, const std::string& text) {
  return std::any_of(run.trace.begin(), run.trace.end(), [&text](const std::string& line) {
    return line.find(text) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("the global holdout is a stable share of customers, by salt and id", "[program]") {
  ProgramRules five;
  five.holdout_bp = 500;
  ProgramRules ten = five;
  ten.holdout_bp = 1000;
  ProgramRules salted = five;
  salted.salt = "spring-2027";
  int held = 0;
  int moved = 0;
  for (int i = 0; i < 100'000; ++i) {
    const bool in = je::in_holdout(five, customer(i));
    held += in ? 1 : 0;
    CHECK(in == je::in_holdout(five, customer(i)));   // the same answer every time
    if (in) CHECK(je::in_holdout(ten, customer(i)));  // a larger share keeps a smaller one
    if (in != je::in_holdout(salted, customer(i))) ++moved;
  }
  CHECK(held > 4'700);  // 5% of 100,000, within 3 standard deviations (69)
  CHECK(held < 5'300);
  CHECK(moved > 8'000);  // a new salt draws a new holdout: about 2 x 5% x 95% change sides
  CHECK_FALSE(je::in_holdout(ProgramRules{}, "anyone"));
  ProgramRules all;
  all.holdout_bp = 10'000;
  CHECK(je::in_holdout(all, "anyone"));
}

TEST_CASE("shares are read and written in basis points", "[program]") {
  CHECK(je::parse_share("5%") == 500);
  CHECK(je::parse_share("12.5%") == 1250);
  CHECK(je::parse_share("0.25%") == 25);
  CHECK(je::parse_share("0%") == 0);
  CHECK(je::parse_share("100%") == 10'000);
  for (const char* bad : {"", "%", "5", "101%", "1.234%", "-1%", "5.%", ".5%", "five%", "1000%"})
    CHECK_FALSE(je::parse_share(bad));
  CHECK(je::share_text(500) == "5%");
  CHECK(je::share_text(1250) == "12.5%");
  CHECK(je::share_text(25) == "0.25%");
  CHECK(je::share_text(1205) == "12.05%");
  CHECK(je::parse_topic_default("opt-out") == je::TopicDefault::OptOut);
  CHECK_FALSE(je::parse_topic_default("optout"));
}

TEST_CASE("consent records keep every change, once, with when and where", "[program][consent]") {
  CustomerState st;
  CHECK(je::granted(nullptr) == std::nullopt);
  const json yes = true;
  const json record = {{"granted", false}, {"at", "2026-03-04T19:58:00Z"}, {"source", "link"}};
  const json odd = "yes";
  CHECK(je::granted(&yes) == true);
  CHECK(je::granted(&record) == false);
  CHECK(je::granted(&odd) == std::nullopt);

  auto added = je::note_consents(st, {"consent"}, {{"email", true}, {"sms", true}},
                                 at("2026-03-01T09:00:00Z"), "identify m1");
  REQUIRE(added.size() == 2);
  CHECK(added[0].key == "consent.email");
  CHECK(added[0].state == "granted");
  CHECK(added[0].at == "2026-03-01T09:00:00Z");
  CHECK(added[0].source == "identify m1");
  st.profile["consent"] = {{"email", true}, {"sms", true}};
  // The same boolean again is no change.
  CHECK(je::note_consents(st, {"consent", "email"}, true, at("2026-03-02T09:00:00Z"), "x").empty());
  // A record with its own time and source is kept as given; the group without sms clears it.
  added = je::note_consents(st, {"consent"}, {{"email", record}}, at("2026-03-05T00:00:00Z"), "y");
  REQUIRE(added.size() == 2);
  CHECK(added[0].key == "consent.sms");
  CHECK(added[0].state == "cleared");
  CHECK(added[1].state == "withdrawn");
  CHECK(added[1].at == "2026-03-04T19:58:00Z");
  CHECK(added[1].source == "link");
  CHECK(added[1].recorded == at("2026-03-05T00:00:00Z"));
  CHECK(je::latest_consent(st, "consent.email")->state == "withdrawn");
  CHECK(je::latest_consent(st, "consent.push") == nullptr);
  // Not a consent path: nothing.
  CHECK(je::note_consents(st, {"email"}, "a@b.c", 1, "x").empty());
  // At most 16 records per key, the oldest dropped.
  for (int i = 0; i < 40; ++i)
    je::note_consents(st, {"subscriptions", "news"}, i % 2 == 0, 1000 + i, "flip");
  CHECK(std::count_if(st.consents.begin(), st.consents.end(),
                      [](const auto& c) { return c.key == "subscriptions.news"; }) == 16);
  CHECK(st.consents.back().recorded == 1039);
}

TEST_CASE("transactional sends skip caps, quiet hours and topics but not consent",
          "[program][transactional]") {
  auto program = build(R"(
journey orders {
  entry on order_completed
  reentry always
  cap 1 per 7d
  quiet hours 21:00-08:00
  receipt: send email "order-confirmation" transactional
  promo: send email "related" topic news
}
)");
  EngineConfig config;
  config.program.topics["news"] = je::TopicDefault::OptOut;
  Engine engine(config);
  engine.deploy(program);
  Run ana = run_of(engine, "ana");
  ana.event(identify_event("ana", at("2026-03-01T08:00:00Z"), {{"consent", {{"email", true}}}}));
  ana.event(track_event("ana", "order_completed", at("2026-03-01T22:00:00Z")));
  ana.time(at("2026-03-02T09:00:00Z"));
  ana.event(track_event("ana", "order_completed", at("2026-03-02T12:00:00Z")));
  REQUIRE(ana.actions.size() == 4);
  CHECK(ana.actions[0].step == "receipt");
  CHECK(ana.actions[0].at == at("2026-03-01T22:00:00Z"));  // not held by quiet hours
  CHECK(ana.actions[0].transactional);
  CHECK(ana.actions[1].step == "promo");
  CHECK(ana.actions[1].at == at("2026-03-02T08:00:00Z"));  // held to the end of quiet hours
  CHECK(ana.actions[1].sent);                              // the receipt did not count
  CHECK(ana.actions[1].topic == "news");
  CHECK(ana.actions[2].sent);  // the second receipt: over the cap, sent
  CHECK_FALSE(ana.actions[3].sent);
  CHECK(ana.actions[3].reason == "cap");
  CHECK(je::to_json_line(ana.actions[0]).find(R"("status":"sent","transactional":true})") !=
        std::string::npos);
  CHECK(je::to_json_line(ana.actions[1]).find(R"("status":"sent","topic":"news"})") !=
        std::string::npos);

  Run ben = run_of(engine, "ben");  // withdrew email consent: even the receipt is suppressed
  ben.event(identify_event("ben", at("2026-03-01T08:00:00Z"),
                           {{"consent", {{"email", {{"granted", false}, {"source", "form"}}}}},
                            {"subscriptions", {{"news", false}}}}));
  ben.event(track_event("ben", "order_completed", at("2026-03-01T12:00:00Z")));
  REQUIRE(ben.actions.size() == 2);
  CHECK(ben.actions[0].reason == "consent");
  CHECK(ben.actions[1].reason == "consent");  // consent comes before the topic
  CHECK(traced(ben, "as recorded: consent.email withdrawn at 2026-03-01T08:00:00Z (source: form)"));
}

TEST_CASE("holdout customers get no marketing send, and their records say so", "[program]") {
  auto program = build(R"(
journey welcome {
  entry on signup
  goal first_order: order_completed within 7d
  hello: send email "welcome-1"
  if in_holdout() { tag "held" }
}
journey receipt {
  entry on order_completed
  transactional
  send email "order-confirmation"
}
)");
  EngineConfig config;
  config.consent_assumed = true;
  config.program.holdout_bp = 5000;
  Engine engine(config);
  engine.deploy(program);
  int held = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string id = customer(i);
    const bool in = je::in_holdout(config.program, id);
    held += in ? 1 : 0;
    Run r = run_of(engine, id);
    r.event(track_event(id, "signup", at("2026-03-01T09:00:00Z")));
    r.event(track_event(id, "order_completed", at("2026-03-02T09:00:00Z")));
    REQUIRE(r.actions.size() == 2);
    CHECK(r.actions[0].sent == !in);
    CHECK(r.actions[0].reason == (in ? "holdout" : ""));
    CHECK(r.actions[1].sent);  // transactional: sent to everyone
    CHECK(std::all_of(r.records.begin(), r.records.end(),
                      [in](const Record& rec) { return rec.holdout == in; }));
    const auto tags = r.state->profile.value("tags", json::array());
    CHECK((std::find(tags.begin(), tags.end(), "held") != tags.end()) == in);
    CHECK(engine.describe(*r.state).at("in_holdout") == in);
  }
  CHECK(held > 5);
  CHECK(held < 35);
}

TEST_CASE("holdout rows compare treated runs with held-out runs", "[program][counts]") {
  je::JourneyCounts counts;
  counts.add("entered", "", 100);
  counts.add("holdout_entered", "", 10);
  counts.add("goals", "g", 28);
  counts.add("holdout_goals", "g", 1);
  const auto row = je::holdout_row(counts, "g");
  CHECK(row.treated_runs == 90);
  CHECK(row.treated_converted == 27);
  CHECK(row.holdout_runs == 10);
  CHECK(row.holdout_converted == 1);
  REQUIRE(row.lift);
  CHECK(*row.lift == Approx(2.0));  // 30% against 10%
  counts.add("holdout_goals", "none", 0);
  CHECK(je::holdout_row(counts, "none").lift_undefined);
}

TEST_CASE("arbitration: a higher priority pre-empts, a tie is refused", "[program][arbitration]") {
  auto program = build(R"(
journey browse {
  entry on viewed
  reentry always
  priority 1
  send push "look"
  wait 3d
}
journey tips {
  entry on viewed
  reentry always
  priority 1
  send email "tips"
  wait 1d
}
journey cart {
  entry on carted
  reentry always
  priority 5
  send email "cart"
  wait 2d
}
journey receipt {
  entry on ordered
  transactional
  send email "receipt"
  wait 1d
}
)");
  EngineConfig config;
  config.consent_assumed = true;
  config.program.max_active = 1;
  Engine engine(config);
  engine.deploy(program);
  Run r = run_of(engine, "ana");
  r.event(track_event("ana", "viewed", at("2026-03-01T09:00:00Z")));
  CHECK(r.state->runs.count("browse") == 1);  // a tie: browse enters by name, tips is refused
  CHECK(r.state->runs.count("tips") == 0);
  r.event(track_event("ana", "carted", at("2026-03-01T10:00:00Z")));
  CHECK(r.state->runs.count("browse") == 0);
  CHECK(r.state->runs.count("cart") == 1);
  r.event(track_event("ana", "ordered", at("2026-03-01T11:00:00Z")));
  CHECK(r.state->runs.count("receipt") == 1);  // transactional: neither counts nor waits
  std::vector<std::string> refused;
  std::vector<std::string> preempted;
  for (const auto& rec : r.records) {
    if (rec.kind == Record::Kind::Refused) refused.push_back(rec.journey + " " + rec.detail);
    if (rec.kind == Record::Kind::Exited && rec.detail == "preempted")
      preempted.push_back(rec.journey);
  }
  CHECK(refused == std::vector<std::string>{"tips arbitration"});
  CHECK(preempted == std::vector<std::string>{"browse"});
  CHECK(traced(r, "browse: pre-empted by cart (priority 5 over 1, max_active 1)"));
  // The refused entry left no history: tips may enter once there is room.
  CHECK(r.state->history["tips"].entries == 0);
  r.time(at("2026-03-04T00:00:00Z"));
  r.event(track_event("ana", "viewed", at("2026-03-04T09:00:00Z")));
  CHECK(r.state->runs.count("browse") == 1);
}

TEST_CASE("a goal is credited to the last send delivered before it", "[program][goals]") {
  auto program = build(R"(
journey welcome {
  entry on signup
  goal first_order: order_completed within 14d
  one: send email "welcome-1"
  wait 1d
  two: send sms "welcome-2"
  wait 1d
  three: send email "welcome-3"
}
)");
  EngineConfig config;
  Engine engine(config);
  engine.deploy(program);
  Run r = run_of(engine, "ana");  // email consent only: `two` is suppressed
  r.event(identify_event("ana", at("2026-03-01T08:00:00Z"), {{"consent", {{"email", true}}}}));
  r.event(track_event("ana", "signup", at("2026-03-01T09:00:00Z")));
  r.event(track_event("ana", "order_completed", at("2026-03-02T12:00:00Z")));
  const auto goal = std::find_if(r.records.begin(), r.records.end(),
                                 [](const Record& rec) { return rec.kind == Record::Kind::Goal; });
  REQUIRE(goal != r.records.end());
  CHECK(goal->attributed == "one");
  je::JourneyCounts counts;
  for (const auto& rec : r.records)
    je::count_record(
        rec, [&counts](const char* metric, std::string key) { counts.add(metric, key, 1); });
  CHECK(counts.steps["one"].goals["first_order"] == 1);
  CHECK(traced(r,
               "goal first_order reached (at wait 1d after two; last send: send email "
               "\"welcome-1\" at one)"));
}

TEST_CASE("consent records and last sends survive the store, canonically", "[program][serialize]") {
  CustomerState st;
  st.customer_id = "ana";
  st.known = true;
  st.history["welcome"].entries = 1;
  st.history["welcome"].last_send = "one";
  je::note_consents(st, {"consent", "email"},
                    json{{"granted", true}, {"at", "2026-02-28T17:42:10Z"}, {"source", "form"}},
                    at("2026-03-01T09:00:00Z"), "identify");
  const std::string bytes = je::serialize(st);
  CHECK(static_cast<unsigned char>(bytes.front()) == 0x05);
  const auto back = je::deserialize(bytes);
  CHECK(back->consents == st.consents);
  CHECK(back->history.at("welcome").last_send == "one");
  CHECK(je::serialize(*back) == bytes);
  // Without either, the older formats are written, byte for byte as before.
  CustomerState plain;
  plain.customer_id = "ben";
  CHECK(static_cast<unsigned char>(je::serialize(plain).front()) == 0x02);
  // An empty program part, or a last send of a journey without history, does not read.
  std::string empty = je::serialize(plain);
  empty[0] = 0x05;
  empty += std::string(7, '\0');  // an empty identity part, no consents, no last sends
  CHECK_THROWS(je::deserialize(empty));
}

// One customer's state: profile, the timeline data the journeys can read, active runs, per-journey
// history and pending timers. Owned by the caller (simulate's driver, the daemon's store); the
// engine changes it only inside Engine calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/time.hpp"

namespace journey::engine {

/// One event kept in a timeline: its time and the properties the journeys read.
struct TimelineEntry {
  Millis at = 0;
  nlohmann::json properties = nlohmann::json::object();
};

/// An active run of one journey for one customer.
struct RunState {
  /// What the run waits for.
  enum class Wait : std::uint8_t {
    None,      // running (only inside an engine call)
    Timer,     // `wait` / `wait until`: resume at wake_at after the op
    Branches,  // `wait up to`: an `on` branch, or the timeout at wake_at
    Hold,      // a send held by quiet hours: send at wake_at
  };
  std::string journey;
  std::string version;
  std::int64_t entry_no = 0;  // 1 for the customer's first entry into the journey
  Millis entered_at = 0;
  std::size_t pc = 0;  // the op the run waits at
  Wait wait = Wait::None;
  Millis wake_at = 0;
  nlohmann::json trigger = nlohmann::json::object();  // properties of the entry event
  nlohmann::json event = nlohmann::json::object();    // properties of the latest moving event
  std::string variant;                                // split variant taken, if any
  std::string step;                                   // step id the run is at
  std::map<std::string, std::int64_t> visits;         // visits per step id in this run
  std::vector<std::int8_t> exit_values;               // per `exit when` clause: 0 false, 1 true
};

/// What the engine remembers of a customer in one journey across runs.
struct JourneyHistory {
  std::int64_t entries = 0;
  Millis last_entry = 0;
  std::string version;  // version of the latest entry
  std::string variant;  // variant of the latest run
  std::string step;     // step the latest run is at or ended at
  nlohmann::json trigger = nlohmann::json::object();
  std::set<std::string> goals_reached;       // in the latest entry
  std::vector<std::int8_t> when_values;      // per entry clause: -1 never evaluated, 0, 1
  std::optional<Millis> check_at;            // next instant a time-dependent condition may change
  std::map<std::size_t, Millis> every_next;  // entry clause index -> next `entry every` tick
  std::string last_send;  // the step of the latest entry's last delivered send (goal attribution)
};

/// A delivered send, kept for caps.
struct SentRecord {
  Millis at = 0;
  std::string journey;
  std::string channel;
};

/// A running `where`-filtered aggregate over a whole timeline (no `within`), extended as events
/// arrive instead of rescanning. Derived data: not serialised, rebuilt on first use.
struct AggregateCache {
  std::size_t consumed = 0;  // timeline entries folded in so far
  double count = 0;          // matching entries (with a numeric property, for sum/avg/min/max)
  double sum = 0;
  std::optional<double> min;
  std::optional<double> max;
};

/// A customer's purchases as the purchase model counts them (engine/model.hpp): one transaction
/// per UTC day of the model's event. Kept while a model is loaded; a model of another event or
/// value property starts the count anew.
struct Purchases {
  std::uint64_t model = 0;     // what counted them: model_key() of the model's event and value
  std::int64_t first_day = 0;  // the first and the latest purchase's UTC day (days since 1970)
  std::int64_t last_day = 0;
  std::int64_t days = 0;         // days with a purchase: x, the repeat purchases, is days - 1
  double repeat_value = 0;       // the value of the purchases after the first day
  std::int64_t valued_days = 0;  // the days after the first with a value (Gamma-Gamma's x)
  bool last_day_valued = false;  // whether the latest day is counted in valued_days
  friend bool operator==(const Purchases&, const Purchases&) = default;
};

/// One merge of two customers into one (identity resolution): when, which id was absorbed into
/// which, and what linked them ("anonymousId", "alias", "key email").
struct MergeNote {
  Millis at = 0;
  std::string absorbed;
  std::string into;
  std::string cause;
  friend bool operator==(const MergeNote&, const MergeNote&) = default;
};

/// A consent or subscription given or withdrawn: the proof a send relies on. Kept from the
/// traits `consent.CHANNEL` and `subscriptions.TOPIC`, a boolean or {granted, at, source}.
struct ConsentRecord {
  std::string key;      // "consent.email", "subscriptions.newsletter"
  std::string state;    // "granted", "withdrawn", or "cleared" (the trait was removed)
  std::string at;       // when the customer gave or withdrew it: the trait's `at` as given, else
                        // the time the change arrived (ISO-8601)
  std::string source;   // where: the trait's `source`, else how it arrived ("identify",
                        // "profile", "journey NAME")
  Millis recorded = 0;  // when the engine learnt it (0: a starting profile)
  friend bool operator==(const ConsentRecord&, const ConsentRecord&) = default;
};

/// The kept folds of one customer, by aggregate key (Program::aggregate_keys: the canonical text).
using AggregateCaches = std::map<std::string, AggregateCache>;

/// Everything the engine knows about one customer.
struct CustomerState {
  std::string customer_id;
  bool known = false;  // has had any input
  nlohmann::json profile = nlohmann::json::object();
  std::set<std::string> message_ids;
  std::map<std::string, std::vector<TimelineEntry>> timeline;  // event -> entries in time order
  std::map<std::string, RunState> runs;                        // journey -> active run
  std::map<std::string, JourneyHistory> history;               // journey -> history
  std::vector<SentRecord> sent;
  Millis clock = 0;                    // the latest time the engine processed for this customer
  std::optional<Purchases> purchases;  // with a purchase model: what the model reads
  AggregateCaches
      aggregates;  // written by the step function (through its Evaluator), not by readers
  // Identity (engine/identity.hpp): which merge survives, and what was merged.
  bool anonymous = false;          // customer_id is an anonymousId: no userId is known yet
  std::optional<Millis> first_at;  // the first input (absent in states stored before it was kept)
  std::vector<std::string> linked_ids;  // the other ids of this person, in the order linked
  std::vector<MergeNote> merges;        // how they were linked, oldest first
  std::vector<ConsentRecord> consents;  // consent changes, oldest first (at most 16 per key)
};

/// Sets the starting profile (traits) of a customer, before any input. Not an input: the
/// customer does not become known by it.
void seed_profile(CustomerState& state, const nlohmann::json& traits);

}  // namespace journey::engine

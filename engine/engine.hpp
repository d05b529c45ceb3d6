// The functional core: compiled journeys and the pure step function over one customer.
// The engine never reads a clock or a socket, and reads files only for time zones: constructing
// an Engine takes the zone names from the system tzdata (date::get_tzdb(), read from disk on its
// first call in the process), and date/tz reads a zone's rules from its tzdata file the first time
// any engine uses that zone. A step call changes nothing but the state passed in. `simulate` and
// `serve` both drive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsl/workspace.hpp"
#include "engine/action.hpp"
#include "engine/event.hpp"
#include "engine/model.hpp"
#include "engine/naming.hpp"
#include "engine/time.hpp"

namespace journey::engine {

struct Program;        // compiled journeys and segments (engine/program.hpp)
struct Journey;        // one compiled journey version (engine/program.hpp)
struct CustomerState;  // one customer's profile, timeline, runs and timers (engine/state.hpp)
class Zones;           // every IANA time zone by name (engine/zone.hpp)

/// What the checks know of a purchase model: nothing without one (the predictive functions are
/// then errors, E119).
std::optional<dsl::ModelFacts> model_facts(const std::optional<PurchaseModel>& model);

/// Name and version of one compiled journey.
struct JourneyInfo {
  std::string name;
  std::string version;  // hash of the compiled form
};

/// The result of compiling a checked workspace. `program` is null when the workspace has errors.
struct CompileResult {
  std::shared_ptr<const Program> program;
  std::vector<dsl::Diagnostic> diagnostics;
};

/// Compiles every journey and segment in a workspace that `dsl::check` found free of errors.
/// `naming` is StepNaming::Tree but for a deployment stored by an older build (naming.hpp).
CompileResult compile(const dsl::Workspace& workspace, StepNaming naming = StepNaming::Tree);

/// The journeys in a program, sorted by name.
std::vector<JourneyInfo> journeys_of(const Program& program);

/// A cap on sends per customer over a rolling window.
struct ChannelCap {
  std::int64_t count = 0;
  std::int64_t per_ms = 0;
};

/// Whether a customer who has said nothing about a subscription topic is subscribed.
enum class TopicDefault : std::uint8_t {
  OptIn,   // not subscribed until customer.subscriptions.TOPIC is true (unconfigured topics)
  OptOut,  // subscribed until customer.subscriptions.TOPIC is false
};

/// Program-wide rules over every journey: `[program]` and `[topics]` in journey.toml, or
/// simulate's `--holdout`, `--max-active` and `--topic` (docs/language.md, Program controls).
struct ProgramRules {
  std::int64_t holdout_bp = 0;   // the global holdout in basis points of customers (500 = 5%)
  std::string salt = "journey";  // mixed into the holdout hash; a new salt draws a new holdout
  int max_active = 0;            // active marketing runs a customer may have at once; 0: no limit
  std::map<std::string, TopicDefault> topics;  // configured topics; others are opt-in
};

/// Engine-wide settings (from journey.toml or simulate flags).
struct EngineConfig {
  std::string default_zone = "UTC";  // IANA zone for customers without customer.timezone
  bool consent_assumed = false;      // consent = "assumed"; default "required"
  std::map<std::string, ChannelCap> channel_caps;  // engine-wide caps by channel ("*" = all)
  int step_budget = 10000;                         // steps one run may take without a wait
  int emit_depth = 16;                             // how deep emit chains may go
  std::optional<PurchaseModel> model;  // read by p_alive(), expected_orders(), predicted_value()
  /// The holiday calendar (`[calendar] holidays`, `simulate --calendar`): local dates, in days
  /// since 1970-01-01, that `send window ... except holidays` skips and `is_holiday` names.
  std::set<std::int64_t> holidays;
  ProgramRules program;  // global holdout, arbitration, subscription topics
};

/// Something the reports count: entries, exits, steps, goals, sends, errors, split variants
/// (engine/counts.hpp turns them into counters).
struct Record {
  enum class Kind : std::uint8_t {
    Entered,
    Exited,
    Step,
    Goal,
    Send,
    Suppressed,
    Error,
    Variant,
    Migrated,
    Audience,
    Refused,  // an entry that arbitration (`[program] max_active`) turned away
  };
  Kind kind = Kind::Entered;
  std::string customer_id;
  std::string journey;
  std::string version;
  // Audience: a broadcast (`entry at`) reached the customer (its `when` held), entered or not.
  std::string step;     // Exited: the step it left from; Step, Send, Suppressed; Variant: the split
  std::string variant;  // split variant the run is in, if any (Variant: the one it was put in)
  std::string detail;   // Exited: reason; Goal: goal name; Suppressed: reason; Error: message;
                        // Step: the step the run came from ("" as it enters); Migrated: the
                        // version the run left (`version` is the one it joined); Refused: why
  std::string attributed;  // Goal: the step of the last send delivered in the entry before it
  bool holdout = false;    // the customer is in the global holdout
  Millis at = 0;
};

/// One line of a customer trace: what the engine considered and why (the "explain" answer).
struct TraceLine {
  Millis at = 0;
  std::string journey;  // empty for customer-level lines (event received, profile updated)
  std::string message;  // human-readable
  nlohmann::json detail = nlohmann::json::object();  // condition values, ids, reasons
};

/// What one step call produced.
struct Outcome {
  std::vector<Action> actions;  // in engine-time order
  std::vector<Record> records;
  std::vector<TraceLine> trace;  // only when tracing was asked for
  bool duplicate = false;        // the event's messageId was seen before: the event changed nothing
                                 // (timers due at or before its time still fired, in `actions`)
};

/// The step function over compiled journeys. Thread-safe for concurrent calls on different
/// customers; deploy() must not run concurrently with step calls.
class Engine {
 public:
  /// Builds the zone table from the system tzdata (see the top of this file).
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Makes `program` the live set: new entries use it. Runs that entered an older version keep
  /// running on that version until they leave.
  void deploy(std::shared_ptr<const Program> program);

  /// Makes an older program's journey versions available to runs that use them, without
  /// making it live (used after a restart, for runs stored with an old version).
  void retain(const std::shared_ptr<const Program>& program);

  /// Drops a program that is not live (its versions are collected: no run uses them). Versions
  /// another kept program also holds stay available. Like deploy(), not concurrent with steps.
  void forget(const std::shared_ptr<const Program>& program);

  /// A journey version the engine knows, or null. Valid until that program is forgotten.
  const Journey* find_version(const std::string& journey, const std::string& version) const;

  /// Whether any journey the engine knows mentions this event (reacts to it, keeps it in the
  /// timeline or reads it in a condition), or the purchase model counts it. The properties of
  /// other track events are never read, so a caller may pass such events without them.
  bool reads_event(std::string_view name) const;

  // Every call below first migrates the customer's runs of older versions of journeys that say
  // `on update migrate` (diff.hpp, migration_targets): a run waiting at a step that the live
  // version has unchanged moves there, atomically with the rest of the call; the others keep
  // their version.

  /// Fires every timer of the customer due at or before `event.at`, then applies the event.
  Outcome on_event(CustomerState& state, const Event& event, bool trace = false) const;

  /// Fires every timer of the customer due at or before `now`, then sets the entry timers the
  /// customer lacks (of journeys with computed entry instants deployed since its last input).
  Outcome on_time(CustomerState& state, Millis now, bool trace = false) const;

  /// As on_time, but recurring `entry every` ticks fire only up to `recurring_until` (simulate
  /// drains one-off timers past the last event while recurring ticks stop there).
  Outcome advance(CustomerState& state, Millis now, Millis recurring_until,
                  bool trace = false) const;

  /// Makes two customers one (identity resolution, engine/identity.hpp): fires the timers of
  /// both due at or before `at` (the absorbed customer's actions carry its own id), then takes
  /// `absorbed` into `survivor` by the merge rules of docs/language.md and evaluates every
  /// `entry when` and `exit when` again at `at`. Which one survives is the caller's choice
  /// (identity.hpp: survives()). `absorbed` is left empty; `cause` says what linked them.
  Outcome merge(CustomerState& survivor, CustomerState& absorbed, Millis at,
                const std::string& cause, bool trace = false) const;

  /// When this customer next needs on_time(): the earliest pending timer. Recurring `entry
  /// every` occurrences count only when `include_recurring`.
  std::optional<Millis> next_wakeup(const CustomerState& state,
                                    bool include_recurring = true) const;

  /// Profile, tags, active runs with their state and next wake-up, as JSON for the API.
  nlohmann::json describe(const CustomerState& state) const;

  const EngineConfig& config() const { return config_; }

 private:
  struct Versions;
  EngineConfig config_;
  std::unique_ptr<Versions> versions_;
  std::unique_ptr<const Zones> zones_;  // immutable once built: read without a lock
};

/// A fresh state for a customer the engine has not seen.
std::unique_ptr<CustomerState> new_customer(const std::string& customer_id);

/// Serialises a customer's whole state (for the store) and reads it back.
std::string serialize(const CustomerState& state);
std::unique_ptr<CustomerState> deserialize(const std::string& bytes);

}  // namespace journey::engine

// The compiled, immutable form of a checked workspace: journeys as flat step code (what the engine
// runs) plus the state-machine view of it (wait points, transitions with guards and actions),
// which `journey graph` and `journey compile --emit ir` print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dsl/ast.hpp"
#include "dsl/print.hpp"
#include "engine/naming.hpp"

namespace journey::engine {

/// One `on EVENT [where EXPR]` branch of a `wait up to`.
struct WaitArm {
  std::string event;
  std::optional<dsl::Expr> where;
  std::size_t target = 0;  // op index of the branch body
};

/// One `P% NAME` variant of a `split`.
struct Variant {
  std::string name;
  double percent = 0;
  std::size_t target = 0;  // op index of the variant body
};

/// No step: the index of Op::step for the End op.
inline constexpr std::size_t kNoStep = SIZE_MAX;

/// One step of the source, as compiled: its id (what action ids, split variants and stored runs
/// use), its name (what reports, traces and graphs show) and its place in the step tree (what
/// `journey diff` and migrations compare).
struct Step {
  /// The label, else the step's place in the tree: its 1-based index in its block, after the id of
  /// the step that holds the block and the block's key ("3", "4.coupon_10.1", "welcome.on2.1");
  /// under StepNaming::Positions, "L<line>:<col>".
  std::string id;
  std::string label;  // empty when unlabelled
  dsl::StepKind kind = dsl::StepKind::Exit;
  std::string summary;  // what it does: `wait 23h`, `send email "welcome-1"`
  /// How people read it, unique in the journey: `SUMMARY at LABEL` when labelled, else the summary
  /// and where it is (`wait 23h after reminder_1`, `exit on order_completed of wait up to 3d`).
  std::string name;
  /// Its own behaviour, without the steps of its blocks (canonical text): two steps that agree
  /// here do the same thing when a run reaches them.
  std::string signature;
  std::size_t parent = kNoStep;  // the step whose block holds it; kNoStep at the top
  std::string block;             // which block of the parent: "on1", "timeout", "if2", "else",
                                 // a variant name; empty at the top
  std::string block_text;        // that block as written: "on order_completed", "variant a", "else"
  std::size_t op = 0;            // its first op
  std::uint32_t line = 0;        // source position, for messages
  std::uint32_t column = 0;
};

/// What a reload does to the runs of older versions of a journey (`on update`).
enum class UpdatePolicy : std::uint8_t {
  Keep,     // the default (spec 6.4): a run keeps the version it entered with
  Migrate,  // a run at a step that exists unchanged in the new version moves there
};

// What one compiled operation does, one payload per kind. Steps of the language become one or
// more ops. Each payload names its kind as the IR prints it.

/// `send CHANNEL "TEMPLATE" [topic NAME] [transactional] [with {...}]`.
struct SendOp {
  static constexpr const char* kName = "send";
  std::string channel;
  std::string template_name;
  std::vector<dsl::Field> with;
  std::string variant;  // the split variant whose branch lexically holds the send, else empty
  std::string topic;    // the subscription topic it needs, else empty
  bool transactional = false;  // it says so, or its journey does
};

/// `wait DURATION`.
struct WaitOp {
  static constexpr const char* kName = "wait";
  std::int64_t millis = 0;
};

/// `wait until [DAYS] HH:MM`.
struct WaitUntilOp {
  static constexpr const char* kName = "wait_until";
  std::int64_t time_of_day = 0;  // seconds since local midnight
  int weekdays = 0;              // bit d for weekday d (0 sunday .. 6 saturday); 0 = any day
};

/// `wait until EXPR [offset D]`: until a date or timestamp the expression gives.
struct WaitUntilDateOp {
  static constexpr const char* kName = "wait_until_date";
  dsl::Expr value;
  std::int64_t offset_ms = 0;
};

/// `wait up to DURATION { on EVENT ... } [timeout { ... }]`.
struct WaitUpToOp {
  static constexpr const char* kName = "wait_up_to";
  std::int64_t millis = 0;
  std::vector<WaitArm> arms;
  std::size_t timeout_target = 0;  // op index of the timeout body (or of what follows)
};

/// One arm of an `if`: falls through when the condition holds, else jumps to `else_target`.
struct BranchOp {
  static constexpr const char* kName = "branch";
  dsl::Expr condition;
  std::size_t else_target = 0;
};

/// `goto`, the end of an `if` arm, of a wait branch or of a split variant.
struct JumpOp {
  static constexpr const char* kName = "jump";
  std::size_t target = 0;
};

/// `split { P% NAME { ... } ... }`.
struct SplitOp {
  static constexpr const char* kName = "split";
  std::vector<Variant> variants;
};

/// `set customer.PATH = EXPR`.
struct SetOp {
  static constexpr const char* kName = "set";
  std::vector<std::string> path;  // after `customer.`
  dsl::Expr value;
};

/// `tag "TAG"`.
struct TagOp {
  static constexpr const char* kName = "tag";
  std::string tag;
};

/// `untag "TAG"`.
struct UntagOp {
  static constexpr const char* kName = "untag";
  std::string tag;
};

/// `emit EVENT [with {...}]`.
struct EmitOp {
  static constexpr const char* kName = "emit";
  std::string event;
  std::vector<dsl::Field> with;
};

/// `exit ["REASON"]`.
struct ExitOp {
  static constexpr const char* kName = "exit";
  std::string reason;  // empty when none was given
};

/// The end of the steps: the run leaves the journey.
struct EndOp {
  static constexpr const char* kName = "end";
};

/// What an op does: std::visit over it handles every kind or does not compile.
using OpPayload = std::variant<SendOp, WaitOp, WaitUntilOp, WaitUntilDateOp, WaitUpToOp, BranchOp,
                               JumpOp, SplitOp, SetOp, TagOp, UntagOp, EmitOp, ExitOp, EndOp>;

/// One compiled operation.
struct Op {
  std::string step_id;         // the id of the source step it belongs to (Step::id); "end" for End
  bool step_head = false;      // the first op of a source step (counted as a visit of that step)
  std::size_t step = kNoStep;  // index of that step in Journey::steps; kNoStep for End
  std::uint32_t line = 0;      // source position of the step, for messages
  std::uint32_t column = 0;
  OpPayload payload = EndOp{};
};

/// A visitor made of one lambda per case: std::visit(Cases{[](const SendOp&) {...}, ...}, v).
template <class... F>
struct Cases : F... {
  using F::operator()...;
};
template <class... F>
Cases(F...) -> Cases<F...>;

/// Kinds of wait point in the state-machine view.
enum class StateKind : std::uint8_t {
  Start,      // before entry
  Wait,       // `wait DURATION`
  WaitUntil,  // `wait until [DAYS] HH:MM`, `wait until EXPR`
  WaitUpTo,   // `wait up to DURATION { ... }`
  QuietHold,  // a send held by quiet hours or the send window (one per send when it has either)
  End,        // the run has left the journey
};

/// A wait point of a journey.
struct State {
  std::string id;  // "start", "end", else the step id of the wait (holds: "hold:" + send step id)
  StateKind kind = StateKind::Start;
  std::size_t op = 0;  // the op the run waits at (Start: 0; End: the End op)
};

/// What moves a run out of a state.
enum class TriggerKind : std::uint8_t {
  Entry,    // the customer enters (from Start)
  Timer,    // a wait's duration passed, `wait until` time reached, quiet hours over
  Event,    // an `on EVENT [where]` branch of a `wait up to`
  Timeout,  // a `wait up to` duration passed with no branch taken
};

/// A condition that must hold along a transition.
struct Guard {
  enum class Kind : std::uint8_t {
    Condition,
    Variant,
    QuietHours,
    SendWindow
  } kind = Kind::Condition;
  std::string text;      // the condition as source text, the variant name, or the window
  bool negated = false;  // the path taken when the condition does not hold
};

/// One way out of a state: trigger, guards in order, actions (op indices of Send, Set, Tag,
/// Untag, Emit, Exit) in order, and the state reached.
struct Transition {
  std::size_t from = 0;  // index into Journey::states
  TriggerKind trigger = TriggerKind::Entry;
  std::string event;               // Event: the event name
  std::optional<dsl::Expr> where;  // Event: its `where`
  std::vector<Guard> guards;
  std::vector<std::size_t> actions;
  std::size_t to = 0;       // index into Journey::states
  std::string exit_reason;  // to End: "end" or the exit reason
};

/// An `entry` clause, compiled.
struct EntryRule {
  dsl::EntryKind kind = dsl::EntryKind::On;
  std::string event;                   // On
  std::optional<dsl::Expr> where;      // On: `where`; Every, Yearly, OnDate, At: `when`
  std::optional<dsl::Expr> condition;  // When
  int weekday = -1;                    // Every: -1 every day, 0 sunday .. 6 saturday
  std::int64_t time_of_day = 0;        // Every, Yearly, OnDate: seconds since local midnight
  std::vector<std::string> path;       // Yearly, OnDate: the date attribute after `customer.`
  std::int64_t offset_ms = 0;          // Yearly, OnDate: added to the date (may be negative)
  std::int64_t at = 0;                 // At: local date and time, seconds since 1970-01-01T00:00
  bool local = false;                  // At: in each customer's zone, else the default zone
};

/// `send window DAYS HH:MM-HH:MM [except holidays]`, compiled.
struct SendWindowRule {
  int weekdays = 0x7F;     // bit d for weekday d (0 sunday .. 6 saturday)
  std::int64_t start = 0;  // seconds since local midnight; the window is [start, end)
  std::int64_t end = 0;
  bool except_holidays = false;
};

/// An `exit` clause, compiled.
struct ExitCriterion {
  dsl::ExitKind kind = dsl::ExitKind::On;
  std::string event;                   // On
  std::optional<dsl::Expr> where;      // On
  std::optional<dsl::Expr> condition;  // When
};

/// A goal, compiled (within in milliseconds).
struct GoalRule {
  std::string name;
  std::string event;
  std::optional<dsl::Expr> where;
  std::int64_t within_ms = 0;
};

/// One compiled journey.
struct Journey {
  std::string name;
  std::string version;      // 16 hex chars: hash of the canonical form of everything below
  std::string source_path;  // the file that declared it
  std::uint32_t line = 0;   // position of the name
  std::uint32_t column = 0;
  std::string title;
  std::vector<EntryRule> entries;
  dsl::ReentryKind reentry = dsl::ReentryKind::Never;
  std::int64_t reentry_after_ms = 0;
  std::vector<ExitCriterion> exits;
  std::vector<GoalRule> goals;
  std::optional<std::int64_t> quiet_start;  // seconds since local midnight
  std::optional<std::int64_t> quiet_end;
  std::optional<SendWindowRule> send_window;
  std::optional<std::int64_t> cap_count;
  std::int64_t cap_per_ms = 0;
  UpdatePolicy on_update = UpdatePolicy::Keep;
  std::int64_t priority = 0;   // `priority N`: who wins under `[program] max_active`
  bool transactional = false;  // `transactional`: not marketing (no holdout, no arbitration)
  StepNaming naming = StepNaming::Tree;
  std::vector<Op> ops;                        // op 0 is the first step; the last op is End
  std::vector<Step> steps;                    // every source step, in source order
  std::map<std::string, std::size_t> labels;  // label -> op index
  std::vector<State> states;                  // states[0] is Start, states[1] is End
  std::vector<Transition> transitions;
  std::map<std::string, std::string> segments;  // the segments it uses (closed over) -> condition
  std::set<std::string> events_read;      // events the journey's rules and expressions mention
  std::set<std::string> properties_read;  // customer attribute paths read, dot-joined
};

/// The step with this id, or null.
const Step* find_step(const Journey& journey, const std::string& id);

/// The name of the step with this id (Step::name), or the id itself when the journey has none
/// ("end", a run between steps).
std::string step_name(const Journey& journey, const std::string& id);

/// A compiled segment.
struct Segment {
  std::string name;
  dsl::Expr condition;
};

/// Everything compiled together. Immutable once built; shared by every engine call.
struct Program {
  std::vector<Journey> journeys;  // sorted by name
  std::map<std::string, Segment> segments;
  /// The key of each `where`-filtered aggregate whose fold a customer's state keeps
  /// (CustomerState::aggregates), indexed by the expression's `slot`: its canonical text, so that
  /// programs agree on the key of the same aggregate.
  std::vector<std::string> aggregate_keys;
  /// Timeline data the journeys can read: event name -> top-level property names kept
  /// ("*" keeps all). Events not listed here are not kept in timelines.
  std::map<std::string, std::set<std::string>> timeline_events;

  const Journey* find_journey(const std::string& name) const;
};

// The language's canonical printers (dsl/print.hpp), used for the IR, the version hash, graphs and
// traces.
using dsl::duration_text;
using dsl::expr_text;
using dsl::time_of_day_text;

/// An entry rule as a script writes it: `on signup`, `when EXPR`, `every monday at 09:00 when
/// EXPR`; an `on` rule's `where EXPR` only with `with_where`.
std::string entry_text(const EntryRule& rule, bool with_where);

/// The reason a run that leaves by this header exit clause records (the key of its exit counts):
/// `exit on EVENT` (without its `where`), or `exit when`.
std::string exit_reason(const ExitCriterion& exit);

/// The name of an op's kind, as printed in the IR ("send", "wait_up_to", ...).
const char* op_kind_name(const Op& op);

/// The compiled journey as JSON (header, ops, states, transitions); its dump without the
/// "version" key is the canonical form the version hashes.
nlohmann::json ir_json(const Journey& journey);

}  // namespace journey::engine

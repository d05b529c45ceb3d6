// The journey language AST: plain structs, each with a source span (byte offsets into its file).
// Only SourceFile (source.hpp) turns offsets into line:col, when a message is rendered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace journey::dsl {

/// A half-open byte range [begin, end) in one source file.
struct Span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

/// Binary operators, loosest first as in the spec (section 5).
enum class BinaryOp : std::uint8_t { Or, And, Eq, Ne, Lt, Le, Gt, Ge, In, Add, Sub, Mul, Div };

/// What an expression node is. Which Expr fields a kind uses is written beside it.
enum class ExprKind : std::uint8_t {
  Number,     // number
  String,     // text
  Bool,       // boolean
  None,       //
  Duration,   // seconds
  TimeOfDay,  // seconds (since midnight); only where the grammar allows HH:MM
  List,       // operands = items
  Customer,  // path = attribute path after `customer.` (e.g. {"consent","email"}); {"id"} is the id
  Event,     // path = property path after `event.`
  Trigger,   // path = property path after `trigger.`
  Now,       //
  Not,       // operands[0]
  Negate,    // operands[0]
  Binary,    // op, operands[0], operands[1]
  IsSegment,       // text = segment name (name_span), boolean = true for `is not`
  Count,           // text = event name (name_span), where, within
  Sum,             // text = event, path = property path, where, within
  Avg,             // as Sum
  Min,             // as Sum
  Max,             // as Sum
  SinceEvent,      // text = event name (name_span)
  SinceValue,      // operands[0] = a timestamp-valued expression
  Last,            // text = event name (name_span), path = property path after `last(EVENT).`
  Has,             // operands[0] = a Customer / Event / Trigger path expression
  PAlive,          // `p_alive()`: the purchase model's probability that the customer is active
  ExpectedOrders,  // `expected_orders(D)`: seconds = D
  PredictedValue,  // `predicted_value(D)`: seconds = D
  IsHoliday,       // `is_holiday(EXPR)`: operands[0] = a timestamp (a date in the customer's zone)
  InHoldout,       // `in_holdout()`: whether the customer is in the program's global holdout
};

/// What a node of a kind reads besides its operands and `where`.
enum class ExprReads : std::uint8_t {
  Nothing,    // literals and operators: the value follows from the operands
  Customer,   // the profile (`customer.PATH`)
  Event,      // the event in scope (`event.PATH`)
  Trigger,    // the entry event (`trigger.PATH`)
  Clock,      // the current time (`now`, `since(VALUE)`)
  Segment,    // a segment's condition (`is [not] SEGMENT`)
  Timeline,   // the timeline of the event named in `text` (aggregates, `since(EVENT)`, `last`)
  Presence,   // whether its operand has a value (`has`)
  Purchases,  // the customer's purchases under the purchase model, and the clock (`p_alive()`)
  Calendar,   // the holiday calendar and the customer's zone, at its operand (`is_holiday`)
  Program,    // the program's settings and the customer's id (`in_holdout`)
};

/// The one list of what each kind reads: the walks over expressions (evaluation traces, the
/// compiler's read sets and aggregate folds) ask it instead of listing kinds, and the switch has
/// no default, so a new kind left out here is a compile error.
constexpr ExprReads reads_of(ExprKind kind) {
  switch (kind) {
    case ExprKind::Number:
    case ExprKind::String:
    case ExprKind::Bool:
    case ExprKind::None:
    case ExprKind::Duration:
    case ExprKind::TimeOfDay:
    case ExprKind::List:
    case ExprKind::Not:
    case ExprKind::Negate:
    case ExprKind::Binary: return ExprReads::Nothing;
    case ExprKind::Customer: return ExprReads::Customer;
    case ExprKind::Event: return ExprReads::Event;
    case ExprKind::Trigger: return ExprReads::Trigger;
    case ExprKind::Now:
    case ExprKind::SinceValue: return ExprReads::Clock;
    case ExprKind::IsHoliday: return ExprReads::Calendar;
    case ExprKind::InHoldout: return ExprReads::Program;
    case ExprKind::IsSegment: return ExprReads::Segment;
    case ExprKind::Count:
    case ExprKind::Sum:
    case ExprKind::Avg:
    case ExprKind::Min:
    case ExprKind::Max:
    case ExprKind::SinceEvent:
    case ExprKind::Last: return ExprReads::Timeline;
    case ExprKind::Has: return ExprReads::Presence;
    case ExprKind::PAlive:
    case ExprKind::ExpectedOrders:
    case ExprKind::PredictedValue: return ExprReads::Purchases;
  }
  return ExprReads::Nothing;
}

/// One expression node. A single node type keeps the tree copyable and comparable.
struct Expr {
  ExprKind kind = ExprKind::None;
  Span span;
  double number = 0;
  std::int64_t seconds = 0;
  bool boolean = false;
  BinaryOp op = BinaryOp::Or;
  std::int32_t slot =
      -1;  // numbered by a later phase (engine::compile: kept aggregate folds); -1 unset
  std::string text;
  Span name_span;
  std::vector<std::string> path;
  std::vector<Expr> operands;
  std::vector<Expr> where;             // aggregates: zero or one filter, evaluated per event
  std::optional<std::int64_t> within;  // aggregates: window in seconds
  friend bool operator==(const Expr&, const Expr&) = default;
};

/// An event name as written: an identifier or a quoted string.
struct EventRef {
  std::string name;
  bool quoted = false;
  Span span;
  friend bool operator==(const EventRef&, const EventRef&) = default;
};

/// `key: EXPR` inside a `with { ... }` object.
struct Field {
  std::string key;
  Span key_span;
  Expr value;
  friend bool operator==(const Field&, const Field&) = default;
};

struct Step;
using Block = std::vector<Step>;

/// `on EVENT [where EXPR] BLOCK` inside `wait up to`.
struct WaitBranch {
  EventRef event;
  std::optional<Expr> where;
  Block body;
  Span span;
  friend bool operator==(const WaitBranch&, const WaitBranch&) = default;
};

/// `if` / `else if` arm: a condition and its block.
struct IfArm {
  Expr condition;
  Block body;
  Span span;
  friend bool operator==(const IfArm&, const IfArm&) = default;
};

/// `P% NAME BLOCK` inside `split`.
struct SplitArm {
  double percent = 0;
  std::string name;
  Span name_span;
  Block body;
  Span span;
  friend bool operator==(const SplitArm&, const SplitArm&) = default;
};

enum class StepKind : std::uint8_t {
  Send,           // channel, template_name, with, topic, transactional
  Wait,           // seconds
  WaitUntil,      // seconds = time of day (seconds since midnight), weekdays (0 = any day)
  WaitUntilDate,  // value = a timestamp or date expression, offset
  WaitUpTo,       // seconds, branches, timeout (has_timeout)
  If,             // arms, else_body (has_else)
  Split,          // variants
  Set,            // path (after `customer.`), value
  Tag,            // text
  Untag,          // text
  Emit,           // event, with
  Goto,           // text = label (text_span)
  Exit,           // text = reason (has_reason)
};

/// One step. Which fields a kind uses is written beside StepKind.
struct Step {
  StepKind kind = StepKind::Exit;
  Span span;
  std::string label;  // empty when the step has no label
  Span label_span;
  std::string channel;
  Span channel_span;
  std::string template_name;
  std::vector<Field> with;
  std::int64_t seconds = 0;
  std::vector<WaitBranch> branches;
  Block timeout;
  bool has_timeout = false;
  std::vector<IfArm> arms;
  Block else_body;
  bool has_else = false;
  std::vector<SplitArm> variants;
  std::vector<std::string> path;
  Expr value;
  EventRef event;
  std::string text;
  Span text_span;
  bool has_reason = false;
  int weekdays = 0;         // WaitUntil: bit d for weekday d (0 sunday .. 6 saturday); 0 = any
  std::int64_t offset = 0;  // WaitUntilDate: seconds added to the date (may be negative)
  std::string topic;        // Send: `topic NAME`, empty when none
  Span topic_span;
  bool transactional = false;  // Send: `transactional`
  friend bool operator==(const Step&, const Step&) = default;
};

/// Kinds of `entry` clause: the spec's three and the calendar ones.
enum class EntryKind : std::uint8_t {
  On,      // `entry on EVENT [where EXPR]`
  When,    // `entry when EXPR`
  Every,   // `entry every day|WEEKDAY at HH:MM [when EXPR]`
  Yearly,  // `entry every year on customer.PATH [at HH:MM] [offset D] [when EXPR]`
  OnDate,  // `entry on date customer.PATH [at HH:MM] [offset D] [when EXPR]`
  At,      // `entry at YYYY-MM-DDTHH:MM [local] [when EXPR]`: a one-off broadcast
};

/// An `entry` clause.
struct Entry {
  EntryKind kind = EntryKind::On;
  EventRef event;                 // On
  std::optional<Expr> where;      // On: `where`; Every, Yearly, OnDate, At: `when`
  Expr condition;                 // When
  int weekday = -1;               // Every: -1 = every day, 0 = sunday ... 6 = saturday
  std::int64_t time_of_day = 0;   // Every, Yearly, OnDate: seconds since midnight
  std::vector<std::string> path;  // Yearly, OnDate: the date attribute after `customer.`
  Span path_span;
  std::int64_t offset = 0;  // Yearly, OnDate: seconds added to the date (may be negative)
  std::int64_t at = 0;      // At: the date and time as written, in seconds since 1970-01-01T00:00
  bool local = false;       // At: in each customer's zone (else the engine's default zone)
  Span span;
  friend bool operator==(const Entry&, const Entry&) = default;
};

enum class ReentryKind : std::uint8_t { Never, Always, After };

struct Reentry {
  ReentryKind kind = ReentryKind::Never;
  std::int64_t seconds = 0;  // After
  Span span;
  friend bool operator==(const Reentry&, const Reentry&) = default;
};

enum class ExitKind : std::uint8_t { On, When };

/// An `exit on` / `exit when` header clause.
struct ExitRule {
  ExitKind kind = ExitKind::On;
  EventRef event;             // On
  std::optional<Expr> where;  // On
  Expr condition;             // When
  Span span;
  friend bool operator==(const ExitRule&, const ExitRule&) = default;
};

/// `goal NAME: EVENT [where EXPR] within DURATION`.
struct Goal {
  std::string name;
  Span name_span;
  EventRef event;
  std::optional<Expr> where;
  std::int64_t within = 0;  // seconds
  Span span;
  friend bool operator==(const Goal&, const Goal&) = default;
};

/// `quiet hours HH:MM-HH:MM`, in seconds since local midnight.
struct QuietHours {
  std::int64_t start = 0;
  std::int64_t end = 0;
  Span span;
  friend bool operator==(const QuietHours&, const QuietHours&) = default;
};

/// `send window DAYS HH:MM-HH:MM [except holidays]`: when sends may go out, local time.
struct SendWindow {
  int weekdays = 0x7F;     // bit d for weekday d (0 sunday .. 6 saturday)
  std::int64_t start = 0;  // seconds since local midnight; the window is [start, end)
  std::int64_t end = 0;
  bool except_holidays = false;
  Span span;
  friend bool operator==(const SendWindow&, const SendWindow&) = default;
};

/// `cap N per DURATION`.
struct Cap {
  std::int64_t count = 0;
  std::int64_t per = 0;  // seconds
  Span span;
  friend bool operator==(const Cap&, const Cap&) = default;
};

/// `on update migrate` / `on update keep`: what a reload does to runs of older versions.
struct UpdateClause {
  bool migrate = false;
  Span span;
  friend bool operator==(const UpdateClause&, const UpdateClause&) = default;
};

/// `priority N`: which journey wins when `[program] max_active` limits a customer's active runs.
struct Priority {
  std::int64_t value = 0;
  Span span;
  friend bool operator==(const Priority&, const Priority&) = default;
};

/// A header clause that may appear at most once (`title`, `reentry`, `quiet hours`, `cap`, `on
/// update`), as written; the parser records every one so that a repeat can be reported (E117).
struct OnceClause {
  std::string keyword;  // "title", "reentry", "quiet hours", "send window", "cap", "on update",
                        // "priority", "transactional"
  Span span;
  friend bool operator==(const OnceClause&, const OnceClause&) = default;
};

/// `journey NAME { HEADER* STEP* }`.
struct Journey {
  std::string name;
  Span name_span;
  Span span;
  std::optional<std::string> title;
  std::vector<Entry> entries;
  std::optional<Reentry> reentry;  // absent means `reentry never`
  std::vector<ExitRule> exits;
  std::vector<Goal> goals;
  std::optional<QuietHours> quiet_hours;
  std::optional<SendWindow> send_window;
  std::optional<Cap> cap;
  std::optional<UpdateClause> on_update;  // absent means `on update keep`
  std::optional<Priority> priority;       // absent means `priority 0`
  std::optional<Span> transactional;      // `transactional`: every send is transactional
  std::vector<OnceClause> once_clauses;   // every once-only header clause, in source order
  Block steps;
  friend bool operator==(const Journey&, const Journey&) = default;
};

/// `segment NAME = EXPR`.
struct Segment {
  std::string name;
  Span name_span;
  Expr condition;
  Span span;
  friend bool operator==(const Segment&, const Segment&) = default;
};

/// A `#` comment, kept so that `journey fmt` can put it back.
struct Comment {
  std::string text;  // from `#` to the end of the line, without the newline
  Span span;
  friend bool operator==(const Comment&, const Comment&) = default;
};

/// Everything declared in one file, in source order within each list.
struct Module {
  std::vector<Segment> segments;
  std::vector<Journey> journeys;
  std::vector<Comment> comments;
  friend bool operator==(const Module&, const Module&) = default;
};

}  // namespace journey::dsl

// Text to AST: runs the PEGTL grammar (grammar.hpp) into a parse tree of selected rules, then
// turns that tree into the AST of ast.hpp. Syntax errors are recorded where the grammar raises
// them (one message per `must<>` point, in the table below); the grammar recovers at the next
// statement or declaration, so one file can report several errors.
#include "dsl/parser.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include <tao/pegtl/contrib/parse_tree.hpp>

#include "dsl/expect.hpp"
#include "dsl/grammar.hpp"
#include "dsl/suggest.hpp"

namespace journey::dsl {

namespace pegtl = tao::pegtl;
namespace g = grammar;

namespace {

// ---------------------------------------------------------------------------------------------
// Error messages: one per `must<>` or `raise<>` point. E001 messages get ", found `X`" appended.

struct ErrorText {
  const char* code = nullptr;
  const char* message = nullptr;
};

// The table PEGTL's error control reads: one `error_message<Rule>` per must<> point, named as in
// PEGTL's examples (json_errors.hpp), not with the k prefix of other constants.
// clang-format off
// NOLINTBEGIN(readability-identifier-naming)
template <typename Rule> inline constexpr ErrorText error_message{};
template <> inline constexpr ErrorText error_message<g::escape_code>          = {"E003", "invalid escape in a string: use \\\", \\\\, \\n, \\t or \\uXXXX"};
template <> inline constexpr ErrorText error_message<g::string_body>          = {"E002", "unterminated string: add a closing `\"` before the end of the line"};
template <> inline constexpr ErrorText error_message<g::keyword_as_name>      = {"E006", "`{}` is a keyword and cannot be used as a name"};
template <> inline constexpr ErrorText error_message<g::invalid_duration>     = {"E005", "invalid duration `{}`: write a number and a unit s, m, h, d or w, such as `30m`, `3d` or `1d12h`"};
template <> inline constexpr ErrorText error_message<g::invalid_literal>      = {"E005", "invalid literal `{}`: a number is written like `3` or `129.5`, a duration like `30m`, `3d` or `1d12h`"};
template <> inline constexpr ErrorText error_message<g::percent_sign>         = {"E005", "invalid percentage: write it like `45%` or `12.5%`"};
template <> inline constexpr ErrorText error_message<g::late_header>          = {"E007", "header clause `{}` after the first step: move it above the steps of the journey"};
template <> inline constexpr ErrorText error_message<g::chained_comparison>   = {"E001", "comparisons do not chain: combine them with `and`"};
template <> inline constexpr ErrorText error_message<g::path_tail>            = {"E001", "expected `.` and a name after it, as in `customer.email`"};
template <> inline constexpr ErrorText error_message<g::path_segment>         = {"E001", "expected a name after `.`"};
template <> inline constexpr ErrorText error_message<g::expr<g::ws>>          = {"E001", "expected an expression"};
template <> inline constexpr ErrorText error_message<g::expr<g::sp>>          = {"E001", "expected an expression"};
template <> inline constexpr ErrorText error_message<g::unary<g::ws>>         = {"E001", "expected an expression after the operator"};
template <> inline constexpr ErrorText error_message<g::unary<g::sp>>         = {"E001", "expected an expression after the operator"};
template <> inline constexpr ErrorText error_message<g::mul_expr<g::ws>>      = {"E001", "expected an expression after the operator"};
template <> inline constexpr ErrorText error_message<g::mul_expr<g::sp>>      = {"E001", "expected an expression after the operator"};
template <> inline constexpr ErrorText error_message<g::add_expr<g::ws>>      = {"E001", "expected an expression after the comparison"};
template <> inline constexpr ErrorText error_message<g::add_expr<g::sp>>      = {"E001", "expected an expression after the comparison"};
template <> inline constexpr ErrorText error_message<g::not_expr<g::ws>>      = {"E001", "expected an expression after `and` or `not`"};
template <> inline constexpr ErrorText error_message<g::not_expr<g::sp>>      = {"E001", "expected an expression after `and` or `not`"};
template <> inline constexpr ErrorText error_message<g::and_expr<g::ws>>      = {"E001", "expected an expression after `or`"};
template <> inline constexpr ErrorText error_message<g::and_expr<g::sp>>      = {"E001", "expected an expression after `or`"};
template <> inline constexpr ErrorText error_message<g::segment_ref>          = {"E001", "expected a segment name after `customer is`"};
template <> inline constexpr ErrorText error_message<g::within_duration>      = {"E001", "expected a duration such as `7d` after `within`"};
template <> inline constexpr ErrorText error_message<g::close_paren>          = {"E001", "expected `)`"};
template <> inline constexpr ErrorText error_message<g::close_bracket>        = {"E001", "expected `,` or `]` in the list"};
template <> inline constexpr ErrorText error_message<g::list_item>            = {"E001", "expected a list item after `,`"};
template <> inline constexpr ErrorText error_message<g::event_name>           = {"E001", "expected an event name (a name or a string)"};
template <> inline constexpr ErrorText error_message<g::event_property>       = {"E001", "expected `EVENT.PROPERTY`, as in `sum(order_completed.amount)`"};
template <> inline constexpr ErrorText error_message<g::since_arg>            = {"E001", "expected an event name or a timestamp expression inside `since(...)`"};
template <> inline constexpr ErrorText error_message<g::has_path>             = {"E001", "expected `customer.PATH`, `event.PATH` or `trigger.PATH` inside `has(...)`"};
template <> inline constexpr ErrorText error_message<g::field>                = {"E001", "expected a field `key: value`"};
template <> inline constexpr ErrorText error_message<g::field_colon>          = {"E001", "expected `:` after the field name"};
template <> inline constexpr ErrorText error_message<g::field_value>          = {"E001", "expected a value after `:`"};
template <> inline constexpr ErrorText error_message<g::close_object>         = {"E001", "expected `,` or `}` in the `with` object"};
template <> inline constexpr ErrorText error_message<g::object>               = {"E001", "expected an object `{ key: value, ... }` after `with`"};
template <> inline constexpr ErrorText error_message<g::channel>              = {"E001", "expected a channel such as `email` after `send`"};
template <> inline constexpr ErrorText error_message<g::template_name>        = {"E001", "expected a template name string after the channel, as in `send email \"welcome-1\"`"};
template <> inline constexpr ErrorText error_message<g::wait_branch_block>    = {"E001", "expected a block `{ ... }` for the branch"};
template <> inline constexpr ErrorText error_message<g::wait_branch>          = {"E001", "expected `on EVENT { ... }` or `timeout { ... }` inside `wait up to`"};
template <> inline constexpr ErrorText error_message<g::stmt_end>             = {"E001", "expected the end of the statement (a new line or `;`)"};
template <> inline constexpr ErrorText error_message<g::close_wait>           = {"E001", "expected `}` to close `wait up to`"};
template <> inline constexpr ErrorText error_message<g::k_to>                 = {"E001", "expected `to` after `wait up`"};
template <> inline constexpr ErrorText error_message<g::up_to_duration>       = {"E001", "expected a duration such as `3d` after `wait up to`"};
template <> inline constexpr ErrorText error_message<g::wait_body>            = {"E001", "expected `{` with `on EVENT { ... }` branches after `wait up to DURATION`"};
template <> inline constexpr ErrorText error_message<g::until_time>           = {"E001", "expected a time of day such as `09:00` after `wait until`"};
template <> inline constexpr ErrorText error_message<g::until_target>         = {"E001", "expected a time of day (`09:00`), weekdays and a time (`monday 09:00`) or a date (`customer.renewal_at`) after `wait until`"};
template <> inline constexpr ErrorText error_message<g::short_time_of_day>    = {"E001", "a time of day has two digits for the hour: write `09:00`, not `9:00`"};
template <> inline constexpr ErrorText error_message<g::day_range>            = {"E001", "expected a weekday such as `mon` or `monday` after `,`"};
template <> inline constexpr ErrorText error_message<g::day_range_end>        = {"E001", "expected a weekday after `-`, as in `mon-fri`"};
template <> inline constexpr ErrorText error_message<g::offset_value>         = {"E001", "expected a duration such as `-7d` or `2h` after `offset`"};
template <> inline constexpr ErrorText error_message<g::offset_duration>      = {"E001", "expected a duration such as `7d` after the sign"};
template <> inline constexpr ErrorText error_message<g::year_on>              = {"E001", "expected `on customer.PATH` after `every year`"};
template <> inline constexpr ErrorText error_message<g::date_attribute>       = {"E001", "expected a date attribute `customer.PATH`, as in `customer.birthday`"};
template <> inline constexpr ErrorText error_message<g::date_time_of_day>     = {"E001", "expected a time of day such as `09:00` after `at`"};
template <> inline constexpr ErrorText error_message<g::broadcast_time>       = {"E001", "expected a date and time such as `2026-12-24T10:00` after `entry at`"};
template <> inline constexpr ErrorText error_message<g::window_days>          = {"E001", "expected weekdays such as `mon-fri`, `weekdays` or `daily` after `send window`"};
template <> inline constexpr ErrorText error_message<g::window_start>         = {"E001", "expected a time of day such as `09:00` after the weekdays"};
template <> inline constexpr ErrorText error_message<g::window_dash>          = {"E001", "expected `-` between the two times, as in `send window mon-fri 09:00-18:00`"};
template <> inline constexpr ErrorText error_message<g::window_end>           = {"E001", "expected a time of day such as `18:00` after `-`"};
template <> inline constexpr ErrorText error_message<g::except_what>          = {"E001", "expected `holidays` after `except`"};
template <> inline constexpr ErrorText error_message<g::wait_rest>            = {"E001", "expected a duration such as `3d`, `until HH:MM` or `up to DURATION { ... }` after `wait`"};
template <> inline constexpr ErrorText error_message<g::if_condition>         = {"E001", "expected a condition after `if`"};
template <> inline constexpr ErrorText error_message<g::if_block>             = {"E001", "expected a block `{ ... }` after the condition"};
template <> inline constexpr ErrorText error_message<g::variant_name>         = {"E001", "expected a variant name after the percentage"};
template <> inline constexpr ErrorText error_message<g::split_block>          = {"E001", "expected a block `{ ... }` after the variant name"};
template <> inline constexpr ErrorText error_message<g::split_arm>            = {"E001", "expected a variant `P% NAME { ... }` inside `split`"};
template <> inline constexpr ErrorText error_message<g::open_split>           = {"E001", "expected `{` after `split`"};
template <> inline constexpr ErrorText error_message<g::close_split>          = {"E001", "expected `}` to close `split`"};
template <> inline constexpr ErrorText error_message<g::set_target>           = {"E001", "expected `customer.PATH` after `set`"};
template <> inline constexpr ErrorText error_message<g::set_equals>           = {"E001", "expected `=` after the attribute"};
template <> inline constexpr ErrorText error_message<g::set_value>            = {"E001", "expected a value after `=`"};
template <> inline constexpr ErrorText error_message<g::tag_name>             = {"E001", "expected a tag string, as in `tag \"vip\"`"};
template <> inline constexpr ErrorText error_message<g::label_ref>            = {"E001", "expected a label name after `goto`"};
template <> inline constexpr ErrorText error_message<g::statement>            = {"E001", "expected a step (send, wait, if, split, set, tag, untag, emit, goto, exit)"};
template <> inline constexpr ErrorText error_message<g::close_block>          = {"E001", "expected `}` to close the block"};
template <> inline constexpr ErrorText error_message<g::title_text>           = {"E001", "expected a string after `title`"};
template <> inline constexpr ErrorText error_message<g::every_day>            = {"E001", "expected `day`, a weekday (`monday` ... `sunday`) or `year on customer.PATH` after `every`"};
template <> inline constexpr ErrorText error_message<g::every_at>             = {"E001", "expected `at HH:MM`"};
template <> inline constexpr ErrorText error_message<g::every_time>           = {"E001", "expected a time of day such as `09:00` after `at`"};
template <> inline constexpr ErrorText error_message<g::entry_rest>           = {"E001", "expected `on EVENT`, `when EXPR`, `every day at HH:MM`, `every year on customer.PATH`, `on date customer.PATH` or `at YYYY-MM-DDTHH:MM` after `entry`"};
template <> inline constexpr ErrorText error_message<g::reentry_duration>     = {"E001", "expected a duration such as `60d` after `reentry after`"};
template <> inline constexpr ErrorText error_message<g::reentry_rest>         = {"E001", "expected `never`, `always` or `after DURATION` after `reentry`"};
template <> inline constexpr ErrorText error_message<g::goal_name>            = {"E001", "expected a goal name after `goal`"};
template <> inline constexpr ErrorText error_message<g::goal_colon>           = {"E001", "expected `:` after the goal name, as in `goal first_order: order_completed within 7d`"};
template <> inline constexpr ErrorText error_message<g::goal_within>          = {"E001", "expected `within DURATION` at the end of the goal"};
template <> inline constexpr ErrorText error_message<g::k_hours>              = {"E001", "expected `hours` after `quiet`"};
template <> inline constexpr ErrorText error_message<g::quiet_start>          = {"E001", "expected a time of day such as `21:00` after `quiet hours`"};
template <> inline constexpr ErrorText error_message<g::quiet_dash>           = {"E001", "expected `-` between the two times, as in `quiet hours 21:00-09:00`"};
template <> inline constexpr ErrorText error_message<g::quiet_end>            = {"E001", "expected a time of day such as `09:00` after `-`"};
template <> inline constexpr ErrorText error_message<g::cap_count>            = {"E001", "expected a whole number after `cap`, as in `cap 2 per 7d`"};
template <> inline constexpr ErrorText error_message<g::k_per>                = {"E001", "expected `per` after the cap count"};
template <> inline constexpr ErrorText error_message<g::cap_duration>         = {"E001", "expected a duration such as `7d` after `per`"};
template <> inline constexpr ErrorText error_message<g::update_policy>        = {"E001", "expected `migrate` or `keep` after `on update`"};
template <> inline constexpr ErrorText error_message<g::priority_value>       = {"E001", "expected a whole number after `priority`, as in `priority 10`"};
template <> inline constexpr ErrorText error_message<g::topic_name>           = {"E001", "expected a topic name after `topic`, as in `topic newsletter`"};
template <> inline constexpr ErrorText error_message<g::horizon_duration>     = {"E001", "expected a duration such as `30d` inside `expected_orders(...)` or `predicted_value(...)`"};
template <> inline constexpr ErrorText error_message<g::header_clause>        = {"E001", "expected a header clause"};
template <> inline constexpr ErrorText error_message<g::journey_name>         = {"E001", "expected a journey name after `journey`"};
template <> inline constexpr ErrorText error_message<g::open_journey>         = {"E001", "expected `{` after the journey name"};
template <> inline constexpr ErrorText error_message<g::close_journey>        = {"E001", "expected `}` to close the journey"};
template <> inline constexpr ErrorText error_message<g::segment_name>         = {"E001", "expected a segment name after `segment`"};
template <> inline constexpr ErrorText error_message<g::segment_equals>       = {"E001", "expected `=` after the segment name"};
template <> inline constexpr ErrorText error_message<g::segment_condition>    = {"E001", "expected a condition after `=`"};
template <> inline constexpr ErrorText error_message<g::declaration>          = {"E001", "expected `journey NAME { ... }` or `segment NAME = EXPR`"};
// NOLINTEND(readability-identifier-naming)
// clang-format on

/// The words worth suggesting for a misspelling at a given error point; empty for none.
template <typename Rule>
std::vector<std::string> suggestion_words() {
  if constexpr (std::is_same_v<Rule, g::statement>) {
    return {"send",    "wait", "if",    "split", "set",      "tag",
            "untag",   "emit", "goto",  "exit",  "title",    "entry",
            "reentry", "goal", "quiet", "cap",   "priority", "transactional"};
  } else if constexpr (std::is_same_v<Rule, g::declaration>) {
    return {"journey", "segment"};
  } else if constexpr (std::is_same_v<Rule, g::stmt_end>) {
    return {"with", "where", "within", "and", "or", "not", "in", "is", "topic", "transactional"};
  } else if constexpr (std::is_same_v<Rule, g::wait_rest>) {
    return {"up", "until"};
  } else if constexpr (std::is_same_v<Rule, g::entry_rest>) {
    return {"on", "when", "every", "at"};
  } else if constexpr (std::is_same_v<Rule, g::reentry_rest>) {
    return {"never", "always", "after"};
  } else if constexpr (std::is_same_v<Rule, g::every_day>) {
    return {"day",       "year",     "sunday", "monday",  "tuesday",
            "wednesday", "thursday", "friday", "saturday"};
  } else if constexpr (std::is_same_v<Rule, g::expr<g::sp>> ||
                       std::is_same_v<Rule, g::expr<g::ws>> ||
                       std::is_same_v<Rule, g::if_condition> ||
                       std::is_same_v<Rule, g::set_value> ||
                       std::is_same_v<Rule, g::segment_condition> ||
                       std::is_same_v<Rule, g::field_value> || std::is_same_v<Rule, g::since_arg>) {
    return {"customer",
            "event",
            "trigger",
            "now",
            "true",
            "false",
            "none",
            "count",
            "sum",
            "avg",
            "min",
            "max",
            "since",
            "last",
            "has",
            "not",
            "p_alive",
            "expected_orders",
            "predicted_value",
            "is_holiday",
            "in_holdout"};
  } else {
    return {};
  }
}

/// Deepest nesting of blocks and of expressions before E004.
constexpr int kMaxBlockDepth = 64;
constexpr int kMaxExprDepth = 256;
/// The largest `priority` either way.
constexpr std::int64_t kMaxPriority = 1000;

class Probe;

/// What the grammar's control hooks share while one file is parsed.
struct ParseState {
  const SourceFile* file = nullptr;
  std::vector<Diagnostic> diagnostics;
  int block_depth = 0;
  int expr_depth = 0;
  Probe* probe = nullptr;  // set by expected_at(): what the grammar tries at one place

  std::uint32_t offset_of(const char* p) const {
    return static_cast<std::uint32_t>(p - file->text().data());
  }

  /// Records a diagnostic, unless one was already recorded at the same place (an error that
  /// ends a declaration is often reported again by the recovery that follows it).
  void add(Diagnostic d) {
    if (!diagnostics.empty() && diagnostics.back().span.begin == d.span.begin) return;
    if (diagnostics.size() > kMaxDiagnosticsPerFile) return;
    d.file = file->path();
    diagnostics.push_back(std::move(d));
  }
};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// The token at `p` for messages: a word (with `.` inside literals), one character, or empty at
/// the end of a line or of the input.
std::string_view token_at(const char* p, const char* end) {
  if (p == end || *p == '\n' || *p == '\r') return {};
  const char* q = p;
  const bool literal = *p >= '0' && *p <= '9';
  while (q != end && (is_word_char(*q) || (literal && (*q == '.' || *q == ':')))) ++q;
  if (q == p) {
    // One UTF-8 code point.
    ++q;
    while (q != end && (static_cast<unsigned char>(*q) & 0xC0) == 0x80) ++q;
  }
  return {p, static_cast<std::size_t>(q - p)};
}

template <typename Rule>
inline constexpr bool kIsBlockRule =
    std::is_same_v<Rule, g::if_block> || std::is_same_v<Rule, g::wait_branch_block> ||
    std::is_same_v<Rule, g::split_block>;

template <typename Rule>
inline constexpr bool kIsNestingExpr =
    std::is_same_v<Rule, g::paren_expr> || std::is_same_v<Rule, g::list_lit> ||
    std::is_same_v<Rule, g::negation<g::sp>> || std::is_same_v<Rule, g::negation<g::ws>> ||
    std::is_same_v<Rule, g::negate<g::sp>> || std::is_same_v<Rule, g::negate<g::ws>> ||
    std::is_same_v<Rule, g::count_call> || std::is_same_v<Rule, g::aggregate_call> ||
    std::is_same_v<Rule, g::since_call> || std::is_same_v<Rule, g::is_holiday_call>;

// ---------------------------------------------------------------------------------------------
// The probe of expected_at(): what the grammar tries at one place

std::string unescape(std::string_view quoted);

/// The word a keyword rule matches (`k_send` and the weekdays derive from ascii::keyword).
template <char... Cs>
inline constexpr char kKeywordChars[] = {Cs..., '\0'};
template <char... Cs>
constexpr std::string_view keyword_word(const pegtl::ascii::keyword<Cs...>* /*rule*/) {
  return {kKeywordChars<Cs...>, sizeof...(Cs)};
}
template <typename Rule>
inline constexpr bool kIsKeyword = requires {
  keyword_word(static_cast<const Rule*>(nullptr));
};

template <typename Rule>
inline constexpr bool kIsLookahead = false;
template <typename... Rules>
inline constexpr bool kIsLookahead<pegtl::at<Rules...>> = true;
template <typename... Rules>
inline constexpr bool kIsLookahead<pegtl::not_at<Rules...>> = true;

/// The rules the probe keeps track of while they are being matched.
enum class Frame : std::uint8_t {
  None,
  Journey,      // its name and `entry on` events
  Statement,    // a step line (header clauses are late there)
  Scope,        // a construct that puts its event in scope for `event.`
  Customer,     // `customer.PATH`
  Event,        // `event.PATH`
  Trigger,      // `trigger.PATH`
  Named,        // `last(EVENT).PATH`, `EVENT.PATH` in an aggregate
  EventName,    // an event name, given to the frame around it
  JourneyName,  // a journey's name, given to the journey
  PathSegment,  // one name of a path, given to the path around it
};

template <typename Rule>
constexpr Frame frame_of() {
  if constexpr (std::is_same_v<Rule, g::journey_decl>) return Frame::Journey;
  if constexpr (std::is_same_v<Rule, g::statement>) return Frame::Statement;
  if constexpr (std::is_same_v<Rule, g::entry_on> || std::is_same_v<Rule, g::exit_on> ||
                std::is_same_v<Rule, g::goal_clause> || std::is_same_v<Rule, g::on_branch> ||
                std::is_same_v<Rule, g::count_call> || std::is_same_v<Rule, g::aggregate_call>)
    return Frame::Scope;
  if constexpr (std::is_same_v<Rule, g::customer_path>) return Frame::Customer;
  if constexpr (std::is_same_v<Rule, g::event_path>) return Frame::Event;
  if constexpr (std::is_same_v<Rule, g::trigger_path>) return Frame::Trigger;
  if constexpr (std::is_same_v<Rule, g::last_call> || std::is_same_v<Rule, g::event_property>)
    return Frame::Named;
  if constexpr (std::is_same_v<Rule, g::event_name> || std::is_same_v<Rule, g::plain_event_name>)
    return Frame::EventName;
  if constexpr (std::is_same_v<Rule, g::journey_name>) return Frame::JourneyName;
  if constexpr (std::is_same_v<Rule, g::path_segment>) return Frame::PathSegment;
  return Frame::None;
}

/// Records, for the rules the grammar tries at one place (outside lookaheads), the keywords and
/// the kinds of name; keeps the enclosing journey, event scopes and paths on a stack.
class Probe {
 public:
  explicit Probe(const char* place) : place_(place) {}

  template <typename Rule>
  static constexpr bool kWatched =
      kIsKeyword<Rule> || kIsLookahead<Rule> || frame_of<Rule>() != Frame::None
      || std::is_same_v<Rule, g::channel> || std::is_same_v<Rule, g::label_ref> ||
      std::is_same_v<Rule, g::segment_ref>;

  template <typename Rule>
  void start(const char* at) {
    if constexpr (kIsLookahead<Rule>) {
      // The header clauses of a journey are tried through `at<header_start>`: they count as
      // expected there, but not in a step line (where they are late, E007).
      if (lookahead_ > 0 || !header_lookahead<Rule>()) ++lookahead_;
      return;
    }
    if (lookahead_ > 0) return;
    constexpr Frame kFrame = frame_of<Rule>();
    if constexpr (kFrame != Frame::None) frames_.push_back({kFrame, at, {}, {}, {}, {}});
    if (at != place_) return;
    if (found_.journey.empty()) note_journey();
    if constexpr (kIsKeyword<Rule>) {
      words_.emplace_back(keyword_word(static_cast<const Rule*>(nullptr)));
    } else if constexpr (std::is_same_v<Rule, g::channel>) {
      found_.channel = true;
    } else if constexpr (std::is_same_v<Rule, g::label_ref>) {
      found_.label = true;
    } else if constexpr (std::is_same_v<Rule, g::segment_ref>) {
      found_.segment = true;
    } else if constexpr (kFrame == Frame::EventName) {
      found_.event = true;
    } else if constexpr (kFrame == Frame::PathSegment) {
      path_here();
    }
  }

  template <typename Rule>
  void success(const char* at) {
    if constexpr (kIsLookahead<Rule>) {
      leave_lookahead<Rule>();
    } else if constexpr (frame_of<Rule>() != Frame::None) {
      if (lookahead_ > 0) return;
      FrameState done = std::move(frames_.back());
      frames_.pop_back();
      if (frames_.empty()) return;
      FrameState& outer = frames_.back();
      const std::string_view text(done.begin, static_cast<std::size_t>(at - done.begin));
      switch (done.kind) {
        case Frame::EventName:
          if (outer.event.empty())
            outer.event = !text.empty() && text.front() == '"' ? unescape(text) : std::string(text);
          break;
        case Frame::JourneyName: outer.name = std::string(text); break;
        case Frame::PathSegment: outer.path.emplace_back(text); break;
        case Frame::Named:  // `sum(EVENT.PROP ...)`: the aggregate's event
          if (outer.kind == Frame::Scope && outer.event.empty()) outer.event = done.event;
          break;
        default: break;
      }
      if constexpr (std::is_same_v<Rule, g::entry_on>) {
        if (FrameState* journey = innermost(Frame::Journey)) journey->entries.push_back(done.event);
      }
    }
  }

  template <typename Rule>
  void leave() {  // failure or unwind
    if constexpr (kIsLookahead<Rule>) {
      leave_lookahead<Rule>();
    } else if constexpr (frame_of<Rule>() != Frame::None) {
      if (lookahead_ == 0) frames_.pop_back();
    }
  }

  /// What was found, the words sorted and unique.
  Expected take() {
    std::sort(words_.begin(), words_.end());
    words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
    for (const auto& w : words_) found_.words.emplace_back(w);
    return std::move(found_);
  }

 private:
  struct FrameState {
    Frame kind = Frame::None;
    const char* begin = nullptr;
    std::string event;                 // EventName given to a Scope or Named frame
    std::string name;                  // Journey: its name
    std::vector<std::string> entries;  // Journey: its `entry on` events so far
    std::vector<std::string> path;     // paths: the names before the place
  };

  template <typename Rule>
  bool header_lookahead() const {
    return std::is_same_v<Rule, pegtl::at<g::header_start>> && !frames_.empty() &&
           frames_.back().kind == Frame::Journey;
  }

  template <typename Rule>
  void leave_lookahead() {
    if (lookahead_ > 1 || (lookahead_ == 1 && !header_lookahead<Rule>())) --lookahead_;
  }

  /// The journey around the place, noted at the first rule tried there.
  void note_journey() {
    if (const FrameState* journey = innermost(Frame::Journey)) found_.journey = journey->name;
  }

  FrameState* innermost(Frame kind) {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      if (it->kind == kind) return &*it;
    }
    return nullptr;
  }

  /// A path name is expected here: which root, what was written before, which events fit.
  void path_here() {
    for (auto it = frames_.rbegin() + 1; it != frames_.rend(); ++it) {
      switch (it->kind) {
        case Frame::Customer: found_.path = PathRoot::Customer; break;
        case Frame::Trigger: found_.path = PathRoot::Trigger; break;
        case Frame::Event: found_.path = PathRoot::Event; break;
        case Frame::Named: found_.path = PathRoot::Named; break;
        default: continue;
      }
      found_.path_prefix = it->path;
      if (found_.path == PathRoot::Named) {
        found_.path_events = {it->event};
      } else if (found_.path == PathRoot::Event) {
        for (auto scope = it; scope != frames_.rend(); ++scope) {
          if (scope->kind == Frame::Scope && !scope->event.empty()) {
            found_.path_events = {scope->event};
            break;
          }
        }
      }
      if (found_.path_events.empty() && found_.path != PathRoot::Customer) {
        if (const FrameState* journey = innermost(Frame::Journey))
          found_.path_events = journey->entries;
      }
      return;
    }
  }

  const char* place_;
  int lookahead_ = 0;
  std::vector<FrameState> frames_;
  std::vector<std::string_view> words_;
  Expected found_;
};

/// Records syntax errors as diagnostics and bounds the nesting depth; feeds the probe, if any.
template <typename Rule>
struct Control : pegtl::normal<Rule> {
  template <typename ParseInput>
  static void start(const ParseInput& in, ParseState& state) {
    if constexpr (Probe::kWatched<Rule>) {
      if (state.probe != nullptr) state.probe->start<Rule>(in.current());
    }
    if constexpr (kIsBlockRule<Rule>) {
      if (state.block_depth >= kMaxBlockDepth)
        too_deep(in, state, "blocks are nested too deeply (more than 64 levels)");
      ++state.block_depth;
    } else if constexpr (kIsNestingExpr<Rule>) {
      if (state.expr_depth >= kMaxExprDepth)
        too_deep(in, state, "the expression is nested too deeply (more than 256 levels)");
      ++state.expr_depth;
    }
  }
  template <typename ParseInput>
  static void success(const ParseInput& in, ParseState& state) {
    if constexpr (Probe::kWatched<Rule>) {
      if (state.probe != nullptr) state.probe->success<Rule>(in.current());
    }
    leave_depth(state);
  }
  template <typename ParseInput>
  static void failure(const ParseInput& /*in*/, ParseState& state) {
    leave(state);
  }
  template <typename ParseInput>
  static void unwind(const ParseInput& /*in*/, ParseState& state) {
    leave(state);
  }

  static void leave(ParseState& state) {
    if constexpr (Probe::kWatched<Rule>) {
      if (state.probe != nullptr) state.probe->leave<Rule>();
    }
    leave_depth(state);
  }

  static void leave_depth(ParseState& state) {
    if constexpr (kIsBlockRule<Rule>) --state.block_depth;
    if constexpr (kIsNestingExpr<Rule>) --state.expr_depth;
  }

  template <typename ParseInput>
  [[noreturn]] static void too_deep(const ParseInput& in, ParseState& state, const char* message) {
    const std::uint32_t at = state.offset_of(in.current());
    state.add(Diagnostic{Severity::Error,
                         "E004",
                         {},
                         Span{at, at + 1},
                         message,
                         {},
                         "split the logic into smaller steps or segments",
                         {}});
    throw pegtl::parse_error(message, in);
  }

  template <typename ParseInput>
  [[noreturn]] static void raise(const ParseInput& in, ParseState& state) {
    constexpr ErrorText kText = error_message<Rule>;
    static_assert(kText.code != nullptr, "every must<>/raise<> point needs an error_message");
    const char* p = in.current();
    const std::string_view token = token_at(p, in.end());
    std::uint32_t begin = state.offset_of(p);
    std::uint32_t end = begin + static_cast<std::uint32_t>(token.size());
    std::string message = kText.message;
    if (const auto hole = message.find("{}"); hole != std::string::npos) {
      message.replace(hole, 2, token);
    }
    if constexpr (std::is_same_v<Rule, g::string_body>) {
      // From the opening quote (the last unescaped `"` before here) to the end of the line.
      const char* base = state.file->text().data();
      const char* open = p;
      while (open != base) {
        --open;
        if (*open != '"') continue;
        std::size_t slashes = 0;
        while (open - static_cast<std::ptrdiff_t>(slashes) != base &&
               open[-1 - static_cast<std::ptrdiff_t>(slashes)] == '\\')
          ++slashes;
        if (slashes % 2 == 0) break;
      }
      begin = state.offset_of(open);
      const char* q = p;
      while (q != in.end() && *q != '\n' && *q != '\r') ++q;
      end = state.offset_of(q);
    } else if constexpr (std::is_same_v<Rule, g::escape_code>) {
      begin -= 1;
      end = begin + 2;
    } else if (std::string_view(kText.code) == "E001" &&
               message.find(", found") == std::string::npos &&
               std::string_view(kText.message).find("do not chain") == std::string_view::npos) {
      if (token.empty()) {
        message += p == in.end() ? ", found the end of the file" : ", found the end of the line";
      } else {
        message += ", found `" + std::string(token) + "`";
      }
    }
    Diagnostic d{Severity::Error, kText.code, {}, Span{begin, end}, std::move(message), {}, {}, {}};
    const auto words = suggestion_words<Rule>();
    if (!words.empty() && !token.empty() && is_word_char(token.front()) &&
        !(token.front() >= '0' && token.front() <= '9')) {
      if (auto s = suggest(token, words)) did_you_mean(d, *s, Span{begin, end});
    }
    if constexpr (std::is_same_v<Rule, g::keyword_as_name>) {
      d.help =
          "choose another name; an event named like a keyword is written as a string, as in `on "
          "\"" +
          std::string(token) + "\"`";
    }
    state.add(std::move(d));
    throw pegtl::parse_error(kText.message, in);
  }
};

// ---------------------------------------------------------------------------------------------
// The parse tree: which rules become nodes.

template <typename Rule>
using Selector = pegtl::parse_tree::selector<
    Rule,
    pegtl::parse_tree::store_content::on<
        // declarations
        g::journey_decl, g::journey_name, g::open_journey, g::missing_close, g::segment_decl,
        g::segment_name, g::segment_condition,
        // header clauses
        g::title_clause, g::title_text, g::entry_clause, g::entry_on, g::entry_when, g::entry_every,
        g::every_day, g::every_time, g::every_when, g::reentry_clause, g::reentry_never,
        g::reentry_always, g::reentry_after, g::exit_clause, g::exit_on, g::exit_when,
        g::goal_clause, g::goal_name, g::quiet_clause, g::quiet_start, g::quiet_end, g::cap_clause,
        g::cap_count, g::update_clause, g::update_migrate, g::entry_yearly, g::entry_on_date,
        g::entry_at, g::date_attribute, g::date_time_of_day, g::offset_value, g::broadcast_time,
        g::broadcast_local, g::send_window_clause, g::window_days, g::window_start, g::window_end,
        g::window_except, g::until_days, g::until_value, g::priority_clause, g::priority_value,
        g::transactional_clause,
        // steps
        g::step, g::label_name, g::send_step, g::channel, g::template_name, g::send_topic,
        g::topic_name, g::send_transactional, g::object, g::field, g::field_key, g::field_value,
        g::wait_for, g::wait_until, g::until_time, g::wait_up_to, g::on_branch, g::timeout_branch,
        g::if_step, g::if_condition, g::else_if_arm, g::else_arm, g::if_block, g::wait_branch_block,
        g::split_block, g::split_step, g::split_arm, g::percent, g::variant_name, g::set_step,
        g::set_target, g::set_value, g::tag_step, g::untag_step, g::tag_name, g::emit_step,
        g::goto_step, g::label_ref, g::exit_step, g::exit_reason,
        // expressions
        g::expr<g::sp>, g::expr<g::ws>, g::and_expr<g::sp>, g::and_expr<g::ws>, g::not_expr<g::sp>,
        g::not_expr<g::ws>, g::negation<g::sp>, g::negation<g::ws>, g::comparison<g::sp>,
        g::comparison<g::ws>, g::cmp_op, g::is_segment<g::sp>, g::is_segment<g::ws>, g::is_not,
        g::segment_ref, g::add_expr<g::sp>, g::add_expr<g::ws>, g::add_op, g::mul_expr<g::sp>,
        g::mul_expr<g::ws>, g::mul_op, g::negate<g::sp>, g::negate<g::ws>, g::paren_expr,
        g::list_lit, g::list_item, g::customer_path, g::event_path, g::trigger_path,
        g::path_segment, g::lit_now, g::lit_true, g::lit_false, g::lit_none, g::count_call,
        g::aggregate_call, g::agg_name, g::event_property, g::agg_where, g::agg_within,
        g::where_clause<g::sp>, g::since_call, g::since_event, g::since_value, g::last_call,
        g::has_call, g::is_holiday_call, g::in_holdout_call, g::p_alive_call, g::horizon_call,
        g::horizon_name, g::duration, g::number, g::string_lit, g::event_name,
        g::plain_event_name>>;

using Node = pegtl::parse_tree::node;

// ---------------------------------------------------------------------------------------------
// Literal decoding

/// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// The value of a string literal as written (with its quotes) by the grammar.
std::string unescape(std::string_view quoted) {
  std::string out;
  const std::string_view body = quoted.substr(1, quoted.size() - 2);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::uint32_t cp = 0;
        std::from_chars(body.data() + i + 1, body.data() + i + 5, cp, 16);
        append_utf8(out, cp);
        i += 4;
        break;
      }
      default: out += e; break;  // `"` and `\`
    }
  }
  return out;
}

std::string_view text_of(const Node& n) {
  return n.string_view();
}

// ---------------------------------------------------------------------------------------------
// Parse tree to AST

class TreeReader {
 public:
  explicit TreeReader(ParseState& state) : state_(state) {}

  Module read_file(const Node& root) {
    Module module;
    for (const auto& child : root.children) {
      if (child->is_type<g::journey_decl>()) {
        module.journeys.push_back(read_journey(*child));
      } else if (child->is_type<g::segment_decl>()) {
        module.segments.push_back(read_segment(*child));
      }
    }
    return module;
  }

 private:
  ParseState& state_;

  static Span span_of(const Node& n) {
    return Span{static_cast<std::uint32_t>(n.m_begin.byte),
                static_cast<std::uint32_t>(n.m_end.byte)};
  }

  void error(const char* code, Span span, std::string message, std::string help = {}) {
    state_.add(
        Diagnostic{Severity::Error, code, {}, span, std::move(message), {}, std::move(help), {}});
  }

  /// A node's first child of the given type, or null.
  template <typename Rule>
  static const Node* find(const Node& n) {
    for (const auto& c : n.children) {
      if (c->is_type<Rule>()) return c.get();
    }
    return nullptr;
  }

  std::int64_t read_integer(std::string_view digits, Span span) {
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) {
      error("E005", span, "number `" + std::string(digits) + "` is too large");
      return 0;
    }
    return value;
  }

  std::int64_t read_duration(const Node& n) {
    const std::string_view t = text_of(n);
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < t.size()) {
      std::size_t j = i;
      while (j < t.size() && t[j] >= '0' && t[j] <= '9') ++j;
      std::int64_t amount = 0;
      const auto [ptr, ec] = std::from_chars(t.data() + i, t.data() + j, amount);
      std::int64_t unit = 1;
      switch (t[j]) {
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = std::int64_t{7} * 86400; break;
        default: break;
      }
      if (ec != std::errc() || ptr != t.data() + j || amount > (kMax - total) / unit) {
        error("E005", span_of(n), "duration `" + std::string(t) + "` is too large");
        return 0;
      }
      total += amount * unit;
      i = j + 1;
    }
    return total;
  }

  /// Seconds since midnight of an `HH:MM` node; out of range is E005.
  std::int64_t read_time_of_day(const Node& n) {
    const std::string_view t = text_of(n);
    const int hours = (t[0] - '0') * 10 + (t[1] - '0');
    const int minutes = (t[3] - '0') * 10 + (t[4] - '0');
    if (hours > 23 || minutes > 59) {
      error("E005", span_of(n),
            "invalid time of day `" + std::string(t) +
                "`: hours go from 00 to 23 and minutes from 00 to 59");
      return 0;
    }
    return hours * 3600 + minutes * 60;
  }

  /// The weekdays of a day set (`mon-fri`, `weekdays`, `sat,sun`), one bit per weekday (bit 0
  /// sunday). A range may wrap around the week end (`fri-mon`).
  static int read_days(const Node& n) {
    const std::string_view t = text_of(n);
    if (t == "weekdays" || t == "weekday") return 0x3E;
    if (t == "weekends" || t == "weekend") return 0x41;
    if (t == "daily") return 0x7F;
    const auto day = [](std::string_view word) {
      static constexpr std::string_view kShort[] = {"sun", "mon", "tue", "wed",
                                                    "thu", "fri", "sat"};
      for (int i = 0; i < 7; ++i) {
        if (word.substr(0, 3) == kShort[i]) return i;
      }
      return 0;
    };
    int mask = 0;
    std::size_t pos = 0;
    while (pos <= t.size()) {
      const std::size_t comma = std::min(t.find(',', pos), t.size());
      const std::string_view item = t.substr(pos, comma - pos);
      const std::size_t dash = item.find('-');
      const int first = day(item.substr(0, dash));
      const int last = dash == std::string_view::npos ? first : day(item.substr(dash + 1));
      for (int d = first;; d = (d + 1) % 7) {
        mask |= 1 << d;
        if (d == last) break;
      }
      pos = comma + 1;
    }
    return mask;
  }

  /// Seconds of an `offset` value: `-7d`, `+2h`, `30m`.
  std::int64_t read_offset(const Node& n) {
    const std::int64_t seconds = read_duration(*find<g::duration>(n));
    return text_of(n).front() == '-' ? -seconds : seconds;
  }

  /// Seconds since 1970-01-01T00:00 of a `YYYY-MM-DDTHH:MM` node; an impossible date is E005.
  std::int64_t read_date_time(const Node& n) {
    const std::string_view t = text_of(n);
    const auto number = [&t](std::size_t pos, std::size_t len) {
      int v = 0;
      std::from_chars(t.data() + pos, t.data() + pos + len, v);
      return v;
    };
    const std::chrono::year_month_day ymd{std::chrono::year{number(0, 4)},
                                          std::chrono::month{static_cast<unsigned>(number(5, 2))},
                                          std::chrono::day{static_cast<unsigned>(number(8, 2))}};
    const int hours = number(11, 2);
    const int minutes = number(14, 2);
    const int seconds = t.size() > 16 ? number(17, 2) : 0;
    if (!ymd.ok() || hours > 23 || minutes > 59 || seconds > 59) {
      error("E005", span_of(n),
            "invalid date and time `" + std::string(t) +
                "`: write it as `YYYY-MM-DDTHH:MM`, such "
                "as `2026-12-24T10:00`");
      return 0;
    }
    const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
    return std::int64_t{days} * 86400 + std::int64_t{hours} * 3600 + std::int64_t{minutes} * 60 +
           seconds;
  }

  static double read_number(std::string_view t) {
    double value = 0;
    std::from_chars(t.data(), t.data() + t.size(), value);
    return value;
  }

  EventRef read_event(const Node& n) {
    EventRef ref;
    ref.span = span_of(n);
    const std::string_view t = text_of(n);
    if (!t.empty() && t.front() == '"') {
      ref.name = unescape(t);
      ref.quoted = true;
    } else {
      ref.name = std::string(t);
    }
    return ref;
  }

  // -- declarations ---------------------------------------------------------------------------

  Segment read_segment(const Node& n) {
    Segment s;
    s.span = span_of(n);
    for (const auto& c : n.children) {
      if (c->is_type<g::segment_name>()) {
        s.name = c->string();
        s.name_span = span_of(*c);
      } else if (c->is_type<g::segment_condition>()) {
        s.condition = read_expr(*c);
      }
    }
    return s;
  }

  Journey read_journey(const Node& n) {
    Journey j;
    j.span = span_of(n);
    Span open;
    for (const auto& c : n.children) {
      const Node& k = *c;
      if (k.is_type<g::journey_name>()) {
        j.name = k.string();
        j.name_span = span_of(k);
      } else if (k.is_type<g::open_journey>()) {
        open = span_of(k);
      } else if (k.is_type<g::missing_close>()) {
        Diagnostic d{Severity::Error,
                     "E001",
                     {},
                     span_of(k),
                     "expected `}` to close journey `" + j.name + "`",
                     {},
                     {},
                     {}};
        d.notes.push_back(DiagnosticNote{state_.file->path(), open, "the journey starts here"});
        state_.add(std::move(d));
      }
      if (k.is_type<g::title_clause>() || k.is_type<g::reentry_clause>() ||
          k.is_type<g::quiet_clause>() || k.is_type<g::cap_clause>() ||
          k.is_type<g::update_clause>() || k.is_type<g::send_window_clause>() ||
          k.is_type<g::priority_clause>() || k.is_type<g::transactional_clause>()) {
        const char* keyword = k.is_type<g::title_clause>()           ? "title"
                              : k.is_type<g::reentry_clause>()       ? "reentry"
                              : k.is_type<g::quiet_clause>()         ? "quiet hours"
                              : k.is_type<g::send_window_clause>()   ? "send window"
                              : k.is_type<g::cap_clause>()           ? "cap"
                              : k.is_type<g::priority_clause>()      ? "priority"
                              : k.is_type<g::transactional_clause>() ? "transactional"
                                                                     : "on update";
        j.once_clauses.push_back(OnceClause{keyword, span_of(k)});
      }
      if (k.is_type<g::title_clause>()) {
        j.title = unescape(text_of(*k.children.at(0)));
      } else if (k.is_type<g::entry_clause>()) {
        j.entries.push_back(read_entry(k));
      } else if (k.is_type<g::reentry_clause>()) {
        Reentry r;
        r.span = span_of(k);
        const Node& what = *k.children.at(0);
        if (what.is_type<g::reentry_always>()) {
          r.kind = ReentryKind::Always;
        } else if (what.is_type<g::reentry_after>()) {
          r.kind = ReentryKind::After;
          r.seconds = read_duration(*what.children.at(0));
        }
        j.reentry = r;
      } else if (k.is_type<g::exit_clause>()) {
        j.exits.push_back(read_exit(k));
      } else if (k.is_type<g::goal_clause>()) {
        j.goals.push_back(read_goal(k));
      } else if (k.is_type<g::quiet_clause>()) {
        QuietHours q;
        q.span = span_of(k);
        q.start = read_time_of_day(*find<g::quiet_start>(k));
        q.end = read_time_of_day(*find<g::quiet_end>(k));
        j.quiet_hours = q;
      } else if (k.is_type<g::send_window_clause>()) {
        SendWindow w;
        w.span = span_of(k);
        w.weekdays = read_days(*find<g::window_days>(k));
        w.start = read_time_of_day(*find<g::window_start>(k));
        w.end = read_time_of_day(*find<g::window_end>(k));
        w.except_holidays = find<g::window_except>(k) != nullptr;
        j.send_window = w;
      } else if (k.is_type<g::cap_clause>()) {
        Cap cap;
        cap.span = span_of(k);
        const Node& count = *find<g::cap_count>(k);
        cap.count = read_integer(text_of(count), span_of(count));
        cap.per = read_duration(*find<g::duration>(k));
        j.cap = cap;
      } else if (k.is_type<g::update_clause>()) {
        j.on_update = UpdateClause{find<g::update_migrate>(k) != nullptr, span_of(k)};
      } else if (k.is_type<g::priority_clause>()) {
        const Node& value = *find<g::priority_value>(k);
        const std::string_view text = text_of(value);
        const bool negative = text.front() == '-';
        const std::int64_t n = read_integer(text.substr(negative ? 1 : 0), span_of(value));
        if (n > kMaxPriority)
          error("E005", span_of(value),
                "priority `" + std::string(text) +
                    "` is out of range: write a whole number from -" +
                    std::to_string(kMaxPriority) + " to " + std::to_string(kMaxPriority));
        j.priority = Priority{negative ? -n : n, span_of(k)};
      } else if (k.is_type<g::transactional_clause>()) {
        j.transactional = span_of(k);
      } else if (k.is_type<g::step>()) {
        j.steps.push_back(read_step(k));
      }
    }
    return j;
  }

  Entry read_entry(const Node& n) {
    Entry e;
    e.span = span_of(n);
    const Node& what = *n.children.at(0);
    if (what.is_type<g::entry_on>()) {
      e.kind = EntryKind::On;
      e.event = read_event(*find<g::event_name>(what));
      if (const Node* w = find<g::where_clause<g::sp>>(what))
        e.where = read_expr(*w->children.at(0));
    } else if (what.is_type<g::entry_when>()) {
      e.kind = EntryKind::When;
      e.condition = read_expr(*what.children.at(0));
    } else if (what.is_type<g::entry_yearly>() || what.is_type<g::entry_on_date>()) {
      e.kind = what.is_type<g::entry_yearly>() ? EntryKind::Yearly : EntryKind::OnDate;
      const Node& attribute = *find<g::date_attribute>(what);
      e.path = read_path(*attribute.children.at(0));
      e.path_span = span_of(attribute);
      if (const Node* t = find<g::date_time_of_day>(what)) e.time_of_day = read_time_of_day(*t);
      if (const Node* o = find<g::offset_value>(what)) e.offset = read_offset(*o);
      if (const Node* w = find<g::every_when>(what)) e.where = read_expr(*w->children.at(0));
    } else if (what.is_type<g::entry_at>()) {
      e.kind = EntryKind::At;
      e.at = read_date_time(*find<g::broadcast_time>(what));
      e.local = find<g::broadcast_local>(what) != nullptr;
      if (const Node* w = find<g::every_when>(what)) e.where = read_expr(*w->children.at(0));
    } else {
      e.kind = EntryKind::Every;
      const std::string_view day = text_of(*find<g::every_day>(what));
      static constexpr std::string_view kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                                   "thursday", "friday", "saturday"};
      e.weekday = -1;
      for (int i = 0; i < 7; ++i) {
        if (day == kDays[i]) e.weekday = i;
      }
      e.time_of_day = read_time_of_day(*find<g::every_time>(what));
      if (const Node* w = find<g::every_when>(what)) e.where = read_expr(*w->children.at(0));
    }
    return e;
  }

  ExitRule read_exit(const Node& n) {
    ExitRule x;
    x.span = span_of(n);
    const Node& what = *n.children.at(0);
    if (what.is_type<g::exit_on>()) {
      x.kind = ExitKind::On;
      x.event = read_event(*find<g::event_name>(what));
      if (const Node* w = find<g::where_clause<g::sp>>(what))
        x.where = read_expr(*w->children.at(0));
    } else {
      x.kind = ExitKind::When;
      x.condition = read_expr(*what.children.at(0));
    }
    return x;
  }

  Goal read_goal(const Node& n) {
    Goal goal;
    goal.span = span_of(n);
    const Node& name = *find<g::goal_name>(n);
    goal.name = name.string();
    goal.name_span = span_of(name);
    goal.event = read_event(*find<g::event_name>(n));
    if (const Node* w = find<g::where_clause<g::sp>>(n)) goal.where = read_expr(*w->children.at(0));
    goal.within = read_duration(*find<g::duration>(n));
    return goal;
  }

  // -- steps ----------------------------------------------------------------------------------

  Block read_block(const Node& n) {
    Block block;
    for (const auto& c : n.children) {
      if (c->is_type<g::step>()) block.push_back(read_step(*c));
    }
    return block;
  }

  std::vector<Field> read_object(const Node& n) {
    std::vector<Field> fields;
    for (const auto& c : n.children) {
      if (!c->is_type<g::field>()) continue;
      Field f;
      const Node& key = *find<g::field_key>(*c);
      const std::string_view k = text_of(key);
      f.key = !k.empty() && k.front() == '"' ? unescape(k) : std::string(k);
      f.key_span = span_of(key);
      f.value = read_expr(*find<g::field_value>(*c));
      fields.push_back(std::move(f));
    }
    return fields;
  }

  Step read_step(const Node& n) {
    Step s;
    s.span = span_of(n);
    const Node* body = nullptr;
    for (const auto& c : n.children) {
      if (c->is_type<g::label_name>()) {
        s.label = c->string();
        s.label_span = span_of(*c);
      } else {
        body = c.get();
      }
    }
    const Node& b = *body;
    if (b.is_type<g::send_step>()) {
      s.kind = StepKind::Send;
      const Node& ch = *find<g::channel>(b);
      s.channel = ch.string();
      s.channel_span = span_of(ch);
      const Node& tpl = *find<g::template_name>(b);
      s.template_name = unescape(text_of(tpl));
      s.text_span = span_of(tpl);
      if (const Node* o = find<g::object>(b)) s.with = read_object(*o);
      for (const auto& c : b.children) {
        const bool topic = c->is_type<g::send_topic>();
        if (!topic && !c->is_type<g::send_transactional>()) continue;
        if (topic ? !s.topic.empty() : s.transactional) {
          error("E117", span_of(*c),
                std::string("`") + (topic ? "topic" : "transactional") +
                    "` is given twice in this send");
          continue;
        }
        if (topic) {
          const Node& name = *find<g::topic_name>(*c);
          s.topic = name.string();
          s.topic_span = span_of(name);
        } else {
          s.transactional = true;
        }
      }
    } else if (b.is_type<g::wait_for>()) {
      s.kind = StepKind::Wait;
      s.seconds = read_duration(*b.children.at(0));
    } else if (b.is_type<g::wait_until>()) {
      if (const Node* v = find<g::until_value>(b)) {
        s.kind = StepKind::WaitUntilDate;
        s.value = read_expr(*v->children.at(0));
        if (const Node* o = find<g::offset_value>(*v)) s.offset = read_offset(*o);
      } else {
        s.kind = StepKind::WaitUntil;
        s.seconds = read_time_of_day(*find<g::until_time>(b));
        if (const Node* d = find<g::until_days>(b)) s.weekdays = read_days(*d);
      }
    } else if (b.is_type<g::wait_up_to>()) {
      s.kind = StepKind::WaitUpTo;
      for (const auto& c : b.children) {
        if (c->is_type<g::duration>()) {
          s.seconds = read_duration(*c);
        } else if (c->is_type<g::on_branch>()) {
          WaitBranch w;
          w.span = span_of(*c);
          w.event = read_event(*find<g::event_name>(*c));
          if (const Node* wh = find<g::where_clause<g::sp>>(*c))
            w.where = read_expr(*wh->children.at(0));
          w.body = read_block(*find<g::wait_branch_block>(*c));
          s.branches.push_back(std::move(w));
        } else if (c->is_type<g::timeout_branch>()) {
          s.has_timeout = true;
          s.timeout = read_block(*find<g::wait_branch_block>(*c));
        }
      }
    } else if (b.is_type<g::if_step>()) {
      s.kind = StepKind::If;
      IfArm first;
      const Node* cond = find<g::if_condition>(b);
      const Node* blk = find<g::if_block>(b);
      first.condition = read_expr(*cond);
      first.body = read_block(*blk);
      first.span = Span{span_of(b).begin, span_of(*blk).end};
      s.arms.push_back(std::move(first));
      for (const auto& c : b.children) {
        if (c->is_type<g::else_if_arm>()) {
          IfArm arm;
          arm.condition = read_expr(*find<g::if_condition>(*c));
          arm.body = read_block(*find<g::if_block>(*c));
          arm.span = trimmed_span(*c);
          s.arms.push_back(std::move(arm));
        } else if (c->is_type<g::else_arm>()) {
          s.has_else = true;
          s.else_body = read_block(*find<g::if_block>(*c));
        }
      }
    } else if (b.is_type<g::split_step>()) {
      s.kind = StepKind::Split;
      for (const auto& c : b.children) {
        if (!c->is_type<g::split_arm>()) continue;
        SplitArm arm;
        arm.span = span_of(*c);
        const Node& pct = *find<g::percent>(*c);
        const std::string_view pt = text_of(pct);
        arm.percent = read_number(pt.substr(0, pt.size() - 1));
        const Node& name = *find<g::variant_name>(*c);
        arm.name = name.string();
        arm.name_span = span_of(name);
        arm.body = read_block(*find<g::split_block>(*c));
        s.variants.push_back(std::move(arm));
      }
    } else if (b.is_type<g::set_step>()) {
      s.kind = StepKind::Set;
      const Node& target = *find<g::set_target>(b);
      for (const auto& seg : target.children) s.path.push_back(seg->string());
      s.text_span = span_of(target);
      s.value = read_expr(*find<g::set_value>(b));
    } else if (b.is_type<g::tag_step>() || b.is_type<g::untag_step>()) {
      s.kind = b.is_type<g::tag_step>() ? StepKind::Tag : StepKind::Untag;
      const Node& tag = *find<g::tag_name>(b);
      s.text = unescape(text_of(tag));
      s.text_span = span_of(tag);
    } else if (b.is_type<g::emit_step>()) {
      s.kind = StepKind::Emit;
      s.event = read_event(*find<g::event_name>(b));
      if (const Node* o = find<g::object>(b)) s.with = read_object(*o);
    } else if (b.is_type<g::goto_step>()) {
      s.kind = StepKind::Goto;
      const Node& ref = *find<g::label_ref>(b);
      s.text = ref.string();
      s.text_span = span_of(ref);
    } else if (b.is_type<g::exit_step>()) {
      s.kind = StepKind::Exit;
      if (const Node* r = find<g::exit_reason>(b)) {
        s.has_reason = true;
        s.text = unescape(text_of(*r));
        s.text_span = span_of(*r);
      }
    }
    return s;
  }

  /// The span of a node without the white space it starts with (`else` arms match it first).
  Span trimmed_span(const Node& n) {
    Span span = span_of(n);
    const std::string& text = state_.file->text();
    while (span.begin < span.end) {
      const char c = text[span.begin];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++span.begin;
      } else if (c == '#') {
        while (span.begin < span.end && text[span.begin] != '\n') ++span.begin;
      } else {
        break;
      }
    }
    return span;
  }

  // -- expressions ----------------------------------------------------------------------------

  template <template <typename> class R>
  static bool is_either(const Node& n) {
    return n.is_type<R<g::sp>>() || n.is_type<R<g::ws>>();
  }

  static Expr binary(BinaryOp op, Expr lhs, Expr rhs) {
    Expr e;
    e.kind = ExprKind::Binary;
    e.op = op;
    e.span = Span{lhs.span.begin, rhs.span.end};
    e.operands.push_back(std::move(lhs));
    e.operands.push_back(std::move(rhs));
    return e;
  }

  static std::vector<std::string> read_path(const Node& n) {
    std::vector<std::string> path;
    for (const auto& c : n.children) {
      if (c->is_type<g::path_segment>()) path.push_back(c->string());
    }
    return path;
  }

  /// Reads the aggregate tail: `where` and `within`.
  void read_aggregate_tail(const Node& n, Expr& e) {
    if (const Node* w = find<g::agg_where>(n)) e.where.push_back(read_expr(*w->children.at(0)));
    if (const Node* w = find<g::agg_within>(n)) e.within = read_duration(*w->children.at(0));
  }

  Expr read_expr(const Node& n) {
    Expr e;
    e.span = span_of(n);
    if (is_or_level(n) || is_either<g::and_expr>(n)) {
      const BinaryOp op = is_or_level(n) ? BinaryOp::Or : BinaryOp::And;
      Expr acc = read_expr(*n.children.at(0));
      for (std::size_t i = 1; i < n.children.size(); ++i)
        acc = binary(op, std::move(acc), read_expr(*n.children[i]));
      return acc;
    }
    if (is_either<g::not_expr>(n)) return read_expr(*n.children.at(0));
    if (is_either<g::negation>(n) || is_either<g::negate>(n)) {
      e.kind = is_either<g::negation>(n) ? ExprKind::Not : ExprKind::Negate;
      e.operands.push_back(read_expr(*n.children.at(0)));
      return e;
    }
    if (is_either<g::comparison>(n) || is_either<g::add_expr>(n) || is_either<g::mul_expr>(n)) {
      Expr acc = read_expr(*n.children.at(0));
      for (std::size_t i = 1; i + 1 < n.children.size(); i += 2) {
        acc = binary(read_op(*n.children[i]), std::move(acc), read_expr(*n.children[i + 1]));
      }
      return acc;
    }
    if (is_either<g::is_segment>(n)) {
      e.kind = ExprKind::IsSegment;
      e.boolean = find<g::is_not>(n) != nullptr;
      const Node& ref = *find<g::segment_ref>(n);
      e.text = ref.string();
      e.name_span = span_of(ref);
      return e;
    }
    if (n.is_type<g::paren_expr>()) {
      // Parentheses only group; the span is the inner expression's.
      return read_expr(*n.children.at(0));
    }
    if (n.is_type<g::list_lit>()) {
      e.kind = ExprKind::List;
      for (const auto& c : n.children) e.operands.push_back(read_expr(*c));
      return e;
    }
    if (n.is_type<g::customer_path>() || n.is_type<g::event_path>() ||
        n.is_type<g::trigger_path>()) {
      e.kind = n.is_type<g::customer_path>() ? ExprKind::Customer
               : n.is_type<g::event_path>()  ? ExprKind::Event
                                             : ExprKind::Trigger;
      e.path = read_path(n);
      return e;
    }
    if (n.is_type<g::lit_now>()) {
      e.kind = ExprKind::Now;
      return e;
    }
    if (n.is_type<g::lit_true>() || n.is_type<g::lit_false>()) {
      e.kind = ExprKind::Bool;
      e.boolean = n.is_type<g::lit_true>();
      return e;
    }
    if (n.is_type<g::lit_none>()) {
      e.kind = ExprKind::None;
      return e;
    }
    if (n.is_type<g::duration>()) {
      e.kind = ExprKind::Duration;
      e.seconds = read_duration(n);
      return e;
    }
    if (n.is_type<g::number>()) {
      e.kind = ExprKind::Number;
      e.number = read_number(text_of(n));
      return e;
    }
    if (n.is_type<g::string_lit>()) {
      e.kind = ExprKind::String;
      e.text = unescape(text_of(n));
      return e;
    }
    if (n.is_type<g::count_call>()) {
      e.kind = ExprKind::Count;
      const EventRef ev = read_event(*find<g::event_name>(n));
      e.text = ev.name;
      e.name_span = ev.span;
      read_aggregate_tail(n, e);
      return e;
    }
    if (n.is_type<g::aggregate_call>()) {
      const std::string_view name = text_of(*find<g::agg_name>(n));
      e.kind = name == "sum"   ? ExprKind::Sum
               : name == "avg" ? ExprKind::Avg
               : name == "min" ? ExprKind::Min
                               : ExprKind::Max;
      const Node& prop = *find<g::event_property>(n);
      const EventRef ev = read_event(*find<g::event_name>(prop));
      e.text = ev.name;
      e.name_span = ev.span;
      e.path = read_path(prop);
      read_aggregate_tail(n, e);
      return e;
    }
    if (n.is_type<g::since_call>()) {
      if (const Node* ev = find<g::since_event>(n)) {
        e.kind = ExprKind::SinceEvent;
        const EventRef ref = read_event(*find<g::plain_event_name>(*ev));
        e.text = ref.name;
        e.name_span = ref.span;
      } else {
        e.kind = ExprKind::SinceValue;
        e.operands.push_back(read_expr(*find<g::since_value>(n)));
      }
      return e;
    }
    if (n.is_type<g::last_call>()) {
      e.kind = ExprKind::Last;
      const EventRef ev = read_event(*find<g::event_name>(n));
      e.text = ev.name;
      e.name_span = ev.span;
      e.path = read_path(n);
      return e;
    }
    if (n.is_type<g::has_call>()) {
      e.kind = ExprKind::Has;
      e.operands.push_back(read_expr(*n.children.at(0)));
      return e;
    }
    if (n.is_type<g::p_alive_call>()) {
      e.kind = ExprKind::PAlive;
      return e;
    }
    if (n.is_type<g::in_holdout_call>()) {
      e.kind = ExprKind::InHoldout;
      return e;
    }
    if (n.is_type<g::is_holiday_call>()) {
      e.kind = ExprKind::IsHoliday;
      e.operands.push_back(read_expr(*n.children.at(0)));
      return e;
    }
    if (n.is_type<g::horizon_call>()) {
      e.kind = text_of(*find<g::horizon_name>(n)) == "expected_orders" ? ExprKind::ExpectedOrders
                                                                       : ExprKind::PredictedValue;
      e.seconds = read_duration(*find<g::duration>(n));
      return e;
    }
    return e;
  }

  /// The nodes of a whole expression: their children are the operands of `or`.
  static bool is_or_level(const Node& n) {
    return is_either<g::expr>(n) || n.is_type<g::if_condition>() || n.is_type<g::set_value>() ||
           n.is_type<g::segment_condition>() || n.is_type<g::field_value>() ||
           n.is_type<g::list_item>() || n.is_type<g::since_value>();
  }

  static BinaryOp read_op(const Node& n) {
    const std::string_view t = text_of(n);
    if (t == "==") return BinaryOp::Eq;
    if (t == "!=") return BinaryOp::Ne;
    if (t == "<") return BinaryOp::Lt;
    if (t == "<=") return BinaryOp::Le;
    if (t == ">") return BinaryOp::Gt;
    if (t == ">=") return BinaryOp::Ge;
    if (t == "in") return BinaryOp::In;
    if (t == "+") return BinaryOp::Add;
    if (t == "-") return BinaryOp::Sub;
    if (t == "*") return BinaryOp::Mul;
    return BinaryOp::Div;
  }
};

/// Every `#` comment outside strings, in source order.
std::vector<Comment> scan_comments(const std::string& text) {
  std::vector<Comment> comments;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == '"') {
      ++i;
      while (i < n && text[i] != '"' && text[i] != '\n')
        i += (text[i] == '\\' && i + 1 < n && text[i + 1] != '\n') ? 2 : 1;
      if (i < n && text[i] == '"') ++i;
    } else if (c == '#') {
      std::size_t end = i;
      while (end < n && text[end] != '\n' && text[end] != '\r') ++end;
      comments.push_back(Comment{text.substr(i, end - i), Span{static_cast<std::uint32_t>(i),
                                                               static_cast<std::uint32_t>(end)}});
      i = end;
    } else {
      ++i;
    }
  }
  return comments;
}

}  // namespace

ParseResult parse(const SourceFile& file) {
  ParseResult result;
  ParseState state;
  state.file = &file;
  const std::string& text = file.text();
  pegtl::memory_input<> in(text.data(), text.data() + text.size(), file.path());
  try {
    auto root =
        pegtl::parse_tree::parse<g::file, Node, Selector, pegtl::nothing, Control>(in, state);
    if (root) {
      TreeReader reader(state);
      result.module = reader.read_file(*root);
    }
  } catch (const pegtl::parse_error& e) {
    // The grammar catches its own errors per declaration; this is a last resort.
    const auto at =
        static_cast<std::uint32_t>(e.positions().empty() ? 0 : e.positions().front().byte);
    state.add(Diagnostic{
        Severity::Error, "E001", {}, Span{at, at}, std::string(e.message()), {}, {}, {}});
  }
  result.module.comments = scan_comments(text);
  std::stable_sort(
      state.diagnostics.begin(), state.diagnostics.end(),
      [](const Diagnostic& a, const Diagnostic& b) { return a.span.begin < b.span.begin; });
  if (state.diagnostics.size() > kMaxDiagnosticsPerFile)
    state.diagnostics.resize(kMaxDiagnosticsPerFile);
  result.diagnostics = std::move(state.diagnostics);
  return result;
}

namespace {

/// The words of the keyword rules listed in a `sor<>`.
template <typename... Rules>
std::vector<std::string> words_of(const pegtl::sor<Rules...>* /*rule*/) {
  return {std::string(keyword_word(static_cast<const Rules*>(nullptr)))...};
}

/// The contextual words, as the grammar spells them.
using ContextualWords = pegtl::sor<g::w_where, g::w_count, g::w_sum, g::w_avg, g::w_min, g::w_max,
                                   g::w_since, g::w_last, g::w_has, g::w_day>;

}  // namespace

Expected expected_at(const SourceFile& file, std::uint32_t offset) {
  const std::string& text = file.text();
  offset = std::min<std::uint32_t>(offset, static_cast<std::uint32_t>(text.size()));
  std::uint32_t word = offset;
  while (word > 0 && is_word_char(text[word - 1])) --word;
  // The text before the word and one character that no rule accepts, so that every rule that
  // may start at the place is tried there (and fails), instead of stopping at the end of input.
  std::string before = text.substr(0, word);
  before += '\x01';
  const SourceFile probe_file(file.path(), std::move(before));
  const std::string& probe_text = probe_file.text();
  Probe probe(probe_text.data() + word);
  ParseState state;
  state.file = &probe_file;
  state.probe = &probe;
  pegtl::memory_input<> in(probe_text.data(), probe_text.data() + probe_text.size(), file.path());
  try {
    (void)pegtl::parse<g::file, pegtl::nothing, Control>(in, state);
  } catch (const pegtl::parse_error&) {
    // What was tried before the error is what counts.
  }
  Expected found = probe.take();
  found.word = Span{word, offset};
  return found;
}

const std::vector<std::string>& reserved_words() {
  static const std::vector<std::string> words = words_of(static_cast<const g::keyword*>(nullptr));
  return words;
}

const std::vector<std::string>& contextual_words() {
  static const std::vector<std::string> words = [] {
    auto all = words_of(static_cast<const ContextualWords*>(nullptr));
    for (auto& day : words_of(static_cast<const g::w_weekday*>(nullptr))) all.push_back(day);
    return all;
  }();
  return words;
}

bool is_keyword(std::string_view word) {
  pegtl::memory_input<> in(word.data(), word.size(), "");
  return pegtl::parse<pegtl::seq<g::keyword, pegtl::eof>>(in);
}

bool is_name(std::string_view word) {
  pegtl::memory_input<> in(word.data(), word.size(), "");
  return pegtl::parse<pegtl::seq<pegtl::identifier, pegtl::eof>>(in) && !is_keyword(word);
}

}  // namespace journey::dsl

// The journey language grammar (spec section 2-5) as PEGTL rules. Only grammar: the actions
// that build the AST, the error messages of each `must<>` point and the error recovery policy
// live in parser.cpp.
//
// Statements end at a newline or `;`. Inside ( ), [ ] and the { } of a `with` object newlines
// are plain white space, so expressions are written once, templated on their white space rule:
// `sp` (blanks and a trailing comment, inside a statement) or `ws` (any white space).
#pragma once

#include <tao/pegtl.hpp>
#include <tao/pegtl/contrib/analyze_traits.hpp>

namespace journey::dsl::grammar {

using namespace tao::pegtl;  // NOLINT(google-build-using-namespace): rule names read as grammar

// Rules are lower_case structs, as PEGTL's own rules are (`seq`, `one`, `star`), so that a rule
// reads as grammar; the house naming check (CamelCase structs) does not apply to them.
// NOLINTBEGIN(readability-identifier-naming)

// ---------------------------------------------------------------------------------------------
// White space and comments

struct comment : seq<one<'#'>, star<not_one<'\r', '\n'>>> {};
struct blank_char : one<' ', '\t', '\r'> {};
/// Inside a statement: blanks and a comment that ends the line.
struct sp : star<sor<blank_char, comment>> {};
/// Inside brackets: any white space and comments.
struct ws : star<sor<blank_char, one<'\n'>, comment>> {};
/// Between statements: white space, comments and `;`.
struct seps : star<sor<blank_char, one<'\n', ';'>, comment>> {};
/// The end of a statement: `;`, a newline, the end of the file or (not consumed) a `}`.
struct stmt_end : sor<one<';'>, one<'\n'>, eof, at<one<'}'>>> {};

// ---------------------------------------------------------------------------------------------
// Keywords (spec section 2) and words with a fixed meaning in one place

struct k_journey : TAO_PEGTL_KEYWORD("journey") {};
struct k_segment : TAO_PEGTL_KEYWORD("segment") {};
struct k_title : TAO_PEGTL_KEYWORD("title") {};
struct k_entry : TAO_PEGTL_KEYWORD("entry") {};
struct k_on : TAO_PEGTL_KEYWORD("on") {};
struct k_when : TAO_PEGTL_KEYWORD("when") {};
struct k_every : TAO_PEGTL_KEYWORD("every") {};
struct k_at : TAO_PEGTL_KEYWORD("at") {};
struct k_reentry : TAO_PEGTL_KEYWORD("reentry") {};
struct k_never : TAO_PEGTL_KEYWORD("never") {};
struct k_always : TAO_PEGTL_KEYWORD("always") {};
struct k_after : TAO_PEGTL_KEYWORD("after") {};
struct k_exit : TAO_PEGTL_KEYWORD("exit") {};
struct k_goal : TAO_PEGTL_KEYWORD("goal") {};
struct k_within : TAO_PEGTL_KEYWORD("within") {};
struct k_quiet : TAO_PEGTL_KEYWORD("quiet") {};
struct k_hours : TAO_PEGTL_KEYWORD("hours") {};
struct k_cap : TAO_PEGTL_KEYWORD("cap") {};
struct k_per : TAO_PEGTL_KEYWORD("per") {};
struct k_send : TAO_PEGTL_KEYWORD("send") {};
struct k_with : TAO_PEGTL_KEYWORD("with") {};
struct k_wait : TAO_PEGTL_KEYWORD("wait") {};
struct k_up : TAO_PEGTL_KEYWORD("up") {};
struct k_to : TAO_PEGTL_KEYWORD("to") {};
struct k_until : TAO_PEGTL_KEYWORD("until") {};
struct k_timeout : TAO_PEGTL_KEYWORD("timeout") {};
struct k_if : TAO_PEGTL_KEYWORD("if") {};
struct k_else : TAO_PEGTL_KEYWORD("else") {};
struct k_split : TAO_PEGTL_KEYWORD("split") {};
struct k_set : TAO_PEGTL_KEYWORD("set") {};
struct k_tag : TAO_PEGTL_KEYWORD("tag") {};
struct k_untag : TAO_PEGTL_KEYWORD("untag") {};
struct k_emit : TAO_PEGTL_KEYWORD("emit") {};
struct k_goto : TAO_PEGTL_KEYWORD("goto") {};
struct k_and : TAO_PEGTL_KEYWORD("and") {};
struct k_or : TAO_PEGTL_KEYWORD("or") {};
struct k_not : TAO_PEGTL_KEYWORD("not") {};
struct k_in : TAO_PEGTL_KEYWORD("in") {};
struct k_is : TAO_PEGTL_KEYWORD("is") {};
struct k_customer : TAO_PEGTL_KEYWORD("customer") {};
struct k_event : TAO_PEGTL_KEYWORD("event") {};
struct k_trigger : TAO_PEGTL_KEYWORD("trigger") {};
struct k_now : TAO_PEGTL_KEYWORD("now") {};
struct k_true : TAO_PEGTL_KEYWORD("true") {};
struct k_false : TAO_PEGTL_KEYWORD("false") {};
struct k_none : TAO_PEGTL_KEYWORD("none") {};

/// Any reserved word.
struct keyword : sor<k_journey, k_segment, k_title, k_entry, k_on, k_when, k_every, k_at, k_reentry,
                     k_never, k_always, k_after, k_exit, k_goal, k_within, k_quiet, k_hours, k_cap,
                     k_per, k_send, k_with, k_wait, k_up, k_to, k_until, k_timeout, k_if, k_else,
                     k_split, k_set, k_tag, k_untag, k_emit, k_goto, k_and, k_or, k_not, k_in, k_is,
                     k_customer, k_event, k_trigger, k_now, k_true, k_false, k_none> {};

// Not reserved: only meaningful where they appear.
struct w_where : TAO_PEGTL_KEYWORD("where") {};
struct w_count : TAO_PEGTL_KEYWORD("count") {};
struct w_sum : TAO_PEGTL_KEYWORD("sum") {};
struct w_avg : TAO_PEGTL_KEYWORD("avg") {};
struct w_min : TAO_PEGTL_KEYWORD("min") {};
struct w_max : TAO_PEGTL_KEYWORD("max") {};
struct w_since : TAO_PEGTL_KEYWORD("since") {};
struct w_last : TAO_PEGTL_KEYWORD("last") {};
struct w_has : TAO_PEGTL_KEYWORD("has") {};
struct w_p_alive : TAO_PEGTL_KEYWORD("p_alive") {};
struct w_expected_orders : TAO_PEGTL_KEYWORD("expected_orders") {};
struct w_predicted_value : TAO_PEGTL_KEYWORD("predicted_value") {};
struct w_day : TAO_PEGTL_KEYWORD("day") {};
struct w_update : TAO_PEGTL_KEYWORD("update") {};
struct w_migrate : TAO_PEGTL_KEYWORD("migrate") {};
struct w_keep : TAO_PEGTL_KEYWORD("keep") {};
struct w_year : TAO_PEGTL_KEYWORD("year") {};
struct w_date : TAO_PEGTL_KEYWORD("date") {};
struct w_offset : TAO_PEGTL_KEYWORD("offset") {};
struct w_local : TAO_PEGTL_KEYWORD("local") {};
struct w_window : TAO_PEGTL_KEYWORD("window") {};
struct w_except : TAO_PEGTL_KEYWORD("except") {};
struct w_holidays : TAO_PEGTL_KEYWORD("holidays") {};
struct w_is_holiday : TAO_PEGTL_KEYWORD("is_holiday") {};
struct w_in_holdout : TAO_PEGTL_KEYWORD("in_holdout") {};
struct w_topic : TAO_PEGTL_KEYWORD("topic") {};
struct w_transactional : TAO_PEGTL_KEYWORD("transactional") {};
struct w_priority : TAO_PEGTL_KEYWORD("priority") {};
struct w_weekday
    : sor<TAO_PEGTL_KEYWORD("sunday"), TAO_PEGTL_KEYWORD("monday"), TAO_PEGTL_KEYWORD("tuesday"),
          TAO_PEGTL_KEYWORD("wednesday"), TAO_PEGTL_KEYWORD("thursday"),
          TAO_PEGTL_KEYWORD("friday"), TAO_PEGTL_KEYWORD("saturday")> {};

// ---------------------------------------------------------------------------------------------
// Literals

struct escape_code : sor<one<'"', '\\', 'n', 't'>, seq<one<'u'>, rep<4, xdigit>>> {};
struct escape : seq<one<'\\'>, must<escape_code>> {};
struct string_char : sor<escape, not_one<'\r', '\n', '\\'>> {};
struct string_body : until<one<'"'>, string_char> {};
/// A double-quoted string on one line.
struct string_lit : seq<one<'"'>, must<string_body>> {};

struct digits : plus<digit> {};
/// An unsigned integer or decimal; a leading `-` is the unary minus.
struct number : seq<digits, opt<one<'.'>, digits>, not_at<identifier_other>> {};
struct duration_part : seq<digits, one<'s', 'm', 'h', 'd', 'w'>> {};
/// `30m`, `3d`, `1d12h`.
struct duration : seq<plus<duration_part>, not_at<identifier_other>> {};
/// Digits followed by letters that make neither a number nor a duration (`3x`, `30days`).
struct bad_literal : seq<digits, opt<one<'.'>, digits>, plus<identifier_other>> {};
/// `HH:MM`; the range is checked when building the AST.
struct time_of_day : seq<digit, digit, one<':'>, digit, digit, not_at<identifier_other>> {};
struct integer : seq<digits, not_at<identifier_other>> {};
struct percent_sign : one<'%'> {};
/// `45%`, `12.5%`.
struct percent : seq<digits, opt<one<'.'>, digits>, must<percent_sign>> {};

/// A keyword where a name was expected (E006).
struct keyword_as_name : success {};

/// A name that is not a keyword. A keyword here is an E006 error, not a mismatch.
struct name : sor<seq<at<keyword>, raise<keyword_as_name>>, identifier> {};
struct journey_name : name {};
struct segment_name : name {};
/// A label where a step may start: a keyword there is the start of a step, not an error.
struct label_name : seq<not_at<keyword>, identifier> {};
struct goal_name : name {};
struct variant_name : name {};
struct label_ref : name {};
struct segment_ref : name {};
struct channel : name {};
/// An event name: a non-keyword identifier or a string.
struct event_name : sor<string_lit, name> {};
/// An event name that does not raise on a keyword (`since(X)` tries it before an expression).
struct plain_event_name : sor<string_lit, seq<not_at<keyword>, identifier>> {};

/// Digits with a bad unit where a duration is needed (E005).
struct invalid_duration : success {};
/// A duration in a place that needs one; each place has its own rule for its error message.
struct duration_in : sor<duration, seq<at<bad_literal>, raise<invalid_duration>>> {};
struct wait_duration : duration_in {};
struct up_to_duration : duration_in {};
struct within_duration : duration_in {};
struct reentry_duration : duration_in {};
struct cap_duration : duration_in {};
struct horizon_duration : duration_in {};
struct offset_duration : duration_in {};

// ---------------------------------------------------------------------------------------------
// Expressions (spec section 5), loosest first

template <typename S>
struct expr;

struct path_segment : identifier {};
/// `.a.b` after `customer`, `event`, `trigger` or `last(EVENT)`.
struct path_tail : plus<one<'.'>, must<path_segment>> {};
struct customer_path : seq<k_customer, must<path_tail>> {};
struct event_path : seq<k_event, must<path_tail>> {};
struct trigger_path : seq<k_trigger, must<path_tail>> {};

struct lit_now : k_now {};
struct lit_true : k_true {};
struct lit_false : k_false {};
struct lit_none : k_none {};

struct open_paren : one<'('> {};
struct close_paren : one<')'> {};
struct close_bracket : one<']'> {};

/// `where EXPR` filter of an entry, exit, goal, wait branch or aggregate.
template <typename S>
struct where_clause : seq<w_where, S, must<expr<S>>> {};
struct agg_where : where_clause<ws> {};
struct agg_within : seq<k_within, ws, must<within_duration>> {};
struct agg_tail : seq<opt<ws, agg_where>, opt<ws, agg_within>, ws, must<close_paren>> {};

struct count_call : seq<w_count, sp, open_paren, ws, must<event_name>, agg_tail> {};
struct agg_name : sor<w_sum, w_avg, w_min, w_max> {};
/// `EVENT.PROP` inside sum/avg/min/max.
struct event_property : seq<event_name, must<path_tail>> {};
struct aggregate_call : seq<agg_name, sp, open_paren, ws, must<event_property>, agg_tail> {};
struct since_event : seq<plain_event_name, ws, at<close_paren>> {};
struct since_value : seq<expr<ws>> {};
struct since_arg : sor<since_event, since_value> {};
struct since_call : seq<w_since, sp, open_paren, ws, must<since_arg>, ws, must<close_paren>> {};
struct last_call
    : seq<w_last, sp, open_paren, ws, must<event_name>, ws, must<close_paren>, must<path_tail>> {};
struct has_path : sor<customer_path, event_path, trigger_path> {};
struct has_call : seq<w_has, sp, open_paren, ws, must<has_path>, ws, must<close_paren>> {};
/// The predictive functions of the purchase model: `p_alive()`, `expected_orders(DURATION)`,
/// `predicted_value(DURATION)`.
struct p_alive_call : seq<w_p_alive, sp, open_paren, ws, must<close_paren>> {};
struct horizon_name : sor<w_expected_orders, w_predicted_value> {};
struct horizon_call
    : seq<horizon_name, sp, open_paren, ws, must<horizon_duration>, ws, must<close_paren>> {};

/// `is_holiday(EXPR)`: whether a timestamp falls on a holiday of the calendar.
struct is_holiday_call
    : seq<w_is_holiday, sp, open_paren, ws, must<expr<ws>>, ws, must<close_paren>> {};
/// `in_holdout()`: whether the customer is in the program's global holdout.
struct in_holdout_call : seq<w_in_holdout, sp, open_paren, ws, must<close_paren>> {};
struct paren_expr : seq<open_paren, ws, must<expr<ws>>, ws, must<close_paren>> {};
struct list_item : seq<expr<ws>> {};
struct list_lit : seq<one<'['>, ws,
                      opt<list_item, star<ws, one<','>, ws, not_at<one<']'>>, must<list_item>>,
                          opt<ws, one<','>>>,
                      ws, must<close_bracket>> {};

/// A literal starting with a digit that is neither a number nor a duration.
struct invalid_literal : success {};
/// A word that does not start any expression (reported with a suggestion).
struct primary_expected : success {};

struct primary
    : sor<paren_expr, list_lit, customer_path, event_path, trigger_path, lit_now, lit_true,
          lit_false, lit_none, count_call, aggregate_call, since_call, last_call, has_call,
          p_alive_call, horizon_call, is_holiday_call, in_holdout_call, duration, number,
          string_lit, seq<at<bad_literal>, raise<invalid_literal>>> {};

template <typename S>
struct unary;
/// Unary minus.
template <typename S>
struct negate : seq<one<'-'>, S, must<unary<S>>> {};
template <typename S>
struct unary : sor<negate<S>, primary> {};

struct mul_op : one<'*', '/'> {};
template <typename S>
struct mul_expr : seq<unary<S>, star<S, mul_op, ws, must<unary<S>>>> {};
struct add_op : one<'+', '-'> {};
template <typename S>
struct add_expr : seq<mul_expr<S>, star<S, add_op, ws, must<mul_expr<S>>>> {};

struct cmp_op : sor<TAO_PEGTL_STRING("=="), TAO_PEGTL_STRING("!="), TAO_PEGTL_STRING("<="),
                    TAO_PEGTL_STRING(">="), one<'<'>, one<'>'>, k_in> {};
/// A second comparison operator after a comparison (`a < b < c`).
struct chained_comparison : success {};
struct is_not : k_not {};
/// `customer is SEGMENT` / `customer is not SEGMENT`.
template <typename S>
struct is_segment : seq<k_customer, S, k_is, S, opt<is_not, S>, must<segment_ref>> {};
template <typename S>
struct comparison
    : sor<is_segment<S>, seq<add_expr<S>, opt<S, cmp_op, ws, must<add_expr<S>>,
                                              opt<S, at<cmp_op>, raise<chained_comparison>>>>> {};

template <typename S>
struct not_expr;
/// `not EXPR`.
template <typename S>
struct negation : seq<k_not, S, must<not_expr<S>>> {};
template <typename S>
struct not_expr : sor<negation<S>, comparison<S>> {};
template <typename S>
struct and_expr : seq<not_expr<S>, star<S, k_and, ws, must<not_expr<S>>>> {};
template <typename S>
struct or_expr : seq<and_expr<S>, star<S, k_or, ws, must<and_expr<S>>>> {};
/// An expression; newlines end it unless S is `ws` (or it is inside brackets).
template <typename S>
struct expr : or_expr<S> {};

// ---------------------------------------------------------------------------------------------
// Objects: `with { key: EXPR, ... }` (commas or newlines between fields)

struct field_key : sor<identifier, string_lit> {};
struct field_colon : one<':'> {};
struct field_value : expr<ws> {};
struct field : seq<field_key, ws, must<field_colon>, ws, must<field_value>> {};
struct field_sep : sor<seq<ws, one<','>>, seq<sp, one<'\n'>>> {};
struct close_object : one<'}'> {};
struct object : seq<one<'{'>, ws, opt<field, star<field_sep, ws, not_at<one<'}'>>, must<field>>>,
                    opt<ws, one<','>>, ws, must<close_object>> {};
struct with_object : seq<k_with, sp, must<object>> {};

// ---------------------------------------------------------------------------------------------
// Error recovery: skip the rest of a statement or declaration

/// Skips at least one character, up to (not including) the next newline, `;` or `}` outside
/// braces; balanced `{ ... }` and strings are skipped whole. Fails only at the end of the input.
struct skip_statement {
  using rule_t = skip_statement;
  using subs_t = empty_list;
  template <typename ParseInput>
  static bool match(ParseInput& in) {
    return skip(in, false);
  }
  template <typename ParseInput>
  static bool skip(ParseInput& in, bool whole_lines) {
    const char* p = in.current();
    const char* end = in.end();
    if (p == end) return false;
    std::size_t depth = 0;
    const char* q = p;
    while (q != end) {
      const char c = *q;
      if (depth == 0 && q != p && (c == '\n' || (!whole_lines && (c == ';' || c == '}')))) break;
      if (c == '"') {
        ++q;
        while (q != end && *q != '"' && *q != '\n')
          q += (*q == '\\' && q + 1 != end && q[1] != '\n') ? 2 : 1;
        if (q != end && *q == '"') ++q;
        continue;
      }
      if (c == '#') {
        while (q != end && *q != '\n') ++q;
        continue;
      }
      if (c == '{') ++depth;
      if (c == '}' && depth > 0) --depth;
      ++q;
    }
    in.bump(static_cast<std::size_t>(q - p));
    return true;
  }
};
/// Like skip_statement, but only a newline outside braces ends it.
struct skip_declaration {
  using rule_t = skip_declaration;
  using subs_t = empty_list;
  template <typename ParseInput>
  static bool match(ParseInput& in) {
    return skip_statement::skip(in, true);
  }
};

// ---------------------------------------------------------------------------------------------
// Calendar pieces: weekday sets, offsets, date-times

/// A weekday, in full or in three letters.
struct day_word : sor<w_weekday, TAO_PEGTL_KEYWORD("sun"), TAO_PEGTL_KEYWORD("mon"),
                      TAO_PEGTL_KEYWORD("tue"), TAO_PEGTL_KEYWORD("wed"), TAO_PEGTL_KEYWORD("thu"),
                      TAO_PEGTL_KEYWORD("fri"), TAO_PEGTL_KEYWORD("sat")> {};
struct day_range_end : day_word {};
/// `mon`, `monday` or a range `mon-fri`.
struct day_range : seq<day_word, opt<one<'-'>, must<day_range_end>>> {};
/// A named group of weekdays.
struct day_group
    : sor<TAO_PEGTL_KEYWORD("weekdays"), TAO_PEGTL_KEYWORD("weekday"),
          TAO_PEGTL_KEYWORD("weekends"), TAO_PEGTL_KEYWORD("weekend"), TAO_PEGTL_KEYWORD("daily")> {
};
/// A set of weekdays: `weekdays`, `weekend`, `daily`, `monday`, `mon-fri`, `mon,wed,fri`.
struct day_set : sor<day_group, seq<day_range, star<one<','>, must<day_range>>>> {};
/// `+7d`, `-7d`, `7d`.
struct offset_value : seq<opt<one<'+', '-'>>, must<offset_duration>> {};
struct offset_clause : seq<w_offset, sp, must<offset_value>> {};
/// `2026-12-24T10:00` (seconds optional: `10:00:30`), a local date and time; the range is checked
/// when building the AST.
struct date_time
    : seq<rep<4, digit>, one<'-'>, rep<2, digit>, one<'-'>, rep<2, digit>, one<'T'>, rep<2, digit>,
          one<':'>, rep<2, digit>, opt<one<':'>, rep<2, digit>>, not_at<identifier_other>> {};

// ---------------------------------------------------------------------------------------------
// Steps (spec section 4)

struct block;

struct template_name : string_lit {};
struct topic_name : name {};
/// `topic NAME`: the subscription topic the send needs.
struct send_topic : seq<w_topic, sp, must<topic_name>> {};
/// `transactional`: the send skips the marketing rules (caps, quiet hours, topics, holdout).
struct send_transactional : seq<w_transactional> {};
struct send_option : sor<send_topic, send_transactional> {};
/// `send CHANNEL "TEMPLATE" [topic NAME] [transactional] [with {...}]`, the options before or
/// after `with`.
struct send_step : seq<k_send, sp, must<channel>, sp, must<template_name>, star<sp, send_option>,
                       opt<sp, with_object>, star<sp, send_option>> {};

struct wait_branch_block : seq<block> {};
struct on_branch
    : seq<k_on, sp, must<event_name>, sp, opt<where_clause<sp>, sp>, must<wait_branch_block>> {};
struct timeout_branch : seq<k_timeout, sp, must<wait_branch_block>> {};
struct wait_branch : sor<on_branch, timeout_branch> {};
struct wait_branch_stmt : seq<must<wait_branch>, sp, must<stmt_end>> {};
struct close_wait : one<'}'> {};
struct wait_body : seq<one<'{'>, seps,
                       star<not_at<one<'}'>>, not_at<eof>,
                            sor<try_catch<wait_branch_stmt>, skip_statement>, seps>,
                       must<close_wait>> {};
struct wait_up_to : seq<k_up, sp, must<k_to>, sp, must<up_to_duration>, sp, must<wait_body>> {};
struct until_time : time_of_day {};
struct until_days : day_set {};
/// `wait until monday 09:00`, `wait until weekday 09:00`.
struct until_day_time : seq<until_days, sp, must<until_time>> {};
/// `wait until customer.renewal_at offset -7d`, `wait until EXPR`.
struct until_value : seq<expr<sp>, opt<sp, offset_clause>> {};
/// `9:00`: a time of day with one digit for the hour (E001, not an expression).
struct short_time_of_day : success {};
struct until_target : sor<until_day_time, until_time,
                          seq<at<digit, one<':'>, digit>, raise<short_time_of_day>>, until_value> {
};
struct wait_until : seq<k_until, sp, must<until_target>> {};
struct wait_for : wait_duration {};
struct wait_rest : sor<wait_up_to, wait_until, wait_for> {};
struct wait_step : seq<k_wait, sp, must<wait_rest>> {};

struct if_block : seq<block> {};
struct if_condition : expr<sp> {};
struct else_if_arm : seq<ws, k_else, sp, k_if, sp, must<if_condition>, sp, must<if_block>> {};
struct else_arm : seq<ws, k_else, sp, must<if_block>> {};
struct if_step
    : seq<k_if, sp, must<if_condition>, sp, must<if_block>, star<else_if_arm>, opt<else_arm>> {};

struct split_block : seq<block> {};
struct split_arm : seq<percent, sp, must<variant_name>, sp, must<split_block>> {};
struct split_arm_stmt : seq<must<split_arm>, sp, must<stmt_end>> {};
struct open_split : one<'{'> {};
struct close_split : one<'}'> {};
struct split_step
    : seq<k_split, sp, must<open_split>, seps,
          star<not_at<one<'}'>>, not_at<eof>, sor<try_catch<split_arm_stmt>, skip_statement>, seps>,
          must<close_split>> {};

struct set_target : customer_path {};
struct set_equals : one<'='> {};
struct set_value : expr<sp> {};
struct set_step : seq<k_set, sp, must<set_target>, sp, must<set_equals>, ws, must<set_value>> {};
struct tag_name : string_lit {};
struct tag_step : seq<k_tag, sp, must<tag_name>> {};
struct untag_step : seq<k_untag, sp, must<tag_name>> {};
struct emit_step : seq<k_emit, sp, must<event_name>, opt<sp, with_object>> {};
struct goto_step : seq<k_goto, sp, must<label_ref>> {};
struct exit_reason : string_lit {};
struct exit_step : seq<k_exit, opt<sp, exit_reason>> {};

struct step_body : sor<send_step, wait_step, if_step, split_step, set_step, tag_step, untag_step,
                       emit_step, goto_step, exit_step> {};
struct label : seq<label_name, sp, one<':'>> {};
/// `LABEL:` where LABEL is a keyword.
struct keyword_label : seq<keyword, sp, one<':'>> {};
struct step : seq<opt<label, sp>, step_body> {};

/// The start of a header clause, to report one that comes after a step (E007).
struct header_start
    : sor<k_title, k_entry, k_reentry, seq<k_exit, sp, sor<k_on, k_when>>, k_goal,
          seq<k_quiet, sp, k_hours>, seq<k_send, sp, w_window, sp, not_at<one<'"'>>>, k_cap,
          seq<k_on, sp, w_update>, seq<w_priority, sp, at<sor<digit, one<'-'>>>>,
          seq<w_transactional, sp, not_at<one<':'>>>> {};
struct late_header : success {};
struct statement : sor<seq<at<header_start>, raise<late_header>>,
                       seq<at<keyword_label>, raise<keyword_as_name>>, step> {};
struct statement_line : seq<must<statement>, sp, must<stmt_end>> {};
struct close_block : one<'}'> {};
/// `{ STEP* }`.
struct block
    : seq<one<'{'>, seps,
          star<not_at<one<'}'>>, not_at<eof>, sor<try_catch<statement_line>, skip_statement>, seps>,
          must<close_block>> {};

// ---------------------------------------------------------------------------------------------
// Header clauses (spec section 3)

struct title_text : string_lit {};
struct title_clause : seq<k_title, sp, must<title_text>> {};

struct entry_on : seq<k_on, sp, must<event_name>, opt<sp, where_clause<sp>>> {};
struct entry_when : seq<k_when, sp, must<expr<sp>>> {};
struct every_when : seq<k_when, sp, must<expr<sp>>> {};
struct every_day : sor<w_day, w_weekday> {};
struct every_at : k_at {};
struct every_time : time_of_day {};
struct entry_every : seq<k_every, sp, must<every_day>, sp, must<every_at>, sp, must<every_time>,
                         opt<sp, every_when>> {};
struct date_attribute : seq<customer_path> {};
struct date_time_of_day : time_of_day {};
struct date_at : seq<k_at, sp, must<date_time_of_day>> {};
/// `[at HH:MM] [offset D] [when EXPR]` after a date attribute.
struct date_options : seq<opt<sp, date_at>, opt<sp, offset_clause>, opt<sp, every_when>> {};
struct year_on : k_on {};
/// `entry every year on customer.PATH ...`.
struct entry_yearly
    : seq<k_every, sp, w_year, sp, must<year_on>, sp, must<date_attribute>, date_options> {};
/// `entry on date customer.PATH ...` (an event named `date` is still `entry on date`).
struct entry_on_date
    : seq<k_on, sp, w_date, sp, at<k_customer>, must<date_attribute>, date_options> {};
struct broadcast_time : date_time {};
struct broadcast_local : w_local {};
/// `entry at 2026-12-24T10:00 [local] [when EXPR]`.
struct entry_at
    : seq<k_at, sp, must<broadcast_time>, opt<sp, broadcast_local>, opt<sp, every_when>> {};
struct entry_rest : sor<entry_on_date, entry_on, entry_when, entry_yearly, entry_every, entry_at> {
};
struct entry_clause : seq<k_entry, sp, must<entry_rest>> {};

struct reentry_never : k_never {};
struct reentry_always : k_always {};
struct reentry_after : seq<k_after, sp, must<reentry_duration>> {};
struct reentry_rest : sor<reentry_never, reentry_always, reentry_after> {};
struct reentry_clause : seq<k_reentry, sp, must<reentry_rest>> {};

struct exit_on : seq<k_on, sp, must<event_name>, opt<sp, where_clause<sp>>> {};
struct exit_when : seq<k_when, sp, must<expr<sp>>> {};
struct exit_clause : seq<k_exit, sp, sor<exit_on, exit_when>> {};

struct goal_colon : one<':'> {};
struct goal_within : seq<k_within, sp, must<within_duration>> {};
struct goal_clause : seq<k_goal, sp, must<goal_name>, sp, must<goal_colon>, sp, must<event_name>,
                         sp, opt<where_clause<sp>, sp>, must<goal_within>> {};

struct quiet_start : time_of_day {};
struct quiet_dash : one<'-'> {};
struct quiet_end : time_of_day {};
struct quiet_clause : seq<k_quiet, sp, must<k_hours>, sp, must<quiet_start>, sp, must<quiet_dash>,
                          sp, must<quiet_end>> {};

struct window_days : day_set {};
struct window_start : time_of_day {};
struct window_dash : one<'-'> {};
struct window_end : time_of_day {};
struct except_what : w_holidays {};
struct window_except : seq<w_except, sp, must<except_what>> {};
/// `send window DAYS HH:MM-HH:MM [except holidays]`.
struct send_window_clause
    : seq<k_send, sp, w_window, sp, must<window_days>, sp, must<window_start>, sp,
          must<window_dash>, sp, must<window_end>, opt<sp, window_except>> {};
struct cap_count : integer {};
struct cap_clause : seq<k_cap, sp, must<cap_count>, sp, must<k_per>, sp, must<cap_duration>> {};

struct update_migrate : w_migrate {};
struct update_keep : w_keep {};
struct update_policy : sor<update_migrate, update_keep> {};
struct update_clause : seq<k_on, sp, w_update, sp, must<update_policy>> {};

struct priority_value : seq<opt<one<'-'>>, integer> {};
/// `priority N`.
struct priority_clause : seq<w_priority, sp, must<priority_value>> {};
/// `transactional`: a journey of transactional sends only.
struct transactional_clause : seq<w_transactional> {};

struct header_clause
    : sor<title_clause, entry_clause, reentry_clause, exit_clause, goal_clause, quiet_clause,
          send_window_clause, cap_clause, update_clause, priority_clause, transactional_clause> {};
struct header_line : seq<must<header_clause>, sp, must<stmt_end>> {};

// ---------------------------------------------------------------------------------------------
// Declarations and the file

struct open_journey : one<'{'> {};
/// A journey whose `}` is missing before the next declaration or the end of the file.
struct missing_close : at<sor<k_journey, k_segment, eof>> {};
struct close_journey : sor<one<'}'>, missing_close> {};
struct journey_decl : seq<k_journey, sp, must<journey_name>, sp, must<open_journey>, seps,
                          star<at<header_start>, sor<try_catch<header_line>, skip_statement>, seps>,
                          star<not_at<one<'}'>>, not_at<sor<k_journey, k_segment, eof>>,
                               sor<try_catch<statement_line>, skip_statement>, seps>,
                          must<close_journey>> {};

struct segment_equals : one<'='> {};
struct segment_condition : expr<sp> {};
struct segment_decl : seq<k_segment, sp, must<segment_name>, sp, must<segment_equals>, ws,
                          must<segment_condition>> {};

struct declaration : sor<journey_decl, segment_decl> {};
struct declaration_line : seq<must<declaration>, sp, must<stmt_end>> {};
/// A whole `.journey` file.
struct file
    : seq<seps, star<not_at<eof>, sor<try_catch<declaration_line>, skip_declaration>, seps>, eof> {
};

// NOLINTEND(readability-identifier-naming)

}  // namespace journey::dsl::grammar

namespace tao::pegtl {

template <typename Name>
struct analyze_traits<Name, journey::dsl::grammar::skip_statement> : analyze_any_traits<> {};
template <typename Name>
struct analyze_traits<Name, journey::dsl::grammar::skip_declaration> : analyze_any_traits<> {};

}  // namespace tao::pegtl

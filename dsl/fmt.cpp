#include "dsl/fmt.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>

#include "dsl/expect.hpp"
#include "dsl/parser.hpp"

namespace journey::dsl {

namespace {

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  const auto first = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!first(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return first(c) || (c >= '0' && c <= '9'); });
}

std::string number_text(double v) {
  std::array<char, 400> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
  if (ec != std::errc()) return "0";
  return std::string(buf.data(), end);
}

std::string print_duration(std::int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  constexpr std::array<std::pair<std::int64_t, char>, 4> kUnits = {
      {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  for (const auto& [size, unit] : kUnits) {
    if (seconds >= size) {
      out += std::to_string(seconds / size);
      out += unit;
      seconds %= size;
    }
  }
  return out;
}

std::string print_time_of_day(std::int64_t seconds) {
  const auto two = [](std::int64_t v) {
    return std::string(v < 10 ? "0" : "") + std::to_string(v);
  };
  return two(seconds / 3600) + ":" + two((seconds / 60) % 60);
}

std::string event_text(const EventRef& e) {
  return e.quoted ? string_text(e.name) : e.name;
}

std::string path_text(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += "." + p;
  return out;
}

std::string rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// -- expressions ------------------------------------------------------------------------------

/// Binding strength, loosest first, as in the spec.
int precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Binary:
      switch (e.op) {
        case BinaryOp::Or: return 1;
        case BinaryOp::And: return 2;
        case BinaryOp::Add:
        case BinaryOp::Sub: return 5;
        case BinaryOp::Mul:
        case BinaryOp::Div: return 6;
        default: return 4;
      }
    case ExprKind::Not: return 3;
    case ExprKind::IsSegment: return 4;
    case ExprKind::Negate: return 7;
    default: return 8;
  }
}

const char* print_op(BinaryOp op) {
  switch (op) {
    case BinaryOp::Or: return "or";
    case BinaryOp::And: return "and";
    case BinaryOp::Eq: return "==";
    case BinaryOp::Ne: return "!=";
    case BinaryOp::Lt: return "<";
    case BinaryOp::Le: return "<=";
    case BinaryOp::Gt: return ">";
    case BinaryOp::Ge: return ">=";
    case BinaryOp::In: return "in";
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
  }
  return "?";
}

std::string print_expr(const Expr& e);

/// `e`, in parentheses when it binds looser than `min`.
std::string operand_text(const Expr& e, int min) {
  const std::string text = print_expr(e);
  return precedence(e) < min ? "(" + text + ")" : text;
}

std::string aggregate_tail(const Expr& e) {
  std::string out;
  if (!e.where.empty()) out += " where " + print_expr(e.where[0]);
  if (e.within) out += " within " + print_duration(*e.within);
  return out + ")";
}

std::string print_expr(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Number: return number_text(e.number);
    case ExprKind::String: return string_text(e.text);
    case ExprKind::Bool: return e.boolean ? "true" : "false";
    case ExprKind::None: return "none";
    case ExprKind::Duration: return print_duration(e.seconds);
    case ExprKind::TimeOfDay: return print_time_of_day(e.seconds);
    case ExprKind::List: {
      std::string out = "[";
      for (std::size_t i = 0; i < e.operands.size(); ++i) {
        if (i > 0) out += ", ";
        out += print_expr(e.operands[i]);
      }
      return out + "]";
    }
    case ExprKind::Customer: return "customer" + path_text(e.path);
    case ExprKind::Event: return "event" + path_text(e.path);
    case ExprKind::Trigger: return "trigger" + path_text(e.path);
    case ExprKind::Now: return "now";
    case ExprKind::Not: return "not " + operand_text(e.operands.at(0), 3);
    case ExprKind::Negate: return "-" + operand_text(e.operands.at(0), 7);
    case ExprKind::Binary: {
      const int p = precedence(e);
      // Left-associative chains keep the left operand bare; comparisons do not chain.
      const int left_min = p == 4 ? 5 : p;
      return operand_text(e.operands.at(0), left_min) + " " + print_op(e.op) + " " +
             operand_text(e.operands.at(1), p + 1);
    }
    case ExprKind::IsSegment:
      return std::string("customer is ") + (e.boolean ? "not " : "") + e.text;
    case ExprKind::Count: return "count(" + event_name_text(e.text) + aggregate_tail(e);
    case ExprKind::Sum:
    case ExprKind::Avg:
    case ExprKind::Min:
    case ExprKind::Max: {
      const char* name = e.kind == ExprKind::Sum   ? "sum"
                         : e.kind == ExprKind::Avg ? "avg"
                         : e.kind == ExprKind::Min ? "min"
                                                   : "max";
      return std::string(name) + "(" + event_name_text(e.text) + path_text(e.path) +
             aggregate_tail(e);
    }
    case ExprKind::SinceEvent: return "since(" + event_name_text(e.text) + ")";
    case ExprKind::SinceValue: return "since(" + print_expr(e.operands.at(0)) + ")";
    case ExprKind::Last: return "last(" + event_name_text(e.text) + ")" + path_text(e.path);
    case ExprKind::Has: return "has(" + print_expr(e.operands.at(0)) + ")";
    case ExprKind::PAlive: return "p_alive()";
    case ExprKind::ExpectedOrders: return "expected_orders(" + print_duration(e.seconds) + ")";
    case ExprKind::PredictedValue: return "predicted_value(" + print_duration(e.seconds) + ")";
    case ExprKind::IsHoliday: return "is_holiday(" + print_expr(e.operands.at(0)) + ")";
    case ExprKind::InHoldout: return "in_holdout()";
  }
  return "none";
}

std::string object_text(const std::vector<Field>& fields) {
  if (fields.empty()) return "{}";
  std::string out = "{ ";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ", ";
    out += (is_identifier(fields[i].key) ? fields[i].key : string_text(fields[i].key)) + ": " +
           print_expr(fields[i].value);
  }
  return out + " }";
}

// -- layout -------------------------------------------------------------------------------------

/// Writes the canonical layout, putting each comment back next to the node it was next to.
class Printer {
 public:
  Printer(const SourceFile& file, const Module& module)
      : text_(file.text()), file_(file), module_(module), used_(module.comments.size(), false) {}

  std::string run() {
    struct Decl {
      std::uint32_t begin;
      const Journey* journey;
      const Segment* segment;
    };
    std::vector<Decl> decls;
    for (const auto& j : module_.journeys) decls.push_back({j.span.begin, &j, nullptr});
    for (const auto& s : module_.segments) decls.push_back({s.span.begin, nullptr, &s});
    std::stable_sort(decls.begin(), decls.end(),
                     [](const Decl& a, const Decl& b) { return a.begin < b.begin; });
    bool first = true;
    for (const auto& d : decls) {
      // Exactly one blank line between declarations; a blank line between a declaration's
      // comments and the declaration is kept.
      if (!first) out_ += "\n";
      leading(d.begin, true);
      first = false;
      if (d.journey != nullptr) {
        journey(*d.journey);
      } else {
        segment(*d.segment);
      }
    }
    leading(static_cast<std::uint32_t>(text_.size()), first);
    return out_;
  }

 private:
  const std::string& text_;
  const SourceFile& file_;
  const Module& module_;
  std::vector<bool> used_;
  std::string out_;
  int indent_ = 0;
  std::uint32_t last_end_ = 0;  // source offset of the end of the last node written

  bool blank_line_between(std::uint32_t from, std::uint32_t to) const {
    bool seen_newline = false;
    for (std::uint32_t i = from; i < to && i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '\n') {
        if (seen_newline) return true;
        seen_newline = true;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        seen_newline = false;
      }
    }
    return false;
  }

  void write_line(const std::string& content) {
    out_.append(static_cast<std::size_t>(indent_) * 2, ' ');
    out_ += content;
  }

  /// Writes the comments before `before` on their own lines; keeps one blank line where the
  /// source had one, unless `at_start` (the first thing in a block or file).
  void leading(std::uint32_t before, bool at_start) {
    for (std::size_t i = 0; i < module_.comments.size(); ++i) {
      const Comment& c = module_.comments[i];
      if (used_[i] || c.span.begin >= before) continue;
      if (!at_start && blank_line_between(last_end_, c.span.begin)) out_ += "\n";
      write_line(rtrim(c.text));
      out_ += "\n";
      used_[i] = true;
      last_end_ = c.span.end;
      at_start = false;
    }
    if (!at_start && blank_line_between(last_end_, before)) out_ += "\n";
  }

  /// Ends an output line whose source ends at `after`: a comment later on the same source line,
  /// with only blanks, `;` or `{` before it, is written at the end of this line.
  void end_line(std::uint32_t after) {
    if (after > 0) {
      const std::uint32_t line = file_.locate(after - 1).line;
      for (std::size_t i = 0; i < module_.comments.size(); ++i) {
        const Comment& c = module_.comments[i];
        if (used_[i] || c.span.begin < after) continue;
        if (file_.locate(c.span.begin).line == line) {
          const std::string_view between(text_.data() + after, c.span.begin - after);
          if (between.find_first_not_of(" \t;{") == std::string_view::npos) {
            out_ += " " + rtrim(c.text);
            used_[i] = true;
          }
        }
        break;
      }
      last_end_ = std::max(last_end_, after);
    }
    out_ += "\n";
  }

  /// The offset just after the first `{` at or after `from`, outside strings.
  std::uint32_t after_brace(std::uint32_t from) const {
    bool in_string = false;
    for (std::uint32_t i = from; i < text_.size(); ++i) {
      const char c = text_[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        return i + 1;
      }
    }
    return from;
  }

  /// Calls `visit(i)` for each offset in [from, to) outside strings and comments, until it
  /// returns true; returns that offset, or `to`.
  template <typename Visit>
  std::uint32_t scan_code(std::uint32_t from, std::uint32_t to, Visit visit) const {
    for (std::uint32_t i = from; i < to && i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '"') {
        for (++i; i < to && text_[i] != '"' && text_[i] != '\n'; ++i) {
          if (text_[i] == '\\') ++i;
        }
      } else if (c == '#') {
        while (i < to && text_[i] != '\n') ++i;
      } else if (visit(i)) {
        return i;
      }
    }
    return to;
  }

  /// The offset of the `timeout` keyword of a `wait up to` between `from` and `to`.
  std::uint32_t find_timeout(std::uint32_t from, std::uint32_t to) const {
    return scan_code(from, to, [&](std::uint32_t i) {
      return text_.compare(i, 7, "timeout") == 0 &&
             (i == 0 || text_[i - 1] == ' ' || text_[i - 1] == '\t' || text_[i - 1] == '\n' ||
              text_[i - 1] == ';' || text_[i - 1] == '}' || text_[i - 1] == '{');
    });
  }

  /// The offset of the `}` that closes the block opened just before `open_end`.
  std::uint32_t matching_close(std::uint32_t open_end, std::uint32_t to) const {
    int depth = 0;
    return scan_code(open_end, to, [&](std::uint32_t i) {
      if (text_[i] == '{') ++depth;
      if (text_[i] == '}') {
        if (depth == 0) return true;
        --depth;
      }
      return false;
    });
  }

  bool comment_before(std::uint32_t before) const {
    for (std::size_t i = 0; i < module_.comments.size(); ++i) {
      if (!used_[i] && module_.comments[i].span.begin < before) return true;
    }
    return false;
  }

  /// Writes `head {`, the block's steps and `}` + `tail`. `open_end` is the source offset after
  /// the `{` (0 if unknown), `close` the offset of the `}`. Leaves the line unterminated when
  /// `keep_open` (for `} else {`); a `continued` block (an `else` arm) goes on the previous
  /// `}` line.
  void block(const std::string& head, const Block& steps, std::uint32_t open_end,
             std::uint32_t close, bool keep_open = false, bool continued = false) {
    if (!continued) write_line(head);
    if (steps.empty() && !comment_before(close)) {
      out_ += " {}";
      if (!keep_open) end_line(close + 1);
      return;
    }
    out_ += " {";
    end_line(open_end);
    ++indent_;
    bool first = true;
    std::uint32_t prev_end = 0;
    for (const Step& s : steps) {
      if (!first) last_end_ = std::max(last_end_, prev_end);
      leading(s.span.begin, first);
      first = false;
      step(s);
      prev_end = s.span.end;
    }
    leading(close, first);
    --indent_;
    write_line("}");
    if (!keep_open) end_line(close + 1);
  }

  void journey(const Journey& j) {
    write_line("journey " + j.name + " {");
    end_line(after_brace(j.name_span.end));
    ++indent_;
    // Header clauses in canonical order, each with the comments that preceded it in the source.
    struct Clause {
      Span span;
      std::string text;
    };
    std::vector<Clause> clauses;
    for (const auto& oc : j.once_clauses) {
      if (oc.keyword == "title" && j.title)
        clauses.push_back({oc.span, "title " + string_text(*j.title)});
    }
    for (const auto& e : j.entries) {
      std::string t = "entry ";
      if (e.kind == EntryKind::On) {
        t += "on " + event_text(e.event);
        if (e.where) t += " where " + print_expr(*e.where);
      } else if (e.kind == EntryKind::When) {
        t += "when " + print_expr(e.condition);
      } else if (e.kind != EntryKind::Every) {
        t += calendar_entry_text(e.kind, e.path, {e.time_of_day, e.offset, e.at, e.local});
        if (e.where) t += " when " + print_expr(*e.where);
      } else {
        static constexpr std::array<std::string_view, 7> kDays = {
            "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
        t +=
            "every " +
            std::string(e.weekday >= 0 && e.weekday < 7 ? kDays[static_cast<std::size_t>(e.weekday)]
                                                        : "day") +
            " at " + print_time_of_day(e.time_of_day);
        if (e.where) t += " when " + print_expr(*e.where);
      }
      clauses.push_back({e.span, t});
    }
    if (j.reentry) {
      const Reentry& r = *j.reentry;
      clauses.push_back({r.span, r.kind == ReentryKind::Never ? "reentry never"
                                 : r.kind == ReentryKind::Always
                                     ? "reentry always"
                                     : "reentry after " + print_duration(r.seconds)});
    }
    for (const auto& x : j.exits) {
      std::string t = x.kind == ExitKind::On ? "exit on " + event_text(x.event)
                                             : "exit when " + print_expr(x.condition);
      if (x.kind == ExitKind::On && x.where) t += " where " + print_expr(*x.where);
      clauses.push_back({x.span, t});
    }
    for (const auto& g : j.goals) {
      std::string t = "goal " + g.name + ": " + event_text(g.event);
      if (g.where) t += " where " + print_expr(*g.where);
      clauses.push_back({g.span, t + " within " + print_duration(g.within)});
    }
    if (j.quiet_hours) {
      clauses.push_back({j.quiet_hours->span, "quiet hours " +
                                                  print_time_of_day(j.quiet_hours->start) + "-" +
                                                  print_time_of_day(j.quiet_hours->end)});
    }
    if (j.send_window) {
      const SendWindow& w = *j.send_window;
      clauses.push_back({w.span, send_window_text(w.weekdays, w.start, w.end, w.except_holidays)});
    }
    if (j.cap)
      clauses.push_back({j.cap->span, "cap " + std::to_string(j.cap->count) + " per " +
                                          print_duration(j.cap->per)});
    if (j.on_update)
      clauses.push_back(
          {j.on_update->span, j.on_update->migrate ? "on update migrate" : "on update keep"});
    if (j.priority)
      clauses.push_back({j.priority->span, "priority " + std::to_string(j.priority->value)});
    if (j.transactional) clauses.push_back({*j.transactional, "transactional"});

    // The comments before each clause in source order belong to it.
    std::vector<std::size_t> by_source(clauses.size());
    for (std::size_t i = 0; i < by_source.size(); ++i) by_source[i] = i;
    std::stable_sort(by_source.begin(), by_source.end(), [&](std::size_t a, std::size_t b) {
      return clauses[a].span.begin < clauses[b].span.begin;
    });
    std::vector<std::vector<std::size_t>> own(clauses.size());
    std::uint32_t from = j.name_span.end;
    for (const std::size_t k : by_source) {
      for (std::size_t i = 0; i < module_.comments.size(); ++i) {
        const Comment& c = module_.comments[i];
        if (!used_[i] && c.span.begin >= from && c.span.begin < clauses[k].span.begin &&
            !trails_code(c)) {
          own[k].push_back(i);
        }
      }
      from = clauses[k].span.end;
    }
    // A comment after `journey NAME {` on the same line was already taken by end_line above.
    for (std::size_t k = 0; k < clauses.size(); ++k) {
      for (const std::size_t i : own[k]) {
        write_line(rtrim(module_.comments[i].text));
        out_ += "\n";
        used_[i] = true;
      }
      write_line(clauses[k].text);
      end_line(clauses[k].span.end);
    }
    if (!clauses.empty() && !j.steps.empty()) out_ += "\n";
    bool first = clauses.empty();
    std::uint32_t prev_end = 0;
    for (std::size_t n = 0; n < j.steps.size(); ++n) {
      const Step& s = j.steps[n];
      // Between the headers and the first step the blank line is always there.
      if (n == 0) {
        last_end_ = s.span.begin;
        leading(s.span.begin, true);
        // Comments before the first step keep their place relative to it.
      } else {
        last_end_ = std::max(last_end_, prev_end);
        leading(s.span.begin, first);
      }
      first = false;
      step(s);
      prev_end = s.span.end;
    }
    const std::uint32_t close = j.span.end > 0 ? j.span.end - 1 : 0;
    if (!j.steps.empty()) last_end_ = std::max(last_end_, prev_end);
    leading(close, j.steps.empty() && clauses.empty());
    --indent_;
    write_line("}");
    end_line(j.span.end);
  }

  /// True when code precedes the comment on its line (a trailing comment).
  bool trails_code(const Comment& c) const {
    std::uint32_t i = c.span.begin;
    while (i > 0 && text_[i - 1] != '\n') {
      --i;
      if (text_[i] != ' ' && text_[i] != '\t') return true;
    }
    return false;
  }

  void segment(const Segment& s) {
    write_line("segment " + s.name + " = " + print_expr(s.condition));
    end_line(s.span.end);
  }

  void step(const Step& s) {
    const std::string label = s.label.empty() ? "" : s.label + ": ";
    const std::uint32_t close = s.span.end > 0 ? s.span.end - 1 : 0;
    switch (s.kind) {
      case StepKind::Send: {
        std::string t = label + "send " + s.channel + " " + string_text(s.template_name);
        if (!s.topic.empty()) t += " topic " + s.topic;
        if (s.transactional) t += " transactional";
        if (!s.with.empty()) t += " with " + object_text(s.with);
        write_line(t);
        end_line(s.span.end);
        return;
      }
      case StepKind::Wait:
        write_line(label + "wait " + print_duration(s.seconds));
        end_line(s.span.end);
        return;
      case StepKind::WaitUntil:
        write_line(label + "wait until " + until_time_text(s.weekdays, s.seconds));
        end_line(s.span.end);
        return;
      case StepKind::WaitUntilDate:
        write_line(label + "wait until " + print_expr(s.value) +
                   (s.offset != 0 ? " offset " + offset_text(s.offset) : ""));
        end_line(s.span.end);
        return;
      case StepKind::WaitUpTo: {
        write_line(label + "wait up to " + print_duration(s.seconds) + " {");
        end_line(after_brace(s.span.begin));
        ++indent_;
        bool first = true;
        for (const auto& b : s.branches) {
          leading(b.span.begin, first);
          first = false;
          std::string head = "on " + event_text(b.event);
          if (b.where) head += " where " + print_expr(*b.where);
          block(head, b.body, after_brace(b.where ? b.where->span.end : b.event.span.end),
                b.span.end > 0 ? b.span.end - 1 : 0);
          last_end_ = std::max(last_end_, b.span.end);
        }
        if (s.has_timeout) {
          const std::uint32_t at =
              find_timeout(s.branches.empty() ? s.span.begin : s.branches.back().span.end, close);
          leading(at, first);
          const std::uint32_t open_end = at < close ? after_brace(at) : 0;
          block("timeout", s.timeout, open_end,
                open_end > 0 ? matching_close(open_end, close) : close);
        }
        leading(close, false);
        --indent_;
        write_line("}");
        end_line(s.span.end);
        return;
      }
      case StepKind::If: {
        for (std::size_t i = 0; i < s.arms.size(); ++i) {
          const IfArm& arm = s.arms[i];
          const std::string head =
              (i == 0 ? label + "if " : "} else if ") + print_expr(arm.condition);
          const bool last = i + 1 == s.arms.size() && !s.has_else;
          if (i > 0) {
            // Continue the `}` line of the previous arm.
            out_ += " else if " + print_expr(arm.condition);
          }
          block(i == 0 ? head : "", arm.body, after_brace(arm.condition.span.end),
                arm.span.end > 0 ? arm.span.end - 1 : 0, !last, i > 0);
        }
        if (s.has_else) {
          out_ += " else";
          const std::uint32_t from = s.arms.empty() ? s.span.begin : s.arms.back().span.end;
          block("", s.else_body, after_brace(from), close, false, true);
        }
        return;
      }
      case StepKind::Split: {
        write_line(label + "split {");
        end_line(after_brace(s.span.begin));
        ++indent_;
        bool first = true;
        for (const auto& v : s.variants) {
          leading(v.span.begin, first);
          first = false;
          block(number_text(v.percent) + "% " + v.name, v.body, after_brace(v.name_span.end),
                v.span.end > 0 ? v.span.end - 1 : 0);
          last_end_ = std::max(last_end_, v.span.end);
        }
        leading(close, first);
        --indent_;
        write_line("}");
        end_line(s.span.end);
        return;
      }
      case StepKind::Set:
        write_line(label + "set customer" + path_text(s.path) + " = " + print_expr(s.value));
        end_line(s.span.end);
        return;
      case StepKind::Tag:
        write_line(label + "tag " + string_text(s.text));
        end_line(s.span.end);
        return;
      case StepKind::Untag:
        write_line(label + "untag " + string_text(s.text));
        end_line(s.span.end);
        return;
      case StepKind::Emit: {
        std::string t = label + "emit " + event_text(s.event);
        if (!s.with.empty()) t += " with " + object_text(s.with);
        write_line(t);
        end_line(s.span.end);
        return;
      }
      case StepKind::Goto:
        write_line(label + "goto " + s.text);
        end_line(s.span.end);
        return;
      case StepKind::Exit:
        write_line(label + "exit" + (s.has_reason ? " " + string_text(s.text) : std::string()));
        end_line(s.span.end);
        return;
    }
  }
};

// -- tree comparison ------------------------------------------------------------------------------

void clear(Expr& e);
void clear(Block& b);

void clear(EventRef& e) {
  e.span = {};
}

void clear(Expr& e) {
  e.span = {};
  e.name_span = {};
  for (auto& o : e.operands) clear(o);
  for (auto& w : e.where) clear(w);
}

void clear(std::optional<Expr>& e) {
  if (e) clear(*e);
}

void clear(std::vector<Field>& fields) {
  for (auto& f : fields) {
    f.key_span = {};
    clear(f.value);
  }
}

void clear(Step& s) {
  s.span = s.label_span = s.channel_span = s.text_span = s.topic_span = {};
  clear(s.with);
  for (auto& b : s.branches) {
    b.span = {};
    clear(b.event);
    clear(b.where);
    clear(b.body);
  }
  clear(s.timeout);
  for (auto& a : s.arms) {
    a.span = {};
    clear(a.condition);
    clear(a.body);
  }
  clear(s.else_body);
  for (auto& v : s.variants) {
    v.span = v.name_span = {};
    clear(v.body);
  }
  clear(s.value);
  clear(s.event);
}

void clear(Block& b) {
  for (auto& s : b) clear(s);
}

Module without_spans(Module m) {
  for (auto& s : m.segments) {
    s.span = s.name_span = {};
    clear(s.condition);
  }
  for (auto& j : m.journeys) {
    j.span = j.name_span = {};
    for (auto& e : j.entries) {
      e.span = e.path_span = {};
      clear(e.event);
      clear(e.where);
      clear(e.condition);
    }
    if (j.reentry) j.reentry->span = {};
    for (auto& x : j.exits) {
      x.span = {};
      clear(x.event);
      clear(x.where);
      clear(x.condition);
    }
    for (auto& g : j.goals) {
      g.span = g.name_span = {};
      clear(g.event);
      clear(g.where);
    }
    if (j.quiet_hours) j.quiet_hours->span = {};
    if (j.send_window) j.send_window->span = {};
    if (j.cap) j.cap->span = {};
    if (j.on_update) j.on_update->span = {};
    if (j.priority) j.priority->span = {};
    if (j.transactional) j.transactional = Span{};
    // Clause order is canonicalised by the formatter; compare the set of keywords.
    std::vector<std::string> keywords;
    for (auto& oc : j.once_clauses) keywords.push_back(oc.keyword);
    std::sort(keywords.begin(), keywords.end());
    j.once_clauses.clear();
    for (auto& k : keywords) j.once_clauses.push_back(OnceClause{k, {}});
    clear(j.steps);
  }
  // Reordering header clauses moves their comments along: compare comments as a multiset.
  for (auto& c : m.comments) {
    c.span = {};
    c.text = rtrim(c.text);
  }
  std::sort(m.comments.begin(), m.comments.end(),
            [](const Comment& a, const Comment& b) { return a.text < b.text; });
  return m;
}

}  // namespace

std::string expr_text(const Expr& expr) {
  return print_expr(expr);
}
std::string duration_text(std::int64_t seconds) {
  return print_duration(seconds);
}
std::string days_text(int weekdays) {
  static constexpr std::array<std::string_view, 7> kLong = {
      "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  static constexpr std::array<std::string_view, 7> kShort = {"sun", "mon", "tue", "wed",
                                                             "thu", "fri", "sat"};
  weekdays &= 0x7F;
  if (weekdays == 0x7F) return "daily";
  if (weekdays == 0x3E) return "weekdays";
  if (weekdays == 0x41) return "weekends";
  const auto has = [weekdays](int d) { return (weekdays >> d & 1) != 0; };
  if (std::popcount(static_cast<unsigned>(weekdays)) == 1) {
    for (int d = 0; d < 7; ++d) {
      if (has(d)) return std::string(kLong[static_cast<std::size_t>(d)]);
    }
  }
  // Runs of consecutive days, monday first, as ranges.
  std::string out;
  for (int k = 0; k < 7;) {
    const int d = (k + 1) % 7;
    if (!has(d)) {
      ++k;
      continue;
    }
    int run = k;
    while (run + 1 < 7 && has((run + 2) % 7)) ++run;
    out += (out.empty() ? "" : ",") + std::string(kShort[static_cast<std::size_t>(d)]);
    if (run > k) out += "-" + std::string(kShort[static_cast<std::size_t>((run + 1) % 7)]);
    k = run + 1;
  }
  return out;
}

std::string until_time_text(int weekdays, std::int64_t time_of_day) {
  return (weekdays == 0 ? "" : days_text(weekdays) + " ") + print_time_of_day(time_of_day);
}

std::string offset_text(std::int64_t seconds) {
  return (seconds < 0 ? "-" : "+") + print_duration(seconds < 0 ? -seconds : seconds);
}

std::string date_time_text(std::int64_t seconds) {
  const std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  const std::chrono::year_month_day ymd{
      std::chrono::sys_days{std::chrono::days{static_cast<int>(days)}}};
  const std::int64_t rest = seconds - days * 86400;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%s", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                print_time_of_day(rest).c_str());
  std::string out = buf;
  if (rest % 60 != 0) {
    std::snprintf(buf, sizeof buf, ":%02d", static_cast<int>(rest % 60));
    out += buf;
  }
  return out;
}

std::string calendar_entry_text(EntryKind kind, const std::vector<std::string>& path,
                                const CalendarTime& when) {
  if (kind == EntryKind::At) return "at " + date_time_text(when.at) + (when.local ? " local" : "");
  std::string out = kind == EntryKind::Yearly ? "every year on customer" : "on date customer";
  out += path_text(path);
  if (when.time_of_day != 0) out += " at " + print_time_of_day(when.time_of_day);
  if (when.offset != 0) out += " offset " + offset_text(when.offset);
  return out;
}

std::string send_window_text(int weekdays, std::int64_t start, std::int64_t end,
                             bool except_holidays) {
  return "send window " + days_text(weekdays) + " " + print_time_of_day(start) + "-" +
         print_time_of_day(end) + (except_holidays ? " except holidays" : "");
}

std::string time_of_day_text(std::int64_t seconds) {
  return print_time_of_day(seconds);
}
const char* op_text(BinaryOp op) {
  return print_op(op);
}
std::string string_text(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string event_name_text(const std::string& name) {
  return is_name(name) ? name : string_text(name);
}

Formatted format_source(const SourceFile& file) {
  Formatted out;
  ParseResult parsed = parse(file);
  if (!parsed.diagnostics.empty()) {
    out.problems = std::move(parsed.diagnostics);
    return out;
  }
  for (const auto& j : parsed.module.journeys) {
    std::map<std::string, int> seen;
    for (const auto& oc : j.once_clauses) {
      if (++seen[oc.keyword] != 2) continue;
      Diagnostic d;
      d.code = "E117";
      d.file = file.path();
      d.span = oc.span;
      d.message = "header clause `" + oc.keyword + "` repeated; the file is not formatted";
      out.problems.push_back(std::move(d));
      return out;
    }
  }
  out.text = format(file, parsed.module);
  return out;
}

std::string format(const SourceFile& file, const Module& module) {
  return Printer(file, module).run();
}

bool same_tree(const Module& a, const Module& b) {
  return without_spans(a) == without_spans(b);
}

}  // namespace journey::dsl

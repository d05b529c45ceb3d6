// Every construct of the language parses into the AST the field comments of ast.hpp describe.
#include "dsl/parser.hpp"

#include <catch2/catch.hpp>
#include <tao/pegtl/contrib/analyze.hpp>

#include "dsl/grammar.hpp"
#include "dsl_support.hpp"

using namespace journey::dsl;
using journey::test::one_journey;
using journey::test::parse_text;

namespace {

/// The condition of `segment s = EXPR`.
Expr segment_expr(const std::string& expr) {
  const ParseResult r = parse_text("segment s = " + expr + "\n");
  INFO(expr);
  if (!r.diagnostics.empty()) FAIL(r.diagnostics[0].code + ": " + r.diagnostics[0].message);
  REQUIRE(r.module.segments.size() == 1);
  return r.module.segments[0].condition;
}

std::string_view slice(const std::string& text, Span s) {
  return std::string_view(text).substr(s.begin, s.end - s.begin);
}

}  // namespace

TEST_CASE("parser: the grammar has no left recursion or empty loops", "[parser]") {
  CHECK(tao::pegtl::analyze<grammar::file>(-1) == 0);
}

TEST_CASE("parser: an empty file and a file of comments", "[parser]") {
  const ParseResult empty = parse_text("");
  CHECK(empty.diagnostics.empty());
  CHECK(empty.module.journeys.empty());
  const ParseResult comments = parse_text("# one\n\n  # two\r\n");
  CHECK(comments.diagnostics.empty());
  REQUIRE(comments.module.comments.size() == 2);
  CHECK(comments.module.comments[1].text == "# two");
  CHECK(comments.module.comments[1].span.begin == 9);
}

TEST_CASE("parser: header clauses", "[parser]") {
  const std::string text = R"(journey j {
  entry on "Order Completed" where event.amount > 100
  entry when customer is not vip
  entry every day at 09:00
  entry every monday at 18:30 when customer.country == "FR"
  reentry always
  exit when since(last_seen) > 30d
  exit on unsubscribe where event.list == "all"
  goal buy: order_completed where event.amount >= 10 within 1d12h
  exit
}
)";
  const Journey j = one_journey(text);
  REQUIRE(j.entries.size() == 4);
  CHECK(j.entries[0].event.name == "Order Completed");
  CHECK(j.entries[0].event.quoted);
  CHECK(slice(text, j.entries[0].event.span) == "\"Order Completed\"");
  REQUIRE(j.entries[0].where);
  CHECK(j.entries[0].where->op == BinaryOp::Gt);
  CHECK(j.entries[0].where->operands[0].kind == ExprKind::Event);
  CHECK(j.entries[0].where->operands[0].path == std::vector<std::string>{"amount"});
  CHECK(j.entries[1].kind == EntryKind::When);
  CHECK(j.entries[1].condition.kind == ExprKind::IsSegment);
  CHECK(j.entries[1].condition.boolean);
  CHECK(j.entries[1].condition.text == "vip");
  CHECK(j.entries[2].kind == EntryKind::Every);
  CHECK(j.entries[2].weekday == -1);
  CHECK(j.entries[2].time_of_day == 9 * 3600);
  CHECK_FALSE(j.entries[2].where);
  CHECK(j.entries[3].weekday == 1);
  CHECK(j.entries[3].time_of_day == 18 * 3600 + 30 * 60);
  REQUIRE(j.entries[3].where);
  CHECK(j.entries[3].where->operands[1].text == "FR");
  REQUIRE(j.reentry);
  CHECK(j.reentry->kind == ReentryKind::Always);
  REQUIRE(j.exits.size() == 2);
  CHECK(j.exits[0].kind == ExitKind::When);
  CHECK(j.exits[0].condition.operands[0].kind == ExprKind::SinceEvent);
  CHECK(j.exits[1].kind == ExitKind::On);
  REQUIRE(j.exits[1].where);
  REQUIRE(j.goals.size() == 1);
  CHECK(j.goals[0].within == 86400 + 12 * 3600);
  REQUIRE(j.goals[0].where);
  REQUIRE(j.steps.size() == 1);
  CHECK(j.steps[0].kind == StepKind::Exit);
}

TEST_CASE("parser: steps", "[parser]") {
  const std::string text = R"(journey j {
  entry on signup
  start: send webhook "crm-sync" with {
    id: customer.id,
    total: sum(order_completed.amount where event.currency == "EUR" within 30d)
    "first name": customer.first_name
  }
  wait until 09:30
  wait 1w
  wait up to 2h {
    on click where event.link == "a" { tag "clicked" }
    on "Page View" {}
    timeout { untag "clicked"; goto start }
  }
  if count(order_completed) == 0 {
    set customer.stage = "new"
  } else if count(order_completed) < 3 {
    set customer.stage = "growing"
  }
  else {
    emit became_loyal with { orders: count(order_completed) }
  }
  exit "done"
}
)";
  const Journey j = one_journey(text);
  REQUIRE(j.steps.size() == 6);
  const Step& send = j.steps[0];
  CHECK(send.label == "start");
  CHECK(slice(text, send.label_span) == "start");
  CHECK(send.channel == "webhook");
  REQUIRE(send.with.size() == 3);
  CHECK(send.with[0].value.kind == ExprKind::Customer);
  CHECK(send.with[0].value.path == std::vector<std::string>{"id"});
  const Expr& sum = send.with[1].value;
  CHECK(sum.kind == ExprKind::Sum);
  CHECK(sum.text == "order_completed");
  CHECK(sum.path == std::vector<std::string>{"amount"});
  REQUIRE(sum.where.size() == 1);
  CHECK(sum.where[0].op == BinaryOp::Eq);
  REQUIRE(sum.within);
  CHECK(*sum.within == 30 * 86400);
  CHECK(send.with[2].key == "first name");
  CHECK(slice(text, send.with[2].key_span) == "\"first name\"");

  CHECK(j.steps[1].kind == StepKind::WaitUntil);
  CHECK(j.steps[1].seconds == 9 * 3600 + 30 * 60);
  CHECK(j.steps[2].kind == StepKind::Wait);
  CHECK(j.steps[2].seconds == 7 * 86400);

  const Step& up = j.steps[3];
  CHECK(up.kind == StepKind::WaitUpTo);
  CHECK(up.seconds == 7200);
  REQUIRE(up.branches.size() == 2);
  REQUIRE(up.branches[0].where);
  REQUIRE(up.branches[0].body.size() == 1);
  CHECK(up.branches[0].body[0].kind == StepKind::Tag);
  CHECK(up.branches[0].body[0].text == "clicked");
  CHECK(up.branches[1].event.name == "Page View");
  CHECK(up.branches[1].body.empty());
  CHECK(up.has_timeout);
  REQUIRE(up.timeout.size() == 2);
  CHECK(up.timeout[0].kind == StepKind::Untag);
  CHECK(up.timeout[1].kind == StepKind::Goto);
  CHECK(up.timeout[1].text == "start");
  CHECK(slice(text, up.timeout[1].text_span) == "start");

  const Step& iff = j.steps[4];
  CHECK(iff.kind == StepKind::If);
  REQUIRE(iff.arms.size() == 2);
  CHECK(iff.arms[1].condition.op == BinaryOp::Lt);
  REQUIRE(iff.arms[0].body.size() == 1);
  CHECK(iff.arms[0].body[0].kind == StepKind::Set);
  CHECK(iff.arms[0].body[0].path == std::vector<std::string>{"stage"});
  CHECK(iff.arms[0].body[0].value.text == "new");
  CHECK(slice(text, iff.arms[1].span).substr(0, 7) == "else if");
  CHECK(iff.has_else);
  REQUIRE(iff.else_body.size() == 1);
  const Step& emit = iff.else_body[0];
  CHECK(emit.kind == StepKind::Emit);
  CHECK(emit.event.name == "became_loyal");
  REQUIRE(emit.with.size() == 1);
  CHECK(emit.with[0].value.kind == ExprKind::Count);
  CHECK(j.steps[5].kind == StepKind::Exit);
  CHECK(j.steps[5].has_reason);
  CHECK(j.steps[5].text == "done");
}

TEST_CASE("parser: expression precedence and forms", "[parser]") {
  // or is loosest, then and, then not.
  Expr e = segment_expr("not customer.a or customer.x == 1 and customer.y");
  REQUIRE(e.op == BinaryOp::Or);
  CHECK(e.operands[0].kind == ExprKind::Not);
  CHECK(e.operands[1].op == BinaryOp::And);
  CHECK(e.operands[1].operands[0].op == BinaryOp::Eq);

  e = segment_expr("not customer.a == 1");
  REQUIRE(e.kind == ExprKind::Not);
  CHECK(e.operands[0].op == BinaryOp::Eq);

  e = segment_expr("1 + 2 * 3 - -4 / 2 > 0");
  REQUIRE(e.op == BinaryOp::Gt);
  const Expr& sub = e.operands[0];
  REQUIRE(sub.op == BinaryOp::Sub);
  CHECK(sub.operands[0].op == BinaryOp::Add);
  CHECK(sub.operands[0].operands[1].op == BinaryOp::Mul);
  CHECK(sub.operands[1].op == BinaryOp::Div);
  CHECK(sub.operands[1].operands[0].kind == ExprKind::Negate);
  CHECK(sub.operands[1].operands[0].operands[0].number == 4);

  e = segment_expr("(customer.a or customer.b) and customer.c");
  REQUIRE(e.op == BinaryOp::And);
  CHECK(e.operands[0].op == BinaryOp::Or);

  e = segment_expr("customer.country in [\"FR\", \"DE\",]");
  REQUIRE(e.op == BinaryOp::In);
  CHECK(e.operands[1].kind == ExprKind::List);
  CHECK(e.operands[1].operands.size() == 2);

  e = segment_expr("since(customer.signup_at) < 2d and since(\"Order Completed\") > 1h");
  CHECK(e.operands[0].operands[0].kind == ExprKind::SinceValue);
  CHECK(e.operands[0].operands[0].operands[0].kind == ExprKind::Customer);
  CHECK(e.operands[1].operands[0].kind == ExprKind::SinceEvent);
  CHECK(e.operands[1].operands[0].text == "Order Completed");

  e = segment_expr("last(order_completed).shipping.country == \"FR\"");
  CHECK(e.operands[0].kind == ExprKind::Last);
  CHECK(e.operands[0].text == "order_completed");
  CHECK(e.operands[0].path == std::vector<std::string>{"shipping", "country"});

  e = segment_expr("has(customer.email) and has(trigger.coupon) and has(event.x)");
  CHECK(e.operands[0].operands[0].kind == ExprKind::Has);
  CHECK(e.operands[0].operands[0].operands[0].kind == ExprKind::Customer);
  CHECK(e.operands[0].operands[1].operands[0].kind == ExprKind::Trigger);

  e = segment_expr(
      "avg(order_completed.amount) > 1.5 or min(a.b) < max(a.b) or now == none or false");
  CHECK(e.operands[0].operands[0].operands[0].operands[0].kind == ExprKind::Avg);
  CHECK(e.operands[0].operands[0].operands[0].operands[1].number == 1.5);

  e = segment_expr("customer.title == \"a\\\"b\\\\c\\n\\t\\u00e9\"");
  CHECK(e.operands[1].text == "a\"b\\c\n\t\xC3\xA9");

  e = segment_expr("count(x within 30m) >= 1 and\n  count(y where event.n > 1) == 0");
  CHECK(e.operands[0].operands[0].within == 1800);
  CHECK(e.operands[1].operands[0].where.size() == 1);

  e = segment_expr("customer.event.trigger.now == 1");
  CHECK(e.operands[0].path == std::vector<std::string>{"event", "trigger", "now"});
}

TEST_CASE("parser: the predictive functions of the purchase model", "[parser]") {
  Expr e = segment_expr(
      "p_alive() < 0.3 and expected_orders(30d) >= 1 or predicted_value( 1w12h ) > 100");
  REQUIRE(e.op == BinaryOp::Or);
  const Expr& alive = e.operands[0].operands[0].operands[0];
  CHECK(alive.kind == ExprKind::PAlive);
  CHECK(reads_of(alive.kind) == ExprReads::Purchases);
  const Expr& orders = e.operands[0].operands[1].operands[0];
  CHECK(orders.kind == ExprKind::ExpectedOrders);
  CHECK(orders.seconds == 30 * 86400);
  const Expr& value = e.operands[1].operands[0];
  CHECK(value.kind == ExprKind::PredictedValue);
  CHECK(value.seconds == 7 * 86400 + 12 * 3600);
  // Not reserved: the names stay free for events, attributes and labels.
  e = segment_expr("count(p_alive) > customer.expected_orders");
  CHECK(e.operands[0].kind == ExprKind::Count);
  CHECK(e.operands[0].text == "p_alive");
  CHECK(e.operands[1].path == std::vector<std::string>{"expected_orders"});
}

TEST_CASE("parser: one-line blocks and semicolons", "[parser]") {
  const Journey j = one_journey(
      "journey j { entry on a; send email \"x\"; wait 1d; if customer.a { exit } else { exit \"b\" "
      "} }\n");
  REQUIRE(j.steps.size() == 3);
  CHECK(j.steps[2].arms.size() == 1);
  CHECK(j.steps[2].has_else);
}

TEST_CASE("parser: spans cover their text", "[parser]") {
  const std::string text =
      "journey j {\n  entry on a\n  l1: wait up to 1d {\n    on b { exit }\n  }\n}\n";
  const Journey j = one_journey(text);
  CHECK(slice(text, j.steps[0].span) == "l1: wait up to 1d {\n    on b { exit }\n  }");
  CHECK(slice(text, j.steps[0].branches[0].span) == "on b { exit }");
  CHECK(slice(text, j.steps[0].branches[0].body[0].span) == "exit");
  CHECK(slice(text, j.span) == text.substr(0, text.size() - 1));
}

TEST_CASE("parser: on update migrate and keep", "[parser]") {
  const std::string text =
      "journey j {\n  entry on a\n  on update migrate\n  send email \"x\"\n}\n";
  const Journey j = one_journey(text);
  REQUIRE(j.on_update);
  CHECK(j.on_update->migrate);
  CHECK(slice(text, j.on_update->span) == "on update migrate");
  REQUIRE(j.once_clauses.size() == 1);
  CHECK(j.once_clauses[0].keyword == "on update");
  const Journey keep = one_journey("journey j {\n  entry on a\n  on update keep\n}\n");
  REQUIRE(keep.on_update);
  CHECK_FALSE(keep.on_update->migrate);
  CHECK_FALSE(one_journey("journey j {\n  entry on a\n}\n").on_update);
  // `update` is no keyword: an event may be named so, in a wait's `on` branch too.
  const Journey event = one_journey(
      "journey j {\n  entry on update\n  wait up to 1d {\n    on update { exit }\n  }\n}\n");
  CHECK(event.entries.at(0).event.name == "update");
  CHECK(event.steps.at(0).branches.at(0).event.name == "update");
}

TEST_CASE("parser: once-only header clauses are all recorded, in source order", "[parser]") {
  const std::string text =
      "journey j {\n  cap 1 per 1d\n  title \"a\"\n  entry on a\n  reentry never\n  quiet hours "
      "21:00-09:00\n"
      "  title \"b\"\n}\n";
  const ParseResult r = parse_text(text);
  REQUIRE(r.diagnostics.empty());
  const Journey& j = r.module.journeys.at(0);
  REQUIRE(j.once_clauses.size() == 5);
  CHECK(j.once_clauses[0].keyword == "cap");
  CHECK(j.once_clauses[1].keyword == "title");
  CHECK(j.once_clauses[2].keyword == "reentry");
  CHECK(j.once_clauses[3].keyword == "quiet hours");
  CHECK(j.once_clauses[4].keyword == "title");
  CHECK(slice(text, j.once_clauses[4].span) == "title \"b\"");
  CHECK(*j.title == "b");
}

// The whole example of spec section 1 parses into the expected tree.
#include <catch2/catch.hpp>

#include "dsl/parser.hpp"
#include "spec_example.hpp"

using namespace journey::dsl;

namespace {

const std::string& kSpecExample = journey::test::spec_example();

std::string_view text_at(const SourceFile& f, Span s) {
  return std::string_view(f.text()).substr(s.begin, s.end - s.begin);
}

}  // namespace

TEST_CASE("parser: the example of spec section 1", "[parser]") {
  const SourceFile file("spec.journey", kSpecExample);
  const ParseResult r = parse(file);
  REQUIRE(r.diagnostics.empty());
  const Module& m = r.module;
  REQUIRE(m.journeys.size() == 2);
  REQUIRE(m.segments.size() == 1);
  REQUIRE(m.comments.size() == 1);
  CHECK(m.comments[0].text ==
        "# Welcome series: greet, nudge toward a first order, stop as soon as they buy.");

  const Journey& w = m.journeys[0];
  CHECK(w.name == "welcome");
  CHECK(text_at(file, w.name_span) == "welcome");
  CHECK(text_at(file, w.span).substr(0, 15) == "journey welcome");
  CHECK(text_at(file, w.span).back() == '}');
  REQUIRE(w.title);
  CHECK(*w.title == "Welcome series");
  REQUIRE(w.entries.size() == 1);
  CHECK(w.entries[0].kind == EntryKind::On);
  CHECK(w.entries[0].event.name == "signup");
  CHECK_FALSE(w.entries[0].event.quoted);
  CHECK(text_at(file, w.entries[0].event.span) == "signup");
  CHECK(text_at(file, w.entries[0].span) == "entry on signup");
  CHECK_FALSE(w.entries[0].where);
  REQUIRE(w.reentry);
  CHECK(w.reentry->kind == ReentryKind::Never);
  REQUIRE(w.exits.size() == 1);
  CHECK(w.exits[0].kind == ExitKind::On);
  CHECK(w.exits[0].event.name == "unsubscribe");
  REQUIRE(w.goals.size() == 1);
  CHECK(w.goals[0].name == "first_order");
  CHECK(text_at(file, w.goals[0].name_span) == "first_order");
  CHECK(w.goals[0].event.name == "order_completed");
  CHECK(w.goals[0].within == 7 * 86400);
  CHECK(text_at(file, w.goals[0].span) == "goal first_order: order_completed within 7d");
  CHECK_FALSE(w.quiet_hours);
  CHECK_FALSE(w.cap);

  REQUIRE(w.steps.size() == 5);
  const Step& s0 = w.steps[0];
  CHECK(s0.kind == StepKind::Send);
  CHECK(s0.channel == "email");
  CHECK(text_at(file, s0.channel_span) == "email");
  CHECK(s0.template_name == "welcome-1");
  CHECK(s0.with.empty());
  CHECK(text_at(file, s0.span) == "send email \"welcome-1\"");
  CHECK(s0.label.empty());

  const Step& s1 = w.steps[1];
  CHECK(s1.kind == StepKind::WaitUpTo);
  CHECK(s1.seconds == 3 * 86400);
  CHECK_FALSE(s1.has_timeout);
  REQUIRE(s1.branches.size() == 1);
  CHECK(s1.branches[0].event.name == "order_completed");
  CHECK_FALSE(s1.branches[0].where);
  REQUIRE(s1.branches[0].body.size() == 2);
  CHECK(s1.branches[0].body[0].kind == StepKind::Send);
  CHECK(s1.branches[0].body[0].template_name == "thanks-first-order");
  CHECK(s1.branches[0].body[1].kind == StepKind::Exit);
  CHECK_FALSE(s1.branches[0].body[1].has_reason);
  CHECK(text_at(file, s1.branches[0].span) ==
        "on order_completed { send email \"thanks-first-order\"; exit }");

  const Step& s2 = w.steps[2];
  CHECK(s2.kind == StepKind::Send);
  CHECK(s2.channel == "push");
  CHECK(s2.template_name == "welcome-coupon");
  REQUIRE(s2.with.size() == 1);
  CHECK(s2.with[0].key == "code");
  CHECK(text_at(file, s2.with[0].key_span) == "code");
  CHECK(s2.with[0].value.kind == ExprKind::String);
  CHECK(s2.with[0].value.text == "WELCOME10");
  CHECK(text_at(file, s2.with[0].value.span) == "\"WELCOME10\"");
  CHECK(w.steps[3].kind == StepKind::WaitUpTo);
  CHECK(w.steps[3].seconds == 4 * 86400);
  CHECK(w.steps[4].template_name == "last-chance");

  const Segment& d = m.segments[0];
  CHECK(d.name == "dormant");
  CHECK(text_at(file, d.name_span) == "dormant");
  // ((count >= 1) and (since >= 30d)) and (since < 90d)
  const Expr& c = d.condition;
  CHECK(text_at(file, c.span) ==
        "count(order_completed) >= 1 and since(order_completed) >= 30d and since(order_completed) "
        "< 90d");
  REQUIRE(c.kind == ExprKind::Binary);
  CHECK(c.op == BinaryOp::And);
  const Expr& left = c.operands[0];
  REQUIRE(left.kind == ExprKind::Binary);
  CHECK(left.op == BinaryOp::And);
  const Expr& count_ge = left.operands[0];
  CHECK(count_ge.op == BinaryOp::Ge);
  CHECK(count_ge.operands[0].kind == ExprKind::Count);
  CHECK(count_ge.operands[0].text == "order_completed");
  CHECK(text_at(file, count_ge.operands[0].name_span) == "order_completed");
  CHECK(count_ge.operands[0].where.empty());
  CHECK_FALSE(count_ge.operands[0].within);
  CHECK(count_ge.operands[1].kind == ExprKind::Number);
  CHECK(count_ge.operands[1].number == 1);
  const Expr& since_ge = left.operands[1];
  CHECK(since_ge.op == BinaryOp::Ge);
  CHECK(since_ge.operands[0].kind == ExprKind::SinceEvent);
  CHECK(since_ge.operands[0].text == "order_completed");
  CHECK(since_ge.operands[1].kind == ExprKind::Duration);
  CHECK(since_ge.operands[1].seconds == 30 * 86400);
  const Expr& since_lt = c.operands[1];
  CHECK(since_lt.op == BinaryOp::Lt);
  CHECK(since_lt.operands[1].seconds == 90 * 86400);
  CHECK(text_at(file, since_lt.span) == "since(order_completed) < 90d");

  const Journey& k = m.journeys[1];
  CHECK(k.name == "wake_up");
  CHECK_FALSE(k.title);
  REQUIRE(k.entries.size() == 1);
  CHECK(k.entries[0].kind == EntryKind::When);
  CHECK(k.entries[0].condition.kind == ExprKind::IsSegment);
  CHECK(k.entries[0].condition.text == "dormant");
  CHECK_FALSE(k.entries[0].condition.boolean);
  CHECK(text_at(file, k.entries[0].condition.name_span) == "dormant");
  REQUIRE(k.reentry);
  CHECK(k.reentry->kind == ReentryKind::After);
  CHECK(k.reentry->seconds == 60 * 86400);
  REQUIRE(k.exits.size() == 1);
  CHECK(k.exits[0].event.name == "order_completed");
  REQUIRE(k.quiet_hours);
  CHECK(k.quiet_hours->start == 21 * 3600);
  CHECK(k.quiet_hours->end == 9 * 3600);
  REQUIRE(k.cap);
  CHECK(k.cap->count == 2);
  CHECK(k.cap->per == 7 * 86400);

  REQUIRE(k.steps.size() == 3);
  const Step& split = k.steps[0];
  CHECK(split.kind == StepKind::Split);
  REQUIRE(split.variants.size() == 3);
  CHECK(split.variants[0].percent == 45);
  CHECK(split.variants[0].name == "coupon_10");
  CHECK(text_at(file, split.variants[0].name_span) == "coupon_10");
  REQUIRE(split.variants[0].body.size() == 1);
  CHECK(split.variants[0].body[0].channel == "sms");
  REQUIRE(split.variants[0].body[0].with.size() == 1);
  CHECK(split.variants[0].body[0].with[0].key == "amount");
  CHECK(split.variants[0].body[0].with[0].value.number == 10);
  CHECK(split.variants[1].body[0].with[0].value.number == 20);
  CHECK(split.variants[2].percent == 10);
  CHECK(split.variants[2].name == "control");
  CHECK(split.variants[2].body.empty());
  CHECK(k.steps[1].kind == StepKind::Wait);
  CHECK(k.steps[1].seconds == 5 * 86400);

  const Step& iff = k.steps[2];
  CHECK(iff.kind == StepKind::If);
  CHECK_FALSE(iff.has_else);
  REQUIRE(iff.arms.size() == 1);
  const Expr& cond = iff.arms[0].condition;
  REQUIRE(cond.kind == ExprKind::Binary);
  CHECK(cond.op == BinaryOp::And);
  const Expr& consent = cond.operands[0];
  CHECK(consent.op == BinaryOp::Eq);
  CHECK(consent.operands[0].kind == ExprKind::Customer);
  CHECK(consent.operands[0].path == std::vector<std::string>{"consent", "email"});
  CHECK(text_at(file, consent.operands[0].span) == "customer.consent.email");
  CHECK(consent.operands[1].kind == ExprKind::Bool);
  CHECK(consent.operands[1].boolean);
  const Expr& opens = cond.operands[1];
  CHECK(opens.op == BinaryOp::Gt);
  CHECK(opens.operands[0].kind == ExprKind::Count);
  CHECK(opens.operands[0].text == "email_open");
  REQUIRE(opens.operands[0].within);
  CHECK(*opens.operands[0].within == 90 * 86400);
  REQUIRE(iff.arms[0].body.size() == 1);
  CHECK(iff.arms[0].body[0].template_name == "wakeup-new-arrivals");
}

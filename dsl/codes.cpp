#include "dsl/codes.hpp"

#include <algorithm>
#include <cctype>

namespace journey::dsl {

const std::vector<CodeInfo>& all_codes() {
  static const std::vector<CodeInfo> codes = {
      {"E000", "cannot read a file or folder",
       R"(A path given to the command could not be opened: it does not exist, is not readable,
or a folder could not be listed.

Example:
  journey lint jouneys/
  jouneys/: error[E000]: cannot read `jouneys/`: No such file or directory

Fix: check the spelling of the path and its permissions. Folders are searched recursively
for `*.journey` files.)"},
      {"E001", "syntax error",
       R"(The text does not follow the grammar of the journey language: something else was
expected at the marked place. The message says what was expected.

Example:
  journey welcome {
    entry on signup
    send email           # a template name is missing
  }

Fix: complete or correct the statement, e.g. `send email "welcome-1"`. The parser
recovers at the next statement, so later errors are reported too.)"},
      {"E002", "unterminated string",
       R"(A string starts with `"` but the line ends before the closing `"`. Strings cannot
span lines; write a line break as `\n`.

Example:
  send email "welcome-1

Fix: close the string: `send email "welcome-1"`.)"},
      {"E003", "invalid escape in a string",
       R"(Inside a string, a backslash must start one of the escapes `\"`, `\\`, `\n`, `\t`
or `\uXXXX` (four hex digits).

Example:
  title "Spring \sale"

Fix: write a literal backslash as `\\`, or use one of the escapes above.)"},
      {"E004", "nesting too deep",
       R"(Blocks or parentheses are nested more deeply than the parser allows. This guards
the tools against runaway input; no real journey needs that depth.

Example:
  if a { if b { if c { ... hundreds of levels ... } } }

Fix: flatten the logic, e.g. combine conditions with `and`, or move parts into segments.)"},
      {"E005", "invalid literal",
       R"(A duration, time of day or percentage is malformed: an unknown duration unit (use
s, m, h, d, w), a time of day outside 00:00-23:59, or a bad percentage.

Example:
  wait 3days
  quiet hours 21:00-25:00

Fix: `wait 3d`, `quiet hours 21:00-09:00`.)"},
      {"E006", "keyword used as a name",
       R"(A journey, segment, label or unquoted event is named with a reserved keyword such
as `entry`, `wait` or `event`.

Example:
  journey wait { entry on signup }

Fix: choose another name (`journey wait_and_see`); an event whose name is a keyword can
be quoted: `entry on "exit"`.)"},
      {"E007", "header clause after the first step",
       R"(Header clauses (title, entry, reentry, exit, goal, quiet hours, cap, on update) must
come before the first step of a journey.

Example:
  journey welcome {
    entry on signup
    send email "welcome-1"
    exit on unsubscribe      # too late: steps have started
  }

Fix: move the clause above the first step.)"},
      {"E100", "journey has no entry clause",
       R"(Every journey needs at least one `entry on`, `entry when` or `entry every` clause;
without one no customer can ever enter it.

Example:
  journey welcome {
    send email "welcome-1"
  }

Fix: say how customers enter:
  journey welcome {
    entry on signup
    send email "welcome-1"
  })"},
      {"E101", "undefined label",
       R"(A `goto` names a label that no step of the same journey carries. Labels are local to
their journey.

Example:
  goto retyr
  ...
  retry: send email "reminder"

Fix: correct the name (`goto retry`) or put the label on the step to jump to.)"},
      {"E102", "duplicate label",
       R"(Two steps of the same journey carry the same label, so a `goto` to it would be
ambiguous. The note shows where the label was first defined.

Example:
  remind: send email "reminder-1"
  remind: send email "reminder-2"

Fix: give each labelled step its own name.)"},
      {"E103", "duplicate journey or segment name",
       R"(Two journeys, or two segments, have the same name among all the files loaded
together. Names must be unique so that reports, versions and `customer is NAME` refer to
one thing. The note shows the first declaration.

Example:
  # a.journey
  segment vip = sum(order_completed.amount) > 1000
  # b.journey
  segment vip = count(order_completed) > 10

Fix: rename one of them, or delete the copy.)"},
      {"E104", "unknown segment",
       R"(`customer is NAME` names a segment that is not declared in any loaded file.

Example:
  entry when customer is dormnt
  segment dormant = since(order_completed) >= 30d

Fix: correct the name (`customer is dormant`), declare the segment, or lint the file that
declares it together with this one.)"},
      {"E105", "segment cycle",
       R"(Segments refer to each other in a circle, so none of them can be evaluated. The
error is reported once, at the first segment of the cycle in source order, and names the
whole cycle.

Example:
  segment a = customer is b and count(order_completed) > 0
  segment b = customer is a

Fix: break the cycle: write one of the conditions out in full instead of referring back.)"},
      {"E106", "split percentages do not sum to 100",
       R"(The variants of a `split` must share out all customers: their percentages must add
up to exactly 100.

Example:
  split {
    45% coupon_10 { send sms "coupon" with { amount: 10 } }
    45% coupon_20 { send sms "coupon" with { amount: 20 } }
  }

Fix: adjust the numbers, or add a control group that does nothing:
    10% control { })"},
      {"E107", "loop with no wait",
       R"(A `goto` can come back to itself without passing any `wait`, `wait until` or
`wait up to`, so the steps would run in a circle at the same instant. The engine stops such
a run after a fixed step budget and records an error for the customer.

Example:
  again: send email "hello"
  goto again

Fix: put a wait in the loop:
  again: send email "hello"
  wait 7d
  goto again)"},
      {"E108", "type mismatch",
       R"(An expression combines values whose types are known when linting and do not fit:
a duration compared with a number, arithmetic on strings or booleans, `not` or `and` on
something that is not a bool, a condition that is not a bool. At run time such a
comparison would always be false.

Example:
  entry when since(order_completed) > 30
  if "gold" == 1 { ... }

Fix: compare like with like, e.g. `since(order_completed) > 30d`.)"},
      {"E109", "`wait up to` with no `on` branch",
       R"(`wait up to D { ... }` waits for an event, but the block has no `on EVENT` branch,
so it can only time out.

Example:
  wait up to 3d {
    timeout { send email "reminder" }
  }

Fix: add the event to wait for (`on order_completed { exit }`), or use a plain `wait 3d`.)"},
      {"E110", "impossible value",
       R"(A number or duration makes the clause meaningless: `cap 0 per D` (no send could ever
go out), `cap N per 0s`, quiet hours whose start and end are equal, or a zero duration
where one is needed (`wait 0s`, `wait up to 0s`, `within 0s`, `expected_orders(0s)`).

Example:
  cap 0 per 1d
  quiet hours 09:00-09:00

Fix: use a positive count and duration (`cap 1 per 1d`) and distinct quiet hours
(`quiet hours 21:00-09:00`); remove a `wait 0s`.)"},
      {"E111", "`event.` with no event in scope",
       R"(`event.PATH` reads the latest event that moved the journey, but at this place there
is none: in a segment, in `entry when`, `exit when` or `entry every`, or in the steps of a
journey entered by a condition, before any `on` branch.

An event is in scope in the `where` of `entry on`, `exit on`, `goal`, a wait branch and an
aggregate; in the steps of a journey with an `entry on`; inside an `on` branch and after it.

Example:
  journey winback {
    entry when customer is dormant
    send email "winback" with { item: event.sku }
  }

Fix: use `last(order_completed).sku`, or a `customer.` attribute.)"},
      {"E112", "`trigger.` in a journey without an event entry",
       R"(`trigger.PATH` reads the event that made the customer enter, so it needs an
`entry on EVENT` clause. Segments have no trigger at all.

Example:
  journey winback {
    entry when customer is dormant
    send email "winback" with { item: trigger.sku }
  }

Fix: enter on an event (`entry on cart_abandoned`), or read the value elsewhere
(`last(cart_abandoned).sku`).)"},
      {"E113", "unknown channel",
       R"(A `send` uses a channel that is not in the configured channel list (`--channels` or
the engine's configuration).

Example (with --channels email,sms,push):
  send emial "welcome-1"

Fix: correct the channel name, or add the channel to the list.)"},
      {"E114", "unknown event",
       R"(A tracking plan was given (`--plan FILE`) and this event is neither in it nor emitted
by any loaded journey. Usually a misspelling.

Example:
  entry on order_complete     # the plan has order_completed

Fix: correct the event name, or add the event to the tracking plan.)"},
      {"E115", "unknown event property",
       R"(A tracking plan was given and the event is in it, but this property is not listed
for that event.

Example (the plan lists order_completed with amount and sku):
  goal big_order: order_completed where event.ammount > 100 within 7d

Fix: correct the property name (`event.amount`), or add it to the tracking plan.)"},
      {"E116", "event property type mismatch",
       R"(A tracking plan gives the type of an event property, and the expression uses it as
another type: comparing a number property with a string, summing a string property...

Example (amount is a number in the plan):
  exit on order_completed where event.amount == "100"

Fix: use a value of the right type (`event.amount == 100`), or correct the plan.)"},
      {"E117", "header clause repeated",
       R"(`title`, `reentry`, `quiet hours`, `cap` and `on update` may appear at most once per
journey; a second one would silently override the first. The note shows the first.

Example:
  cap 2 per 7d
  cap 1 per 1d

Fix: keep one clause. (`entry`, `exit` and `goal` clauses may repeat.))"},
      {"E118", "duplicate name in a journey",
       R"(Two goals of the same journey, or two variants of the same split, have the same
name, so reports could not tell them apart. The note shows the first.

Example:
  split {
    50% coupon { send sms "coupon-a" }
    50% coupon { send sms "coupon-b" }
  }

Fix: give each goal and each variant its own name.)"},
      {"E119", "prediction without a purchase model",
       R"(`p_alive()`, `expected_orders(DURATION)` and `predicted_value(DURATION)` are computed
from a purchase model fitted on your own history (BG/NBD, and Gamma-Gamma for the value),
and none was given; or `predicted_value` is used with a model fitted without spend.
`journey lint`, `simulate` and `explain` take the model file with `--model FILE`;
`journey serve` with `[model] file = "model.json"` in journey.toml, and refuses to start
without it.

Example:
  journey lint winback.journey                # no --model
  segment churn_risk_high = p_alive() < 0.3

Fix: fit the model once, `journey model fit --events history.ndjson --value amount
--out model.json`, then `journey lint winback.journey --model model.json`. For
`predicted_value`, fit with `--value PROPERTY` (the order's amount).)"},
      {"E120", "calendar attribute is not a date",
       R"(A calendar clause (`entry every year on customer.PATH`, `entry on date customer.PATH`,
`wait until customer.PATH`) reads a date from a customer attribute, and the tracking plan
(`--plan FILE`, its `customer` table) says that attribute holds something else: a number,
a boolean, an object or an array. A date is written "YYYY-MM-DD" or as an ISO-8601
timestamp; the plan types "date", "timestamp" and "string" are accepted.

Example:
  # plan.json: {"events": {}, "customer": {"loyalty_points": "number"}}
  entry every year on customer.loyalty_points at 09:00

Fix: use the attribute that holds the date (`customer.birthday`), or correct its type in
the tracking plan.)"},
      {"E121", "transactional send with a topic",
       R"(A send marked `transactional` (or any send of a journey whose header says
`transactional`) also names a subscription `topic`. Transactional sends (order
confirmations, password resets) skip topic checks, caps, quiet hours and the global holdout,
so the topic would never be checked: the send is either a marketing message or it is not.

Example:
  send email "order-confirmation" topic newsletter transactional

Fix: remove `topic NAME` from a transactional send, or remove `transactional` when the
message is marketing that customers can unsubscribe from.)"},
      {"W101", "unreachable step",
       R"(A step follows an `exit` or a `goto` in the same block, so it can never run (unless
it carries a label that some `goto` jumps to). This is a warning; `--strict` makes it fail
the lint.

Example:
  send email "bye"
  exit
  send email "never sent"

Fix: remove the step, move it before the `exit`, or label it and jump to it.)"},
      {"W102", "calendar offset longer than a year",
       R"(An `offset` moves the date of a calendar clause (`entry every year on`, `entry on
date`, `wait until customer.PATH`) by more than a year. For a yearly entry that can never
mean what it says, and elsewhere it is most often a wrong unit. This is a warning; `--strict`
makes it fail the lint.

Example:
  entry on date customer.renewal_at offset -700d

Fix: check the number and the unit (`-7d`, `-70d`); for "a year before", write `-365d`.)"},
      {"W103", "experiment in a transactional journey",
       R"(A journey marked `transactional` has a `split` or a `goal`. Transactional messages
(receipts, password resets, shipping notices) go to every customer who needs them; a split
would withhold or vary one, and a goal measures a conversion that a receipt is not there to
drive. This is a warning; `--strict` makes it fail the lint.

Example:
  journey order_confirmation {
    transactional
    entry on order_completed
    goal review: review_posted within 14d
    send email "order-confirmation"
  }

Fix: remove the split or the goal, or move the experiment to a marketing journey (for
example a review request after the confirmation).)"},
      {"W104", "undeclared subscription topic",
       R"(A send names a subscription `topic` that the `[topics]` table of the project's
journey.toml (or .journeyrc) does not declare, while it declares others. The daemon treats
an undeclared topic as opt-in: only customers with `customer.subscriptions.TOPIC = true` get
the message, so a misspelt topic quietly reaches almost no one. This is a warning; `--strict`
makes it fail the lint. It is only reported when the project declares topics (the daemon
reports it too, from its own [topics], when it loads journeys).

Example:
  [topics]
  newsletter = "opt-in"

  send email "weekly-digest" topic newsleter

Fix: correct the name, or declare the topic in [topics] with its default
(`NAME = "opt-in"` or `NAME = "opt-out"`).)"},
  };
  return codes;
}

std::optional<CodeInfo> find_code(std::string_view code) {
  for (const auto& info : all_codes()) {
    if (info.code.size() != code.size()) continue;
    const bool same =
        std::equal(info.code.begin(), info.code.end(), code.begin(), [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) ==
                 std::toupper(static_cast<unsigned char>(b));
        });
    if (same) return info;
  }
  return std::nullopt;
}

}  // namespace journey::dsl

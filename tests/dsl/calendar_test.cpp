// The calendar clauses (issue 20) parse into the AST that ast.hpp describes, print back in one
// canonical form, and report bad dates and day sets at their place.
#include <catch2/catch.hpp>

#include "dsl/fmt.hpp"
#include "dsl/parser.hpp"
#include "dsl/print.hpp"
#include "dsl_support.hpp"

using namespace journey::dsl;
using journey::test::formatted;
using journey::test::one_journey;

namespace {

std::vector<std::string> codes(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& d : parse(SourceFile("t.journey", text)).diagnostics) out.push_back(d.code);
  return out;
}

}  // namespace

TEST_CASE("calendar syntax: date-attribute and broadcast entries", "[calendar]") {
  const Journey j = one_journey(R"(journey j {
  entry every year on customer.profile.birthday at 09:30 offset -7d when customer.vip == true
  entry on date customer.renewal_at offset +2h
  entry at 2026-12-24T10:00 local when customer.consent.email == true
  entry at 2026-12-31T23:59:30
  entry on date where event.x == 1
  send email "x"
})");
  REQUIRE(j.entries.size() == 5);
  CHECK(j.entries[0].kind == EntryKind::Yearly);
  CHECK(j.entries[0].path == std::vector<std::string>{"profile", "birthday"});
  CHECK(j.entries[0].time_of_day == 9 * 3600 + 1800);
  CHECK(j.entries[0].offset == -7 * 86400);
  CHECK(j.entries[0].where);
  CHECK(j.entries[1].kind == EntryKind::OnDate);
  CHECK(j.entries[1].time_of_day == 0);
  CHECK(j.entries[1].offset == 7200);
  CHECK(j.entries[2].kind == EntryKind::At);
  CHECK(j.entries[2].local);
  CHECK(date_time_text(j.entries[2].at) == "2026-12-24T10:00");
  CHECK(j.entries[3].kind == EntryKind::At);
  CHECK_FALSE(j.entries[3].local);
  CHECK(date_time_text(j.entries[3].at) == "2026-12-31T23:59:30");
  // An event named `date` is still an event.
  CHECK(j.entries[4].kind == EntryKind::On);
  CHECK(j.entries[4].event.name == "date");
}

TEST_CASE("calendar syntax: waits and send windows", "[calendar]") {
  const Journey j = one_journey(R"(journey j {
  entry on signup
  send window mon-wed,fri 09:00-18:00 except holidays
  wait until monday 09:00
  wait until weekday 08:30
  wait until sat,sun 10:00
  wait until 07:00
  wait until customer.renewal_at offset -3d
  wait until now + 2d
})");
  REQUIRE(j.send_window);
  CHECK(j.send_window->weekdays == 0b0101110);
  CHECK(j.send_window->start == 9 * 3600);
  CHECK(j.send_window->end == 18 * 3600);
  CHECK(j.send_window->except_holidays);
  REQUIRE(j.steps.size() == 6);
  CHECK(j.steps[0].kind == StepKind::WaitUntil);
  CHECK(j.steps[0].weekdays == 0b0000010);
  CHECK(j.steps[1].weekdays == 0b0111110);
  CHECK(j.steps[2].weekdays == 0b1000001);
  CHECK(j.steps[3].weekdays == 0);
  CHECK(j.steps[4].kind == StepKind::WaitUntilDate);
  CHECK(j.steps[4].value.kind == ExprKind::Customer);
  CHECK(j.steps[4].offset == -3 * 86400);
  CHECK(j.steps[5].kind == StepKind::WaitUntilDate);
  CHECK(j.steps[5].value.kind == ExprKind::Binary);
}

TEST_CASE("calendar syntax: weekday sets print in one canonical form", "[calendar]") {
  CHECK(days_text(0x7F) == "daily");
  CHECK(days_text(0x3E) == "weekdays");
  CHECK(days_text(0x41) == "weekends");
  CHECK(days_text(0b0000100) == "tuesday");
  CHECK(days_text(0b0101110) == "mon-wed,fri");
  CHECK(days_text(0b1100011) == "mon,fri-sun");
  CHECK(offset_text(-7 * 86400) == "-7d");
  CHECK(offset_text(5400) == "+1h30m");
  CHECK(formatted(R"(journey j {
  entry every year on customer.birthday at 09:00 offset -1d
  send window fri-mon 09:00-17:00
  entry at 2026-12-24T10:00 local
  wait until weekday 09:00
  wait until customer.renewal_at offset 3d
})") == R"(journey j {
  entry every year on customer.birthday at 09:00 offset -1d
  entry at 2026-12-24T10:00 local
  send window mon,fri-sun 09:00-17:00

  wait until weekdays 09:00
  wait until customer.renewal_at offset +3d
}
)");
}

TEST_CASE("calendar syntax: bad dates, days and windows are reported", "[calendar]") {
  CHECK(codes("journey j {\n  entry at 2026-02-29T10:00\n  send email \"x\"\n}\n") ==
        std::vector<std::string>{"E005"});
  CHECK(codes("journey j {\n  entry at 2026-12-24T24:00\n  send email \"x\"\n}\n") ==
        std::vector<std::string>{"E005"});
  CHECK(codes("journey j {\n  entry at tomorrow\n  send email \"x\"\n}\n") ==
        std::vector<std::string>{"E001"});
  CHECK(codes("journey j {\n  entry on a\n  send window mon-xyz 09:00-10:00\n}\n") ==
        std::vector<std::string>{"E001"});
  CHECK(codes("journey j {\n  entry on a\n  wait until friday\n}\n") ==
        std::vector<std::string>{"E001"});
  CHECK(codes("journey j {\n  entry every year on customer.d offset\n}\n") ==
        std::vector<std::string>{"E001"});
  const auto short_time =
      parse(SourceFile("t.journey", "journey j {\n  entry on a\n  wait until 9:00\n}\n"));
  REQUIRE(short_time.diagnostics.size() == 1);
  CHECK(short_time.diagnostics[0].message.find("write `09:00`") != std::string::npos);
}

// `journey simulate` and `journey explain` through the real binary: the order law (actions do
// not depend on the order of input lines among customers), --trace, --actions, --strict.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace fs = std::filesystem;

using namespace journey::test;

namespace {

const fs::path kSpec =
    fs::path(JOURNEY_TESTS_DIR) / "scenarios" / "spec_example" / "journeys.journey";

// A history for many customers: each customer's own lines keep their relative order.
std::vector<std::vector<std::string>> histories(int customers) {
  std::mt19937 rng(42);
  std::vector<std::vector<std::string>> out;
  const char* const names[] = {"signup", "order_completed", "email_open", "unsubscribe"};
  for (int c = 0; c < customers; ++c) {
    std::vector<std::string> lines;
    const std::string id = "c" + std::to_string(c);
    lines.push_back(
        R"({"type":"identify","userId":")" + id +
        R"(","timestamp":"2026-01-01T00:00:00Z","traits":{"timezone":"America/New_York","consent":{"email":true,"sms":true,"push":true}}})");
    int day = 1;
    for (int i = 0; i < 6; ++i) {
      day += static_cast<int>(rng() % 20);
      const int hour = static_cast<int>(rng() % 24);
      char ts[64];
      std::snprintf(ts, sizeof ts, "2026-%02d-%02dT%02d:00:00Z", 1 + (day - 1) / 28,
                    1 + (day - 1) % 28, hour);
      lines.push_back(std::string(R"({"type":"track","event":")") + names[rng() % 4] +
                      R"(","userId":")" + id + R"(","timestamp":")" + ts + R"("})");
    }
    out.push_back(std::move(lines));
  }
  return out;
}

// The histories one customer after another, one line each.
std::string ndjson(const std::vector<std::vector<std::string>>& histories) {
  std::string out;
  for (const auto& h : histories) {
    for (const auto& l : h) out += l + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("simulate output does not depend on the order of lines among customers",
          "[simulate][property]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  const auto hist = histories(30);
  write_file(dir / "a.ndjson", ndjson(hist));
  const auto base = run_journey(dir, "simulate j.journey --events a.ndjson");
  REQUIRE(base.code == 0);
  REQUIRE(std::count(base.out.begin(), base.out.end(), '\n') > 30);
  std::mt19937 rng(3);
  for (int round = 0; round < 3; ++round) {
    // Interleave customers at random, keeping each customer's own order.
    std::vector<std::size_t> next(hist.size(), 0);
    std::vector<std::size_t> pending;
    for (std::size_t c = 0; c < hist.size(); ++c) pending.insert(pending.end(), hist[c].size(), c);
    std::shuffle(pending.begin(), pending.end(), rng);
    std::string shuffled;
    for (const auto c : pending) shuffled += hist[c][next[c]++] + "\n";
    write_file(dir / "b.ndjson", shuffled);
    const auto other = run_journey(dir, "simulate j.journey --events b.ndjson");
    CHECK(other.code == 0);
    CHECK(other.out == base.out);
    const auto threaded = run_journey(dir, "simulate j.journey --events b.ndjson --threads 2");
    CHECK(threaded.out == base.out);
    const auto report = run_journey(dir, "simulate j.journey --events a.ndjson --report");
    const auto report_threaded =
        run_journey(dir, "simulate j.journey --events b.ndjson --report --threads 2");
    CHECK(report_threaded.out == report.out);
  }
  fs::remove_all(dir);
}

TEST_CASE("simulate --trace writes the trace to stderr and keeps actions on stdout", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  fs::copy_file(kSpec.parent_path() / "events.ndjson", dir / "e.ndjson");
  const auto plain = run_journey(dir, "simulate j.journey --events e.ndjson");
  const auto traced = run_journey(dir, "simulate j.journey --events e.ndjson --trace c1");
  CHECK(traced.code == 0);
  CHECK(traced.out == plain.out);
  CHECK(traced.err.find("welcome: entry on signup: entered") != std::string::npos);
  const auto explained =
      run_journey(dir, "explain j.journey --events e.ndjson --customer c1 --journey wake_up");
  CHECK(explained.code == 0);
  CHECK(explained.out.find("wake_up: split coupon_10/coupon_20/control: variant") !=
        std::string::npos);
  CHECK(explained.out.find("welcome:") == std::string::npos);
  const auto unknown =
      run_journey(dir, "explain j.journey --events e.ndjson --customer c1 --journey nope");
  CHECK(unknown.code == 2);
  fs::remove_all(dir);
}

TEST_CASE("simulate --report --actions FILE writes both", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  fs::copy_file(kSpec.parent_path() / "events.ndjson", dir / "e.ndjson");
  const auto plain = run_journey(dir, "simulate j.journey --events e.ndjson");
  const auto report =
      run_journey(dir, "simulate j.journey --events e.ndjson --report --actions acts.ndjson");
  CHECK(report.code == 0);
  CHECK(report.out.find("journey welcome (version ") != std::string::npos);
  CHECK(slurp(dir / "acts.ndjson") == plain.out);
  fs::remove_all(dir);
}

TEST_CASE("malformed lines name FILE:LINE and are counted, --strict stops", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  write_file(dir / "e.ndjson",
             "{\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c1\",\"timestamp\":\"2026-01-"
             "01T00:00:00Z\"}\n"
             "not json\n"
             "{\"type\":\"track\",\"event\":\"signup\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n");
  const auto lax = run_journey(dir, "simulate j.journey --events e.ndjson --consent assumed");
  CHECK(lax.code == 0);
  CHECK(lax.err.find("e.ndjson:2: invalid JSON") != std::string::npos);
  CHECK(lax.err.find("e.ndjson:3: $.userId: missing userId") != std::string::npos);
  CHECK(lax.err.find("2 input lines skipped") != std::string::npos);
  CHECK(lax.out.find("\"customer_id\":\"c1\"") != std::string::npos);
  const auto strict = run_journey(dir, "simulate j.journey --events e.ndjson --strict");
  CHECK(strict.code == 1);
  CHECK(strict.out.empty());
  const auto missing = run_journey(dir, "simulate j.journey --events nowhere.ndjson");
  CHECK(missing.code == 2);
  CHECK(missing.err.find("nowhere.ndjson") != std::string::npos);
  const auto bad_until = run_journey(dir, "simulate j.journey --events e.ndjson --until tomorrow");
  CHECK(bad_until.code == 2);
  fs::remove_all(dir);
}

TEST_CASE("simulate --report-html writes one page, the same bytes whatever the threads",
          "[simulate][report]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  write_file(dir / "e.ndjson", ndjson(histories(30)));
  const auto plain = run_journey(dir, "simulate j.journey --events e.ndjson");
  const auto one =
      run_journey(dir, "simulate j.journey --events e.ndjson --report-html one.html --threads 1");
  REQUIRE(one.code == 0);
  CHECK(one.out == plain.out);  // without --report the actions still go to stdout
  const auto four = run_journey(
      dir, "simulate j.journey --events e.ndjson --report --report-html four.html --threads 4");
  REQUIRE(four.code == 0);
  CHECK(four.out.find("journey wake_up (version ") == 0);
  const auto page = slurp(dir / "one.html");
  CHECK(page == slurp(dir / "four.html"));
  CHECK(page.rfind("<!doctype html>", 0) == 0);
  CHECK(page.find("<title>Dry run of j.journey over e.ndjson</title>") != std::string::npos);
  // Self-contained: no script, nothing loaded from anywhere.
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  CHECK(page.find("url(") == std::string::npos);
  // A canvas and a goal chart for each journey of the file, with the report's numbers.
  for (const char* journey : {"welcome", "wake_up"}) {
    INFO(journey);
    CHECK(page.find(std::string("id=\"journey-") + journey + "\"") != std::string::npos);
    CHECK(page.find(std::string("id=\"") + journey + "&#45;canvas\"") != std::string::npos);
  }
  CHECK(page.find("class=\"goal-chart\"") != std::string::npos);
  const auto entered = four.out.find("entered");
  REQUIRE(entered != std::string::npos);
  const auto count = std::stoll(four.out.substr(four.out.find_first_of("0123456789", entered)));
  CHECK(count > 0);
  CHECK(page.find(std::to_string(count) + " entered") != std::string::npos);

  const auto unwritable =
      run_journey(dir, "simulate j.journey --events e.ndjson --report-html no/such/dir/r.html");
  CHECK(unwritable.code == 2);
  CHECK(unwritable.err.find("cannot write no/such/dir/r.html") != std::string::npos);
}

TEST_CASE("graph --format svg draws one journey's canvas", "[graph]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  const auto svg = run_journey(dir, "graph j.journey --journey welcome --format svg");
  REQUIRE(svg.code == 0);
  CHECK(svg.out.rfind("<svg", 0) == 0);
  CHECK(svg.out.find("welcome&#45;1") != std::string::npos);
  CHECK(svg.out == run_journey(dir, "graph j.journey --journey welcome --format svg").out);
  const auto two = run_journey(dir, "graph j.journey --format svg");
  CHECK(two.code == 2);
  CHECK(two.err.find("--format svg draws one journey; name it with --journey") !=
        std::string::npos);
  CHECK(two.err.find("(the paths hold wake_up, welcome)") != std::string::npos);
  const auto mermaid = run_journey(dir, "graph j.journey --journey wake_up --format mermaid");
  CHECK(mermaid.out.find("#58;") == std::string::npos);
  CHECK(mermaid.out.find("#quot;") == std::string::npos);
}

TEST_CASE("a history with anonymous sessions gives one welcome series per person, as without",
          "[simulate][identity]") {
  // examples/generate --anonymous 30: 30% of the customers send the first half of their events
  // as anon-ID and log in at the middle one. Their welcome series are the same sends at the same
  // times as with their userId all along; the sends before the login go to the anonymous id.
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(fs::path(JOURNEY_SOURCE_DIR) / "bench" / "welcome.journey", dir / "w.journey");
  for (const char* percent : {"0", "30"}) {
    const std::string command =
        std::string("'") + JOURNEY_GENERATE + "' --customers 300 --seed 5 --anonymous " + percent +
        " > '" + (dir / (std::string("events-") + percent + ".ndjson")).string() + "'";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  const auto known = run_journey(dir, "simulate w.journey --events events-0.ndjson");
  const auto anonymous =
      run_journey(dir, "simulate w.journey --events events-30.ndjson --report --actions a.ndjson");
  REQUIRE(known.code == 0);
  REQUIRE(anonymous.code == 0);
  CHECK_THAT(anonymous.out, Catch::Contains("identity: 90 merged into another id, 0 refused"));
  // Each action as (person, template, time): the anonymous id stands for its person.
  const auto sends = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      auto action = nlohmann::json::parse(line);
      std::string person = action["customer_id"];
      if (person.rfind("anon-", 0) == 0) person = person.substr(5);
      out.push_back(person + " " + action["template"].get<std::string>() + " " +
                    action["at"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::string actions = slurp(dir / "a.ndjson");
  CHECK(actions.find("\"customer_id\":\"anon-") != std::string::npos);
  CHECK(sends(actions) == sends(known.out));
  CHECK_FALSE(sends(known.out).empty());
}

TEST_CASE("the global holdout holds out the same customers in every journey and file order",
          "[simulate][program]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  write_file(dir / "j.journey", R"(
journey welcome {
  entry on signup
  goal first_order: order_completed within 30d
  send email "welcome-1"
}
journey buyers {
  entry on order_completed
  reentry always
  send email "thanks"
}
journey receipts {
  entry on order_completed
  reentry always
  transactional
  send email "receipt"
}
)");
  std::string lines;
  for (int c = 0; c < 200; ++c) {
    const std::string id = "u" + std::to_string(c);
    lines += R"({"type":"identify","userId":")" + id +
             R"(","timestamp":"2026-01-01T00:00:00Z","traits":{"consent":{"email":true}}})"
             "\n";
    lines += R"({"type":"track","event":"signup","userId":")" + id +
             R"(","timestamp":"2026-01-02T00:00:00Z"})"
             "\n";
    if (c % 3 == 0)
      lines += R"({"type":"track","event":"order_completed","userId":")" + id +
               R"(","timestamp":"2026-01-05T00:00:00Z"})"
               "\n";
  }
  write_file(dir / "a.ndjson", lines);
  // The same lines, customers in reverse order.
  std::vector<std::string> split;
  std::istringstream in(lines);
  for (std::string l; std::getline(in, l);) split.push_back(l);
  std::string reversed;
  for (auto it = split.rbegin(); it != split.rend(); ++it) reversed += *it + "\n";
  write_file(dir / "b.ndjson", reversed);

  // journey -> customers whose send it held out; and the customers of transactional sends.
  const auto held = [&dir](const std::string& events, const std::string& flags) {
    const auto r = run_journey(dir, "simulate j.journey --events " + events + " " + flags);
    REQUIRE(r.code == 0);
    std::map<std::string, std::set<std::string>> out;
    std::istringstream actions(r.out);
    for (std::string l; std::getline(actions, l);) {
      const auto a = nlohmann::json::parse(l);
      if (a.value("reason", "") == "holdout") out[a["journey"]].insert(a["customer_id"]);
      if (a.value("transactional", false)) CHECK(a["status"] == "sent");
    }
    return out;
  };
  const auto five = held("a.ndjson", "--holdout 5%");
  REQUIRE(five.count("welcome") == 1);
  CHECK(five.count("receipts") == 0);
  const auto& welcome = five.at("welcome");
  CHECK(welcome.size() > 2);  // 5% of 200
  CHECK(welcome.size() < 25);
  // A customer held out of one journey is held out of the other.
  for (const auto& id : five.at("buyers")) CHECK(welcome.count(id) == 1);
  for (const auto& id : welcome) {
    if (std::stoi(id.substr(1)) % 3 == 0) CHECK(five.at("buyers").count(id) == 1);
  }
  CHECK(held("b.ndjson", "--holdout 5% --threads 2") == five);  // whatever the file order
  // A larger share keeps the smaller one; another salt draws another holdout.
  const auto twenty = held("a.ndjson", "--holdout 20%");
  for (const auto& id : welcome) CHECK(twenty.at("welcome").count(id) == 1);
  CHECK(held("a.ndjson", "--holdout 5% --holdout-salt other") != five);
  // The report reads the program lift per goal.
  const auto report =
      run_journey(dir, "simulate j.journey --events a.ndjson --holdout 5% --report");
  CHECK(report.out.find("first_order  treated") != std::string::npos);
  CHECK(report.out.find("first_order  holdout") != std::string::npos);
  // Bad flags are usage errors naming the flag.
  const auto bad = run_journey(dir, "simulate j.journey --events a.ndjson --holdout 5");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--holdout: expected a share") != std::string::npos);
  const auto topic = run_journey(dir, "simulate j.journey --events a.ndjson --topic news=maybe");
  CHECK(topic.code == 2);
  CHECK(topic.err.find("--topic: expected NAME=opt-in or NAME=opt-out") != std::string::npos);
}

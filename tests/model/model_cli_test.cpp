// `journey model fit` through the real binary on NDJSON events: the CDNOW figures of the paper
// in its output, the holdout table, the plot and the model file; bad input named by place.
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cdnow_fixture.hpp"
#include "cli/cli_support.hpp"

using namespace journey::test;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("model fit on CDNOW prints the paper's BG/NBD figures and the holdout check") {
  TempDir dir;
  REQUIRE_FALSE(write_cdnow_events(dir.path).empty());
  const auto run =
      run_journey(dir.path,
                  "model fit --events cdnow.ndjson --holdout-from 1997-10-01 --value amount "
                  "--plot cdnow.svg --out model.json");
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(has(run.out, "BG/NBD on 2357 customers, 1997-01-01 to 1997-09-30, time in weeks"));
  CHECK(has(run.out, "  r           0.243"));
  CHECK(has(run.out, "  alpha       4.414"));
  CHECK(has(run.out, "  a           0.793"));
  CHECK(has(run.out, "  b           2.426"));
  CHECK(has(run.out, "  log-likelihood -9582.4\n"));
  CHECK(has(run.out, "Gamma-Gamma on 946 customers"));
  CHECK(has(run.out, "  p           6.250"));
  CHECK(has(run.out, "holdout 1997-10-01 to 1998-06-30 (39.0 weeks)"));
  CHECK(has(run.out, "  7+ "));
  CHECK(has(run.out, "  all                         2357      1882"));

  const std::string svg = slurp(dir.path / "cdnow.svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(has(svg, "predicted (BG/NBD)"));
  CHECK(has(svg, "weeks since 1997-01-01"));

  const auto model = nlohmann::json::parse(slurp(dir.path / "model.json"));
  CHECK(model["format"] == "journey-model");
  CHECK(model["version"] == 1);
  CHECK(model["unit_days"] == 7.0);
  CHECK(model["calibration"]["until"] == "1997-09-30");
  CHECK(model["bg_nbd"]["r"].get<double>() == Approx(0.243).margin(5e-4));
  CHECK(model["bg_nbd"]["alpha"].get<double>() == Approx(4.414).margin(5e-4));
  CHECK(model["gamma_gamma"]["property"] == "amount");
  CHECK(model["gamma_gamma"]["customers"] == 946);
}

TEST_CASE("model fit in days scales alpha by seven") {
  TempDir dir;
  REQUIRE_FALSE(write_cdnow_events(dir.path).empty());
  const auto run =
      run_journey(dir.path, "model fit --events cdnow.ndjson --until 1997-09-30 --unit day");
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(has(run.out, "time in days"));
  CHECK(has(run.out, "  r           0.243"));
  CHECK(has(run.out, "  alpha      30.895"));
}

TEST_CASE("model fit names the line of bad input and the flag of a bad value") {
  TempDir dir;
  dir.write(
      "events.ndjson",
      R"({"type":"track","event":"order_completed","userId":"u1","timestamp":"2026-01-01T00:00:00Z","properties":{"amount":12.5}})"
      "\n{oops\n");
  auto run = run_journey(dir.path, "model fit --events events.ndjson");
  CHECK(run.code == 2);
  CHECK(has(run.err, "events.ndjson:2: error:"));

  dir.write(
      "no_amount.ndjson",
      R"({"type":"track","event":"order_completed","userId":"u1","timestamp":"2026-01-01T00:00:00Z"})"
      "\n");
  run = run_journey(dir.path, "model fit --events no_amount.ndjson --value amount");
  CHECK(run.code == 2);
  CHECK(has(run.err, "no_amount.ndjson:1: error: $.properties.amount: missing"));

  run = run_journey(dir.path, "model fit --events missing.ndjson");
  CHECK(run.code == 2);
  CHECK(has(run.err, "--events: cannot read missing.ndjson"));

  run = run_journey(dir.path, "model fit --events no_amount.ndjson --until yesterday");
  CHECK(run.code == 2);
  CHECK(has(run.err, "--until: unparsable date \"yesterday\""));

  run = run_journey(
      dir.path, "model fit --events no_amount.ndjson --until 2026-02-01 --holdout-from 2026-01-15");
  CHECK(run.code == 2);
  CHECK(has(run.err, "--holdout-from: 2026-01-15 must come after --until 2026-02-01"));

  run = run_journey(dir.path, "model fit --events no_amount.ndjson --unit month");
  CHECK(run.code == 2);
  CHECK(has(run.err, "--unit"));
}

TEST_CASE("model fit without repeat purchases reports that the model cannot be fitted") {
  TempDir dir;
  dir.write(
      "events.ndjson",
      R"({"type":"track","event":"order_completed","userId":"u1","timestamp":"2026-01-01T00:00:00Z"})"
      "\n"
      R"({"type":"track","event":"order_completed","userId":"u2","timestamp":"2026-01-05T00:00:00Z"})"
      "\n");
  auto run = run_journey(dir.path, "model fit --events events.ndjson");
  CHECK(run.code == 1);
  CHECK(has(run.err, "no customer bought twice in the calibration period"));
  run = run_journey(dir.path, "model fit --events events.ndjson --event signup");
  CHECK(run.code == 1);
  CHECK(has(run.err, "no \"signup\" events"));
}

// The model library: purchase histories from events, the BG/NBD fit against the published CDNOW
// figures (Fader, Hardie and Lee 2005), Gamma-Gamma against Fader and Hardie's CDNOW note, and
// the laws the formulas obey.
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cdnow_fixture.hpp"
#include "cli/cli_support.hpp"
#include "runtime/model/bgnbd.hpp"
#include "runtime/model/gamma_gamma.hpp"
#include "runtime/model/history.hpp"
#include "runtime/model/holdout.hpp"

using namespace journey::runtime::model;
using journey::test::TempDir;

namespace {

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string order(const std::string& user, const std::string& at, double amount) {
  return R"({"type":"track","event":"order_completed","userId":")" + user + R"(","timestamp":")" +
         at + R"(","properties":{"amount":)" + fixed(amount, 2) + "}}\n";
}

// The CDNOW history and its calibration cohort, weeks 1-39.
struct Cdnow {
  TempDir dir;
  PurchaseRead read;
  Calibration calibration;
  std::vector<CustomerSummary> customers;
  explicit Cdnow(double unit_days = 7) {
    PurchaseReading reading;
    reading.value_property = "amount";
    read = read_purchases(journey::test::write_cdnow_events(dir.path).string(), reading);
    calibration.until = *parse_day("1997-09-30");
    calibration.unit_days = unit_days;
    customers = summarise(read.history, calibration);
  }
};

}  // namespace

TEST_CASE("the CDNOW events read as 2357 customers with same-day purchases merged") {
  const Cdnow cdnow;
  REQUIRE(cdnow.read.opened);
  CHECK(cdnow.read.problems.empty());
  CHECK(cdnow.read.history.purchases == 6919);
  CHECK(cdnow.read.history.customers.size() == 2357);
  CHECK(cdnow.customers.size() == 2357);
  std::size_t transactions = 0;
  for (const auto& c : cdnow.read.history.customers) transactions += c.transactions.size();
  CHECK(transactions < 6919);  // several lines share a customer and a day
  CHECK(format_day(*cdnow.read.history.first_day) == "1997-01-01");
  CHECK(format_day(*cdnow.read.history.last_day) == "1998-06-30");
}

TEST_CASE("BG/NBD on CDNOW weeks 1-39 gives the paper's parameters and log-likelihood") {
  const Cdnow cdnow;
  const BgNbdFit fit = fit_bgnbd(cdnow.customers);
  REQUIRE(fit.ok);
  CHECK(fixed(fit.model.r, 3) == "0.243");
  CHECK(fixed(fit.model.alpha, 3) == "4.414");
  CHECK(fixed(fit.model.a, 3) == "0.793");
  CHECK(fixed(fit.model.b, 3) == "2.426");
  CHECK(fixed(fit.log_likelihood, 1) == "-9582.4");
  CHECK(fit.log_likelihood == Approx(log_likelihood(fit.model, cdnow.customers)).epsilon(1e-12));
  // The standard errors the lifetimes package prints for the same fit.
  REQUIRE(fit.standard_errors);
  CHECK(fit.standard_errors->r == Approx(0.0126).margin(0.0005));
  CHECK(fit.standard_errors->alpha == Approx(0.378).margin(0.005));
  CHECK(fit.standard_errors->a == Approx(0.186).margin(0.005));
  CHECK(fit.standard_errors->b == Approx(0.705).margin(0.01));
}

TEST_CASE("BG/NBD in days is the fit in weeks with alpha times seven") {
  const Cdnow weeks;
  const Cdnow days(1);
  const BgNbdFit w = fit_bgnbd(weeks.customers);
  const BgNbdFit d = fit_bgnbd(days.customers);
  REQUIRE(w.ok);
  REQUIRE(d.ok);
  CHECK(d.model.r == Approx(w.model.r).epsilon(1e-4));
  CHECK(d.model.alpha == Approx(7 * w.model.alpha).epsilon(1e-4));
  CHECK(d.model.a == Approx(w.model.a).epsilon(1e-3));
  CHECK(d.model.b == Approx(w.model.b).epsilon(1e-3));
  // Times scaled by 7 scale each customer's density by 7^-x.
  double repeats = 0;
  for (const auto& c : weeks.customers) repeats += c.frequency;
  CHECK(d.log_likelihood == Approx(w.log_likelihood - repeats * std::log(7.0)).epsilon(1e-7));
}

TEST_CASE("Gamma-Gamma on CDNOW gives Fader and Hardie's parameters") {
  const Cdnow cdnow;
  const GammaGammaFit fit = fit_gamma_gamma(cdnow.customers);
  REQUIRE(fit.ok);
  CHECK(fit.customers == 946);
  CHECK(fixed(fit.model.p, 2) == "6.25");
  CHECK(fixed(fit.model.q, 2) == "3.74");
  CHECK(fixed(fit.model.v, 2) == "15.44");
}

TEST_CASE("the CDNOW holdout check adds up and predicts the total within fifteen percent") {
  const Cdnow cdnow;
  const BgNbdFit fit = fit_bgnbd(cdnow.customers);
  REQUIRE(fit.ok);
  const auto check =
      check_holdout(fit.model, cdnow.read.history, cdnow.customers, cdnow.calibration,
                    *parse_day("1997-10-01"), *parse_day("1998-06-30"));
  REQUIRE(check.buckets.size() == 8);
  std::size_t customers = 0;
  double actual = 0;
  double predicted = 0;
  for (const auto& b : check.buckets) {
    customers += b.customers;
    actual += b.actual;
    predicted += b.predicted;
  }
  CHECK(customers == 2357);
  CHECK(check.total.actual == actual);
  CHECK(check.total.predicted == Approx(predicted));
  CHECK(check.buckets[0].customers == 1411);
  CHECK(check.total.actual == 1882);
  CHECK(check.total.predicted == Approx(check.total.actual).epsilon(0.15));
  // Customers who bought more often are predicted to buy more.
  for (std::size_t i = 1; i < check.buckets.size(); ++i) {
    CHECK(check.buckets[i].predicted / static_cast<double>(check.buckets[i].customers) >
          check.buckets[i - 1].predicted / static_cast<double>(check.buckets[i - 1].customers));
  }
  const auto points = track_cumulative(fit.model, cdnow.read.history, cdnow.customers,
                                       cdnow.calibration, *parse_day("1998-06-30"), 7);
  REQUIRE(points.size() == 79);  // weeks 0 to 78
  CHECK(points.back().actual == Approx(4300).epsilon(0.05));
  for (std::size_t i = 1; i < points.size(); ++i) {
    CHECK(points[i].actual >= points[i - 1].actual);
    CHECK(points[i].predicted > points[i - 1].predicted);
  }
  const std::string svg = tracking_svg(points, cdnow.calibration, "CDNOW");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("end of calibration") != std::string::npos);
}

TEST_CASE("a summary counts days not lines and stops at the end of the calibration period") {
  std::istringstream in(
      order("ann", "2026-01-01T09:00:00Z", 10) + order("ann", "2026-01-01T18:00:00Z", 5) + "\n" +
      order("ann", "2026-01-08T10:00:00Z", 20) + order("ann", "2026-01-22T10:00:00Z", 40) +
      order("ann", "2026-03-01T10:00:00Z", 99) + order("bob", "2026-01-15T10:00:00Z", 7) +
      order("cat", "2026-02-20T10:00:00Z", 7) +
      R"({"type":"track","event":"page_viewed","userId":"dan","timestamp":"2026-01-02T00:00:00Z"})" +
      "\n");
  PurchaseReading reading;
  reading.value_property = "amount";
  const PurchaseRead read = read_purchases(in, reading);
  REQUIRE(read.problems.empty());
  CHECK(read.history.purchases == 7);
  REQUIRE(read.history.customers.size() == 3);  // dan bought nothing
  const auto& ann = read.history.customers[0];
  REQUIRE(ann.transactions.size() == 4);
  CHECK(ann.transactions[0].value == 15);  // the two purchases of 1 January
  const Calibration calibration{*parse_day("2026-01-29"), 7};
  const auto summaries = summarise(read.history, calibration);
  REQUIRE(summaries.size() == 2);  // cat first bought after the calibration period
  CHECK(summaries[0].frequency == 2);
  CHECK(summaries[0].recency == 3);      // 1 to 22 January
  CHECK(summaries[0].age == 4);          // 1 to 29 January
  CHECK(summaries[0].mean_value == 30);  // the repeat purchases only
  CHECK(summaries[1].frequency == 0);
  CHECK(summaries[1].recency == 0);
  CHECK(summaries[1].age == 2);
  CHECK(transactions_between(ann, *parse_day("2026-01-30"), *parse_day("2026-12-31")) == 1);
}

TEST_CASE("refused lines carry their line numbers") {
  std::istringstream in(
      order("ann", "2026-01-01T09:00:00Z", 10) + "{not json\n" +
      R"({"type":"track","event":"order_completed","userId":"ann","timestamp":"2026-01-02T00:00:00Z","properties":{"amount":"ten"}})" +
      "\n" +
      R"({"type":"track","event":"order_completed","userId":"ann","timestamp":"2026-01-03T00:00:00Z"})" +
      "\n" + R"({"type":"track","event":"order_completed","timestamp":"2026-01-03T00:00:00Z"})" +
      "\n");
  PurchaseReading reading;
  reading.value_property = "amount";
  const PurchaseRead read = read_purchases(in, reading);
  REQUIRE(read.problems.size() == 4);
  CHECK(read.problems[0].line == 2);
  CHECK(read.problems[1].line == 3);
  CHECK(read.problems[1].message.find("$.properties.amount: expected a number") == 0);
  CHECK(read.problems[2].line == 4);
  CHECK(read.problems[2].message.find("missing") != std::string::npos);
  CHECK(read.problems[3].line == 5);
  CHECK(read_purchases(std::string("/nonexistent/events.ndjson"), reading).opened == false);
}

TEST_CASE("BG/NBD laws: p_alive and the expected purchases") {
  const BgNbd m{0.243, 4.414, 0.793, 2.426};
  CHECK(p_alive(m, 0, 0, 30) == 1);  // no repeat purchase: the model cannot have seen a drop-out
  // After the last purchase the probability falls as the customer stays silent.
  double before = 1;
  for (double age = 10; age <= 60; age += 10) {
    const double p = p_alive(m, 3, 10, age);
    CHECK(p < before);
    before = p;
  }
  CHECK(p_alive(m, 3, 10, 10) > p_alive(m, 3, 5, 10));  // a recent buyer is likelier alive
  // A brand-new customer's conditional expectation is the unconditional one.
  for (double t : {1.0, 13.0, 39.0, 78.0}) {
    CHECK(expected_purchases(m, 0, 0, 0, t) == Approx(expected_purchases(m, t)).epsilon(1e-9));
  }
  double last = 0;
  for (double t = 5; t <= 100; t += 5) {
    const double e = expected_purchases(m, t);
    CHECK(e > last);
    last = e;
  }
  CHECK(expected_purchases(m, 0) == 0);
  // More purchases in the same time: more expected; the same history later: fewer.
  CHECK(expected_purchases(m, 5, 30, 32, 10) > expected_purchases(m, 2, 30, 32, 10));
  CHECK(expected_purchases(m, 5, 10, 32, 10) < expected_purchases(m, 5, 30, 32, 10));
}

TEST_CASE("Gamma-Gamma recovers the parameters of simulated spend") {
  const GammaGamma truth{6, 4, 15};
  std::mt19937 rng(7);
  std::vector<CustomerSummary> customers;
  for (int i = 0; i < 20000; ++i) {
    // Each customer's rate nu ~ Gamma(q, rate v); each transaction ~ Gamma(p, rate nu).
    const double nu = std::gamma_distribution<double>(truth.q, 1 / truth.v)(rng);
    const int x = 1 + static_cast<int>(rng() % 8);
    std::gamma_distribution<double> spend(truth.p, 1 / nu);
    double sum = 0;
    for (int k = 0; k < x; ++k) sum += spend(rng);
    CustomerSummary c;
    c.frequency = x;
    c.mean_value = sum / x;
    customers.push_back(c);
  }
  const GammaGammaFit fit = fit_gamma_gamma(customers);
  REQUIRE(fit.ok);
  CHECK(fit.model.p == Approx(truth.p).epsilon(0.1));
  CHECK(fit.model.q == Approx(truth.q).epsilon(0.1));
  CHECK(fit.model.v == Approx(truth.v).epsilon(0.15));
  // The expected value lies between the population mean and the customer's own mean, nearer
  // their own the more transactions it rests on.
  const double population = expected_value(truth);
  const double few = expected_value(truth, 1, 100);
  const double many = expected_value(truth, 50, 100);
  CHECK(few > population);
  CHECK(many > few);
  CHECK(many < 100);
  const double w = (truth.q - 1) / (truth.p * 1 + truth.q - 1);
  CHECK(few == Approx(w * population + (1 - w) * 100));
}

TEST_CASE("fits without enough data say why") {
  std::vector<CustomerSummary> none;
  CHECK_FALSE(fit_bgnbd(none).ok);
  std::vector<CustomerSummary> one_time(3);
  for (auto& c : one_time) c.age = 10;
  const auto fit = fit_bgnbd(one_time);
  CHECK_FALSE(fit.ok);
  CHECK(fit.problem == "no customer bought twice in the calibration period");
  CHECK_FALSE(fit_gamma_gamma(one_time).ok);
}

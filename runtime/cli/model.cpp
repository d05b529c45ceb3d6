// `journey model fit --events FILE`: fits the BG/NBD purchase model (and with --value the
// Gamma-Gamma spend model) on the purchase history, prints the parameters, and optionally checks
// them against a holdout period, draws the tracking curve and writes the model file.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "runtime/cli/command.hpp"
#include "runtime/model/bgnbd.hpp"
#include "runtime/model/gamma_gamma.hpp"
#include "runtime/model/history.hpp"
#include "runtime/model/holdout.hpp"
#include "runtime/model/model_file.hpp"

namespace journey::cli {
namespace {

namespace model = runtime::model;

struct ModelFitArgs {
  std::string events;
  std::string event = "order_completed";
  std::string value;
  std::string until;
  std::string holdout_from;
  std::string unit = "week";
  std::string out;
  std::string plot;
};

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// `NAME  estimate  (standard error)`, one line of a parameter table.
std::string parameter_line(const std::string& name, double value, std::optional<double> se) {
  char text[128];
  std::snprintf(text, sizeof text, "  %-6s %10s  %s\n", name.c_str(), fixed(value, 3).c_str(),
                se ? ("(standard error " + fixed(*se, 3) + ")").c_str()
                   : "(no standard error: flat likelihood)");
  return text;
}

// A day from a flag, or a message naming the flag.
std::optional<model::Day> day_flag(const std::string& flag, const std::string& text) {
  const auto day = model::parse_day(text);
  if (!day) {
    std::cerr << "journey model fit: " << flag << ": unparsable date \"" << text
              << "\" (expected YYYY-MM-DD or ISO-8601 such as 1997-09-30T00:00:00Z)\n";
  }
  return day;
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) std::cerr << "journey model fit: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

void print_holdout(const model::HoldoutCheck& check, double unit_days, const std::string& unit) {
  const double length = static_cast<double>(check.to - check.from + 1) / unit_days;
  std::cout << "\nholdout " << model::format_day(check.from) << " to "
            << model::format_day(check.to) << " (" << fixed(length, 1) << " " << unit
            << "s): repeat purchases, actual against predicted\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %-22s %9s %9s %10s %14s %14s\n", "calibration purchases",
                "customers", "actual", "predicted", "actual each", "predicted each");
  std::cout << line;
  const auto row = [&](const model::HoldoutBucket& b) {
    const double n = std::max<double>(1, static_cast<double>(b.customers));
    std::snprintf(line, sizeof line, "  %-22s %9zu %9.0f %10.1f %14.3f %14.3f\n", b.label.c_str(),
                  b.customers, b.actual, b.predicted, b.actual / n, b.predicted / n);
    std::cout << line;
  };
  for (const auto& b : check.buckets) row(b);
  row(check.total);
}

int fit(const ModelFitArgs& args) {
  const double unit_days = args.unit == "day" ? 1 : 7;
  std::optional<model::Day> until;
  std::optional<model::Day> holdout_from;
  if (!args.until.empty() && !(until = day_flag("--until", args.until))) return kExitUsage;
  if (!args.holdout_from.empty() && !(holdout_from = day_flag("--holdout-from", args.holdout_from)))
    return kExitUsage;
  if (until && holdout_from && *holdout_from <= *until) {
    std::cerr << "journey model fit: --holdout-from: " << model::format_day(*holdout_from)
              << " must come after --until " << model::format_day(*until) << "\n";
    return kExitUsage;
  }
  model::PurchaseReading reading;
  reading.event = args.event;
  if (!args.value.empty()) reading.value_property = args.value;
  const model::PurchaseRead read = model::read_purchases(args.events, reading);
  if (!read.opened) {
    std::cerr << "journey model fit: --events: cannot read " << args.events << "\n";
    return kExitUsage;
  }
  if (!read.problems.empty()) {
    for (const auto& p : read.problems)
      std::cerr << args.events << ":" << p.line << ": error: " << p.message << "\n";
    if (read.more_problems > 0)
      std::cerr << "... and " << read.more_problems << " more lines refused\n";
    return kExitUsage;
  }
  const auto& history = read.history;
  if (!history.last_day) {
    std::cerr << "journey model fit: " << args.events << ": no \"" << args.event << "\" events\n";
    return kExitFindings;
  }
  model::Calibration calibration;
  calibration.unit_days = unit_days;
  calibration.until = until ? *until : holdout_from ? *holdout_from - 1 : *history.last_day;
  const auto customers = model::summarise(history, calibration);
  const model::BgNbdFit bgnbd = model::fit_bgnbd(customers);
  std::cout << "BG/NBD on " << customers.size() << " customers, "
            << model::format_day(*history.first_day) << " to "
            << model::format_day(calibration.until) << ", time in " << args.unit << "s\n";
  if (!bgnbd.ok) {
    std::cerr << "journey model fit: the BG/NBD model could not be fitted: " << bgnbd.problem
              << "\n";
    return kExitFindings;
  }
  const auto& se = bgnbd.standard_errors;
  std::cout << parameter_line("r", bgnbd.model.r, se ? std::optional(se->r) : std::nullopt)
            << parameter_line("alpha", bgnbd.model.alpha,
                              se ? std::optional(se->alpha) : std::nullopt)
            << parameter_line("a", bgnbd.model.a, se ? std::optional(se->a) : std::nullopt)
            << parameter_line("b", bgnbd.model.b, se ? std::optional(se->b) : std::nullopt)
            << "  log-likelihood " << fixed(bgnbd.log_likelihood, 1) << "\n";
  std::optional<model::GammaGammaFit> spend;
  if (reading.value_property) {
    spend = model::fit_gamma_gamma(customers);
    std::cout << "\nGamma-Gamma on " << spend->customers
              << " customers with a repeat purchase, value \"" << args.value << "\"\n";
    if (!spend->ok) {
      std::cerr << "journey model fit: the Gamma-Gamma model could not be fitted: "
                << spend->problem << "\n";
      return kExitFindings;
    }
    const auto& gse = spend->standard_errors;
    std::cout << parameter_line("p", spend->model.p, gse ? std::optional(gse->p) : std::nullopt)
              << parameter_line("q", spend->model.q, gse ? std::optional(gse->q) : std::nullopt)
              << parameter_line("v", spend->model.v, gse ? std::optional(gse->v) : std::nullopt)
              << "  log-likelihood " << fixed(spend->log_likelihood, 1) << "\n";
    if (spend->model.q > 1) {
      std::cout << "  mean value of a transaction " << fixed(model::expected_value(spend->model), 2)
                << "\n";
    }
  }
  const model::Day data_end = std::max(*history.last_day, calibration.until);
  if (holdout_from) {
    if (*holdout_from > *history.last_day) {
      std::cerr << "journey model fit: --holdout-from: no purchases on or after "
                << model::format_day(*holdout_from) << "\n";
      return kExitUsage;
    }
    print_holdout(model::check_holdout(bgnbd.model, history, customers, calibration, *holdout_from,
                                       *history.last_day),
                  unit_days, args.unit);
  }
  if (!args.plot.empty()) {
    const model::Day end = holdout_from ? data_end : calibration.until;
    const auto points =
        model::track_cumulative(bgnbd.model, history, customers, calibration, end, 7);
    if (!write_text(args.plot,
                    model::tracking_svg(points, calibration,
                                        "Cumulative repeat purchases: actual and BG/NBD")))
      return kExitUsage;
  }
  if (!args.out.empty()) {
    model::ModelFile file;
    file.event = args.event;
    file.value_property = reading.value_property;
    file.unit_days = unit_days;
    file.from = *history.first_day;
    file.until = calibration.until;
    file.bgnbd = bgnbd;
    file.gamma_gamma = spend;
    if (!write_text(args.out, model::to_json(file).dump(2) + "\n")) return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

void add_model(CLI::App& app, Run& run) {
  auto* sub =
      app.add_subcommand("model", "Fit the predictive customer models (BG/NBD, Gamma-Gamma)");
  sub->require_subcommand(1);
  auto args = std::make_shared<ModelFitArgs>();
  auto* fit_cmd =
      sub->add_subcommand("fit", "Fit BG/NBD (and Gamma-Gamma with --value) on a purchase history");
  fit_cmd
      ->add_option("--events", args->events,
                   "Segment NDJSON events; the purchases are track events")
      ->required();
  fit_cmd->add_option("--event", args->event, "The purchase event's name")->capture_default_str();
  fit_cmd->add_option("--value", args->value,
                      "A number property of the purchase (amount): also fit Gamma-Gamma");
  fit_cmd->add_option("--until", args->until,
                      "Last day of the calibration period, YYYY-MM-DD (default: the day before "
                      "--holdout-from, else "
                      "the last purchase's day)");
  fit_cmd->add_option(
      "--holdout-from", args->holdout_from,
      "First day of a holdout period (to the last purchase): print predicted against actual");
  fit_cmd->add_option("--unit", args->unit, "The parameters' time unit")
      ->check(CLI::IsMember({"week", "day"}))
      ->capture_default_str();
  fit_cmd->add_option("--out", args->out, "Write the model file (JSON) here");
  fit_cmd->add_option("--plot", args->plot,
                      "Write an SVG of cumulative repeat purchases, actual against predicted");
  fit_cmd->callback([&run, args] { run = [args] { return fit(*args); }; });
}

}  // namespace journey::cli

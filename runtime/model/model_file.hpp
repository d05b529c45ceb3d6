// The model file `journey model fit --out` writes: the fitted parameters and what they were
// fitted on, as JSON (the shape is documented in docs/models.md). The parameters' part is the
// engine's (engine::to_json and engine::read_model), which the predictive functions read.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model/bgnbd.hpp"
#include "runtime/model/gamma_gamma.hpp"
#include "runtime/model/history.hpp"

namespace journey::runtime::model {

/// Everything a model file holds.
struct ModelFile {
  std::string event;                          // the purchase event
  std::optional<std::string> value_property;  // with Gamma-Gamma
  double unit_days = 7;                       // the parameters' time unit, in days
  Day from = 0;                               // the calibration period's first and last day
  Day until = 0;
  BgNbdFit bgnbd;
  std::optional<GammaGammaFit> gamma_gamma;
};

/// The file's JSON (format version 1).
nlohmann::json to_json(const ModelFile& model);

}  // namespace journey::runtime::model

#include "runtime/model/model_file.hpp"

namespace journey::runtime::model {

nlohmann::json to_json(const ModelFile& m) {
  engine::PurchaseModel parameters;
  parameters.event = m.event;
  parameters.unit_days = m.unit_days;
  parameters.bgnbd = m.bgnbd.model;
  if (m.gamma_gamma && m.value_property) {
    parameters.value_property = m.value_property;
    parameters.gamma_gamma = m.gamma_gamma->model;
  }
  // The parameters as the engine reads them, and what the fit says of them beside.
  nlohmann::json out = engine::to_json(parameters);
  out["calibration"] = {{"from", format_day(m.from)},
                        {"until", format_day(m.until)},
                        {"customers", m.bgnbd.customers}};
  const auto& b = m.bgnbd;
  auto& bg = out["bg_nbd"];
  bg["log_likelihood"] = b.log_likelihood;
  if (b.standard_errors) {
    const auto& se = *b.standard_errors;
    bg["standard_errors"] = {{"r", se.r}, {"alpha", se.alpha}, {"a", se.a}, {"b", se.b}};
  }
  if (out.contains("gamma_gamma")) {
    const auto& g = *m.gamma_gamma;
    auto& gg = out["gamma_gamma"];
    gg["log_likelihood"] = g.log_likelihood;
    gg["customers"] = g.customers;
    if (g.standard_errors) {
      const auto& se = *g.standard_errors;
      gg["standard_errors"] = {{"p", se.p}, {"q", se.q}, {"v", se.v}};
    }
  }
  return out;
}

}  // namespace journey::runtime::model

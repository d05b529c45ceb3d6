#include "runtime/model/model_file.hpp"

namespace journey::runtime::model {

nlohmann::json to_json(const ModelFile& m) {
  nlohmann::json out;
  out["format"] = "journey-model";
  out["version"] = 1;
  out["event"] = m.event;
  out["unit"] = m.unit_days == 1 ? "day" : "week";
  out["unit_days"] = m.unit_days;
  out["calibration"] = {{"from", format_day(m.from)},
                        {"until", format_day(m.until)},
                        {"customers", m.bgnbd.customers}};
  const auto& b = m.bgnbd;
  nlohmann::json bg = {{"r", b.model.r},
                       {"alpha", b.model.alpha},
                       {"a", b.model.a},
                       {"b", b.model.b},
                       {"log_likelihood", b.log_likelihood}};
  if (b.standard_errors) {
    const auto& se = *b.standard_errors;
    bg["standard_errors"] = {{"r", se.r}, {"alpha", se.alpha}, {"a", se.a}, {"b", se.b}};
  }
  out["bg_nbd"] = bg;
  if (m.gamma_gamma && m.value_property) {
    const auto& g = *m.gamma_gamma;
    nlohmann::json gg = {{"property", *m.value_property},
                         {"p", g.model.p},
                         {"q", g.model.q},
                         {"v", g.model.v},
                         {"log_likelihood", g.log_likelihood},
                         {"customers", g.customers}};
    if (g.standard_errors) {
      const auto& se = *g.standard_errors;
      gg["standard_errors"] = {{"p", se.p}, {"q", se.q}, {"v", se.v}};
    }
    out["gamma_gamma"] = gg;
  }
  return out;
}

}  // namespace journey::runtime::model

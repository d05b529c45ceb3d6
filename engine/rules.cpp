#include "engine/rules.hpp"

#include <algorithm>
#include <charconv>

#include "engine/hash.hpp"

namespace journey::engine {
namespace {

constexpr std::size_t kRecordsPerKey = 16;
constexpr std::int64_t kAllBasisPoints = 10'000;

const std::string* text_field(const nlohmann::json& value, const char* name) {
  if (!value.is_object()) return nullptr;
  const auto it = value.find(name);
  return it != value.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

// "consent.email", "subscriptions.newsletter".
std::string key_of(const std::string& group, const std::string& name) {
  std::string key = group;
  key += '.';
  key += name;
  return key;
}

void note_one(CustomerState& state, const std::string& key, const nlohmann::json* value,
              Millis recorded, const std::string& how, std::vector<ConsentRecord>& added) {
  const auto g = granted(value);
  ConsentRecord r;
  r.key = key;
  r.state = !g ? "cleared" : *g ? "granted" : "withdrawn";
  const std::string* at = value != nullptr ? text_field(*value, "at") : nullptr;
  const std::string* source = value != nullptr ? text_field(*value, "source") : nullptr;
  r.at = at != nullptr ? *at : recorded == 0 ? std::string() : format_timestamp(recorded);
  r.source = source != nullptr ? *source : how;
  r.recorded = recorded;
  const ConsentRecord* last = latest_consent(state, key);
  if (last == nullptr && r.state == "cleared") return;  // nothing was given: nothing to clear
  // The same answer again: a bare boolean repeated, or the same record sent twice.
  if (last != nullptr && last->state == r.state &&
      ((at == nullptr && source == nullptr) || (last->at == r.at && last->source == r.source)))
    return;
  added.push_back(r);
  state.consents.push_back(std::move(r));
  const auto same_key = [&key](const ConsentRecord& c) { return c.key == key; };
  if (static_cast<std::size_t>(
          std::count_if(state.consents.begin(), state.consents.end(), same_key)) > kRecordsPerKey)
    state.consents.erase(std::find_if(state.consents.begin(), state.consents.end(), same_key));
}

}  // namespace

std::optional<bool> granted(const nlohmann::json* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_object()) {
    const auto it = value->find("granted");
    if (it != value->end() && it->is_boolean()) return it->get<bool>();
  }
  return std::nullopt;
}

bool is_consent_group(std::string_view key) {
  return key == "consent" || key == "subscriptions";
}

std::vector<ConsentRecord> note_consents(CustomerState& state, const std::vector<std::string>& path,
                                         const nlohmann::json& value, Millis recorded,
                                         const std::string& how) {
  std::vector<ConsentRecord> added;
  if (path.empty() || path.size() > 2 || !is_consent_group(path[0])) return added;
  const std::string& group = path[0];
  if (path.size() == 2) {
    note_one(state, key_of(group, path[1]), value.is_null() ? nullptr : &value, recorded, how,
             added);
    return added;
  }
  // The whole group: names it no longer holds are cleared, then each name it holds is noted.
  const auto before = state.profile.is_object() ? state.profile.find(group) : state.profile.end();
  if (state.profile.is_object() && before != state.profile.end() && before->is_object()) {
    for (const auto& [name, old] : before->items()) {
      if (!value.is_object() || !value.contains(name))
        note_one(state, key_of(group, name), nullptr, recorded, how, added);
    }
  }
  if (value.is_object()) {
    for (const auto& [name, given] : value.items())
      note_one(state, key_of(group, name), given.is_null() ? nullptr : &given, recorded, how,
               added);
  }
  return added;
}

const ConsentRecord* latest_consent(const CustomerState& state, std::string_view key) {
  const auto it = std::find_if(state.consents.rbegin(), state.consents.rend(),
                               [key](const ConsentRecord& c) { return c.key == key; });
  return it == state.consents.rend() ? nullptr : &*it;
}

nlohmann::json consent_json(const ConsentRecord& record) {
  nlohmann::json out{{"key", record.key}, {"state", record.state}};
  if (!record.at.empty()) out["at"] = record.at;
  out["source"] = record.source;
  if (record.recorded != 0) out["recorded"] = format_timestamp(record.recorded);
  return out;
}

std::string consent_text(const ConsentRecord& record) {
  return record.key + " " + record.state + (record.at.empty() ? "" : " at " + record.at) +
         " (source: " + record.source + ")";
}

bool in_holdout(const ProgramRules& rules, std::string_view customer_id) {
  if (rules.holdout_bp <= 0) return false;
  const std::uint64_t h = stable_hash(hash_key({"holdout", rules.salt, customer_id}), 0);
  return static_cast<std::int64_t>(h % kAllBasisPoints) < rules.holdout_bp;
}

std::optional<std::int64_t> parse_share(std::string_view text) {
  if (text.empty() || text.back() != '%') return std::nullopt;
  text.remove_suffix(1);
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view part = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3 || part.size() > 2 ||
      (dot != std::string_view::npos && part.empty()))
    return std::nullopt;
  const auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || !digits(part)) return std::nullopt;
  std::int64_t w = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), w);
  std::int64_t p = 0;
  if (!part.empty()) std::from_chars(part.data(), part.data() + part.size(), p);
  if (part.size() == 1) p *= 10;
  const std::int64_t bp = w * 100 + p;
  if (bp > kAllBasisPoints) return std::nullopt;
  return bp;
}

std::optional<TopicDefault> parse_topic_default(std::string_view text) {
  if (text == "opt-in") return TopicDefault::OptIn;
  if (text == "opt-out") return TopicDefault::OptOut;
  return std::nullopt;
}

std::string share_text(std::int64_t basis_points) {
  std::string out = std::to_string(basis_points / 100);
  if (const std::int64_t part = basis_points % 100; part != 0)
    out +=
        "." + std::string(part < 10 ? "0" : "") + std::to_string(part % 10 == 0 ? part / 10 : part);
  return out + "%";
}

}  // namespace journey::engine

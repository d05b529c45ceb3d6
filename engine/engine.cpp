// The step function: one customer's state plus one input (an event, or the passing of time)
// gives the new state, the actions, report records and, when asked, the trace.
#include "engine/engine.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <set>
#include <variant>

#include "engine/calendar.hpp"
#include "engine/diff.hpp"
#include "engine/hash.hpp"
#include "engine/identity.hpp"
#include "engine/ids.hpp"
#include "engine/program.hpp"
#include "engine/rules.hpp"
#include "engine/state.hpp"
#include "engine/value.hpp"
#include "engine/zone.hpp"

namespace journey::engine {
namespace {

constexpr int kMaxSettlePasses = 16;
constexpr int kMaxInstantsPerCall = 100000;

// Where the runs of an older version of a journey go when they migrate to the live one.
struct Migration {
  const Journey* to = nullptr;       // the live version
  std::vector<std::size_t> targets;  // per step of the old version: its unchanged step in `to`
  std::map<std::string, std::string> ids;  // step ids of the old version matched in `to`
};

// Every program the engine knows: the live one and older ones that runs may still use.
struct Library {
  std::shared_ptr<const Program> live;
  std::vector<std::shared_ptr<const Program>> programs;  // oldest first, the live one among them
  std::map<std::pair<std::string, std::string>, std::pair<const Program*, const Journey*>> versions;
  std::map<std::string, std::set<std::string>> timeline;  // union of what all programs read
  std::set<std::string, std::less<>> events_read;         // events any journey mentions
  std::vector<std::string> live_names;                    // the live journeys' names, sorted
  std::vector<std::string> live_order;  // the same, highest `priority` first, then by name
  bool priorities = false;              // whether any journey has a priority
  std::int64_t longest_cap_ms = 0;
  // (journey, older version) -> where its runs go, for live journeys that say `on update migrate`
  std::map<std::pair<std::string, std::string>, Migration> migrations;

  void add(const std::shared_ptr<const Program>& p) {
    if (p && std::find(programs.begin(), programs.end(), p) == programs.end())
      programs.push_back(p);
  }

  // Everything derived from the programs, made again after each change.
  void rebuild() {
    versions.clear();
    timeline.clear();
    events_read.clear();
    live_names.clear();
    live_order.clear();
    priorities = false;
    migrations.clear();
    longest_cap_ms = 0;
    for (const auto& p : programs) {
      for (const auto& j : p->journeys) {
        versions.emplace(std::make_pair(j.name, j.version), std::make_pair(p.get(), &j));
        longest_cap_ms = std::max(longest_cap_ms, j.cap_per_ms);
        priorities = priorities || j.priority != 0;
        events_read.insert(j.events_read.begin(), j.events_read.end());
      }
      for (const auto& [event, props] : p->timeline_events) {
        timeline[event].insert(props.begin(), props.end());
        events_read.insert(event);
      }
    }
    if (!live) return;
    for (const auto& j : live->journeys) live_names.push_back(j.name);
    std::sort(live_names.begin(), live_names.end());
    live_names.erase(std::unique(live_names.begin(), live_names.end()), live_names.end());
    live_order = live_names;
    if (priorities) {
      std::stable_sort(live_order.begin(), live_order.end(), [this](const auto& a, const auto& b) {
        return live->find_journey(a)->priority > live->find_journey(b)->priority;
      });
    }
    for (const auto& [key, found] : versions) {
      const Journey* to = live->find_journey(key.first);
      if (to == nullptr || to->on_update != UpdatePolicy::Migrate || to->version == key.second)
        continue;
      const Journey& from = *found.second;
      Migration m;
      m.to = to;
      m.targets = migration_targets(from, *to);
      for (const auto& match : match_steps(from, *to)) {
        if (match.old_step != kNoStep && match.new_step != kNoStep)
          m.ids[from.steps[match.old_step].id] = to->steps[match.new_step].id;
      }
      migrations.emplace(key, std::move(m));
    }
  }

  std::pair<const Program*, const Journey*> find(const std::string& name,
                                                 const std::string& version) const {
    const auto it = versions.find({name, version});
    return it == versions.end() ? std::make_pair(nullptr, nullptr) : it->second;
  }
};

struct Emitted {
  std::string name;
  nlohmann::json properties;
  int depth = 0;
};

std::string tod_text(std::int64_t seconds) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(seconds / 3600),
                static_cast<int>(seconds / 60 % 60));
  return buf;
}

// Whether an entry clause's tick is a one-off (`entry on date`, `entry at`), which simulate fires
// past the last event, rather than a recurring one (`entry every`).
bool one_off_tick(const Library& lib, const std::string& journey, std::size_t idx) {
  const Journey* j = lib.live ? lib.live->find_journey(journey) : nullptr;
  if (j == nullptr || idx >= j->entries.size()) return false;
  const auto kind = j->entries[idx].kind;
  return kind == dsl::EntryKind::OnDate || kind == dsl::EntryKind::At;
}

std::string terms_text(const std::vector<std::pair<std::string, std::string>>& terms) {
  if (terms.empty()) return {};
  std::string out = " [";
  for (std::size_t i = 0; i < terms.size(); ++i)
    out += (i ? ", " : "") + terms[i].first + " = " + terms[i].second;
  return out + "]";
}

// Sets a value at a path inside a JSON object, creating objects along the way.
void set_path(nlohmann::json& root, const std::vector<std::string>& path, nlohmann::json value) {
  nlohmann::json* cur = &root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur->is_object()) *cur = nlohmann::json::object();
    cur = &(*cur)[path[i]];
  }
  if (!cur->is_object()) *cur = nlohmann::json::object();
  if (value.is_null()) {
    cur->erase(path.back());
  } else {
    (*cur)[path.back()] = std::move(value);
  }
}

}  // namespace

std::string action_id(const std::string& customer, const std::string& journey,
                      const std::string& version, std::int64_t entry_no, const std::string& step,
                      std::int64_t visit) {
  const std::string key =
      hash_key({customer, journey, version, std::to_string(entry_no), step, std::to_string(visit)});
  return hex16(stable_hash(key, 0x616374696f6e31ULL)) +
         hex16(stable_hash(key, 0x616374696f6e32ULL));
}

std::size_t split_variant(const std::string& customer, const std::string& journey,
                          const std::string& step, const std::vector<Variant>& variants) {
  const std::uint64_t h = stable_hash(hash_key({customer, journey, step}), 0x73706c6974ULL);
  const double bucket = static_cast<double>(h % 1000000ULL) / 10000.0;  // [0, 100) in 1e-4 steps
  double cumulative = 0;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    cumulative += variants[i].percent;
    if (bucket < cumulative) return i;
  }
  return variants.empty() ? 0 : variants.size() - 1;
}

struct Engine::Versions {
  Library library;
};

namespace {

// One engine call over one customer.
class Call {
 public:
  Call(const Library& lib, const EngineConfig& cfg, const Zones& zones, CustomerState& st,
       bool tracing, Outcome& out)
      : lib_(lib),
        cfg_(cfg),
        zones_(zones),
        st_(st),
        tracing_(tracing),
        out_(out),
        now_(st.clock),
        holdout_(in_holdout(cfg.program, st.customer_id)) {}

  // Moves runs of older versions to the live one where the journey says `on update migrate` and
  // the step they wait at is unchanged there; the others keep their version.
  void migrate() {
    if (lib_.migrations.empty()) return;
    bool moved = false;
    for (auto& [jname, run] : st_.runs) {
      if (run.wait == RunState::Wait::None) continue;
      const auto found = lib_.migrations.find({jname, run.version});
      const Journey* from = journey_of(run);
      if (found == lib_.migrations.end() || from == nullptr) continue;
      const Migration& m = found->second;
      const std::size_t step = from->ops.at(run.pc).step;
      const std::size_t target = step == kNoStep ? kNoStep : m.targets.at(step);
      if (target == kNoStep) continue;  // its step changed or is gone: it keeps its version
      const Step& to_step = m.to->steps[target];
      const std::string old_version = run.version;
      const std::string old_name = from->steps[step].name;
      run.version = m.to->version;
      run.pc = to_step.op;
      run.step = to_step.id;
      std::map<std::string, std::int64_t> visits;
      for (const auto& [id, n] : run.visits) {
        if (const auto it = m.ids.find(id); it != m.ids.end()) visits[it->second] = n;
      }
      run.visits = std::move(visits);
      run.exit_values.assign(m.to->exits.size(), 0);
      auto& hist = st_.history[jname];
      if (hist.version == old_version) hist.version = run.version;
      {
        auto& added = record(Record::Kind::Migrated, jname, run.version);
        added.step = run.step;
        added.variant = run.variant;
        added.detail = old_version;
      }
      if (tracing_) {
        std::string message = "migrated from version " + old_version;
        message += " at " + old_name;
        message += " to version " + run.version;
        message += " at " + to_step.name;
        trace(jname, std::move(message),
              {{"from_version", old_version}, {"to_version", run.version}, {"step", run.step}});
      }
      moved = true;
    }
    if (moved) settle();  // the new version's exit conditions, and when they may change
  }

  void advance(Millis now, Millis recurring_until) {
    int instants = 0;
    while (const auto t = due(now, recurring_until)) {
      if (++instants > kMaxInstantsPerCall) {
        error("", "",
              "more than " + std::to_string(kMaxInstantsPerCall) +
                  " timer instants in one call (a journey that never ends?); stopped at " +
                  format_timestamp(*t));
        break;
      }
      fire(*t, recurring_until);
    }
  }

  // Sets the entry timers a known customer lacks (a journey with `entry every` or a calendar entry
  // deployed since the customer's last input), from `now` on: a tick already past is not made up.
  void schedule_from(Millis now) {
    if (!st_.known) return;
    const Millis saved = now_;
    now_ = std::max(now, st_.clock);
    schedule_every(false);
    now_ = saved;
  }

  void apply(const Event& ev) {
    now_ = std::max(ev.at, st_.clock);
    st_.clock = now_;
    if (!ev.message_id.empty() && !st_.message_ids.insert(ev.message_id).second) {
      out_.duplicate = true;
      if (tracing_) trace("", "duplicate messageId " + ev.message_id + " ignored");
      return;
    }
    if (!st_.known) st_.first_at = now_;
    st_.anonymous = ev.anonymous && (st_.anonymous || !st_.known);
    st_.known = true;
    if (ev.type == Event::Type::Identify) {
      if (tracing_) trace("", "identify " + dump(ev.properties), ev.properties);
      for (const auto& [key, value] : ev.properties.items()) {
        if (is_consent_group(key))
          note(note_consents(st_, {key}, value, now_,
                             "identify" + (ev.message_id.empty() ? "" : " " + ev.message_id)));
        if (value.is_null()) {
          st_.profile.erase(key);
        } else {
          st_.profile[key] = value;
        }
      }
      schedule_every(true);
    } else {
      if (tracing_)
        trace("", "event " + ev.name + " received " + dump(ev.properties), ev.properties);
      schedule_every(false);
      store(ev.name, ev.properties);
      on_track(ev.name, ev.properties);
    }
    settle();
    drain();
  }

  // Takes `other` into this customer at now (identity resolution): profiles, timelines, sends,
  // histories and runs join by the rules in docs/language.md ("One customer across ids"), then
  // every condition is evaluated again. `other` is left empty.
  void absorb(CustomerState& other, const std::string& cause) {
    st_.clock = now_;
    if (tracing_)
      trace("", "merged " + other.customer_id + " into " + st_.customer_id + " (" + cause + ")",
            {{"absorbed", other.customer_id}, {"into", st_.customer_id}, {"cause", cause}});
    st_.known = st_.known || other.known;
    merge_profile(st_.profile, other.profile);
    st_.message_ids.merge(other.message_ids);
    for (auto& [name, entries] : other.timeline) {
      auto& list = st_.timeline[name];
      const auto middle = list.insert(list.end(), std::make_move_iterator(entries.begin()),
                                      std::make_move_iterator(entries.end()));
      std::inplace_merge(
          list.begin(), middle, list.end(),
          [](const TimelineEntry& a, const TimelineEntry& b) { return a.at < b.at; });
    }
    st_.sent.insert(st_.sent.end(), other.sent.begin(), other.sent.end());
    std::stable_sort(st_.sent.begin(), st_.sent.end(),
                     [](const SentRecord& a, const SentRecord& b) { return a.at < b.at; });
    for (auto& [jname, theirs] : other.history) absorb_journey(jname, theirs, other.runs);
    merge_purchases(st_.purchases, other.purchases);
    st_.consents.insert(st_.consents.end(), other.consents.begin(), other.consents.end());
    std::stable_sort(
        st_.consents.begin(), st_.consents.end(),
        [](const ConsentRecord& a, const ConsentRecord& b) { return a.recorded < b.recorded; });
    for (const char* group : {"consent", "subscriptions"}) {  // what the merged profile says now
      if (const auto* merged = json_at(st_.profile, {group}))
        note(note_consents(st_, {group}, *merged, now_, "merge of " + other.customer_id));
    }
    st_.aggregates.clear();
    st_.linked_ids.push_back(other.customer_id);
    st_.linked_ids.insert(st_.linked_ids.end(), other.linked_ids.begin(), other.linked_ids.end());
    st_.merges.insert(st_.merges.end(), other.merges.begin(), other.merges.end());
    st_.merges.push_back({now_, other.customer_id, st_.customer_id, cause});
    other = CustomerState{};
    settle();
    drain();
  }

 private:
  static std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // One journey's history and run of an absorbed customer. When both customers are in the
  // journey, the run that entered first goes on (the survivor's on a tie) and the other ends
  // with reason `merged`; a run of the absorbed customer alone goes on under this id. The entries
  // of both count for reentry; the run taken over is renumbered after them, so its later action
  // ids are new.
  void absorb_journey(const std::string& jname, JourneyHistory& theirs,
                      std::map<std::string, RunState>& their_runs) {
    const bool had = st_.history.count(jname) > 0;
    JourneyHistory& mine = st_.history[jname];
    const auto their_run = their_runs.find(jname);
    const auto my_run = st_.runs.find(jname);
    bool take_theirs = !had || (my_run == st_.runs.end() && their_run == their_runs.end() &&
                                theirs.last_entry > mine.last_entry);
    if (their_run != their_runs.end()) {
      if (my_run == st_.runs.end() || their_run->second.entered_at < my_run->second.entered_at) {
        if (my_run != st_.runs.end()) end_run(jname, "merged");
        take_theirs = true;
      } else {
        const RunState& run = their_run->second;
        auto& added = record(Record::Kind::Exited, jname, run.version);
        added.step = run.step;
        added.variant = run.variant;
        added.detail = "merged";
        if (tracing_)
          trace(jname, "the absorbed customer's run (entered " + format_timestamp(run.entered_at) +
                           ") ends: merged (this customer's run entered first)");
        their_run->second.wait = RunState::Wait::None;
      }
    }
    const std::int64_t entries = mine.entries + theirs.entries;
    if (take_theirs) {
      theirs.every_next.insert(mine.every_next.begin(), mine.every_next.end());
      if (!mine.when_values.empty()) theirs.when_values = mine.when_values;
      if (mine.check_at && (!theirs.check_at || *mine.check_at < *theirs.check_at))
        theirs.check_at = mine.check_at;
      mine = std::move(theirs);
    } else {
      mine.every_next.insert(theirs.every_next.begin(), theirs.every_next.end());
      if (mine.when_values.empty()) mine.when_values = theirs.when_values;
      if (theirs.check_at && (!mine.check_at || *theirs.check_at < *mine.check_at))
        mine.check_at = theirs.check_at;
    }
    mine.entries = entries;
    if (their_run != their_runs.end() && their_run->second.wait != RunState::Wait::None &&
        take_theirs) {
      RunState run = std::move(their_run->second);
      run.entry_no = entries;
      if (tracing_)
        trace(jname, "the run entered " + format_timestamp(run.entered_at) +
                         " goes on under this id (entry " + std::to_string(entries) + ")");
      st_.runs[jname] = std::move(run);
    }
  }

  void trace(const std::string& journey, std::string message,
             nlohmann::json detail = nlohmann::json::object()) {
    if (!tracing_) return;
    out_.trace.push_back({now_, journey, std::move(message), std::move(detail)});
  }

  // Traces consent records just kept.
  void note(const std::vector<ConsentRecord>& added, const std::string& journey = {}) {
    if (!tracing_) return;
    for (const auto& r : added) trace(journey, "consent kept: " + consent_text(r), consent_json(r));
  }

  /// Adds a record of this customer at now, of one run of a journey; the caller fills in the
  /// step, variant and detail by name (five strings in a row are easily passed in the wrong order).
  Record& record(Record::Kind kind, const std::string& journey, const std::string& version) {
    auto& added = out_.records.emplace_back();
    added.kind = kind;
    added.customer_id = st_.customer_id;
    added.journey = journey;
    added.version = version;
    added.at = now_;
    added.holdout = holdout_;
    return added;
  }

  void error(const std::string& journey, const std::string& version, const std::string& message) {
    record(Record::Kind::Error, journey, version).detail = message;
    if (tracing_) trace(journey, "error: " + message);
  }

  // An evaluator at the call's instant that keeps its aggregate folds in the customer's state.
  Evaluator evaluator(const Program& program) {
    const HolidayCalendar calendar =
        cfg_.holidays.empty() ? HolidayCalendar{} : HolidayCalendar{&cfg_.holidays, zone(false)};
    return Evaluator(program, st_, now_, &st_.aggregates, cfg_.model ? &*cfg_.model : nullptr,
                     calendar, holdout_);
  }

  const Journey* journey_of(const RunState& run) const {
    return lib_.find(run.journey, run.version).second;
  }
  const Program* program_of(const RunState& run) const {
    return lib_.find(run.journey, run.version).first;
  }

  // The customer's zone; an unknown one is traced when `report`.
  const date::time_zone* zone(bool report = true) {
    const auto* tz = st_.profile.is_object() ? json_at(st_.profile, {"timezone"}) : nullptr;
    if (tz != nullptr && tz->is_string()) {
      const auto& name = tz->get_ref<const std::string&>();
      if (const auto* z = zones_.find(name)) return z;
      if (tracing_ && report)
        trace("", "unknown time zone \"" + name + "\": using " + cfg_.default_zone);
    }
    if (const auto* z = zones_.find(cfg_.default_zone)) return z;
    return zones_.find("UTC");
  }

  // The names of journeys that can react now, highest `priority` first, then in name order: the
  // live ones and those with active runs. Usually just the live ones, which are not copied.
  class Names {
   public:
    explicit Names(const std::vector<std::string>* live) : live_(live) {}
    explicit Names(std::vector<std::string>&& all) : own_(std::move(all)), owned_(true) {}
    std::vector<std::string>::const_iterator begin() const {
      return owned_ ? own_.begin() : live_->begin();
    }
    std::vector<std::string>::const_iterator end() const {
      return owned_ ? own_.end() : live_->end();
    }

   private:
    const std::vector<std::string>* live_ = nullptr;
    std::vector<std::string> own_;
    bool owned_ = false;
  };

  Names journey_names() const {
    const auto& live = lib_.live_names;
    const bool extra = std::any_of(st_.runs.begin(), st_.runs.end(), [&live](const auto& run) {
      return !std::binary_search(live.begin(), live.end(), run.first);
    });
    if (!extra) return Names(&lib_.live_order);
    std::set<std::string> names(live.begin(), live.end());
    for (const auto& [name, run] : st_.runs) names.insert(name);
    std::vector<std::string> all(names.begin(), names.end());
    if (lib_.priorities) {
      const auto priority = [this](const std::string& name) -> std::int64_t {
        if (const Journey* j = lib_.live ? lib_.live->find_journey(name) : nullptr)
          return j->priority;
        const auto run = st_.runs.find(name);
        const Journey* j = run != st_.runs.end() ? journey_of(run->second) : nullptr;
        return j != nullptr ? j->priority : 0;
      };
      std::stable_sort(all.begin(), all.end(), [&priority](const auto& a, const auto& b) {
        return priority(a) > priority(b);
      });
    }
    return Names(std::move(all));
  }

  std::optional<Millis> due(Millis now, Millis recurring_until) const {
    std::optional<Millis> best;
    const auto take = [&best, now](Millis t) {
      if (t <= now && (!best || t < *best)) best = t;
    };
    for (const auto& [name, run] : st_.runs) {
      if (run.wait != RunState::Wait::None) take(run.wake_at);
    }
    for (const auto& [name, h] : st_.history) {
      if (h.check_at) take(*h.check_at);
      for (const auto& [idx, t] : h.every_next) {
        if (t <= recurring_until || one_off_tick(lib_, name, idx)) take(t);
      }
    }
    return best;
  }

  void fire(Millis t, Millis recurring_until) {
    now_ = std::max(t, st_.clock);
    st_.clock = now_;
    for (const auto& name : journey_names()) {
      const auto it = st_.runs.find(name);
      if (it != st_.runs.end() && it->second.wait != RunState::Wait::None &&
          it->second.wake_at <= t)
        resume(name);
    }
    if (lib_.live) {
      for (const auto& j : lib_.live->journeys) {
        const auto h = st_.history.find(j.name);
        if (h == st_.history.end()) continue;
        std::vector<std::size_t> ticks;
        for (const auto& [idx, next] : h->second.every_next) {
          if (next <= t && (next <= recurring_until || one_off_tick(lib_, j.name, idx)))
            ticks.push_back(idx);
        }
        for (const auto idx : ticks) {
          if (idx >= j.entries.size()) continue;
          auto& every_next = st_.history[j.name].every_next;
          const auto next = next_tick(j.entries[idx]);
          if (next) {
            every_next[idx] = *next;
          } else {
            every_next.erase(idx);
          }
          consider_every(j, idx);
          if (tracing_ && next && j.entries[idx].kind == dsl::EntryKind::Yearly)
            trace(j.name, tick_text(j.entries[idx]) + ": next at " + format_timestamp(*next));
        }
      }
    }
    for (auto& [name, h] : st_.history) {
      if (h.check_at && *h.check_at <= t) h.check_at.reset();
    }
    settle();
    drain();
  }

  // Sets the timers of the entry clauses that fire at computed instants: `entry every` (unless
  // already set, or `force`), and the calendar clauses, whose instants follow the profile (a
  // changed date attribute moves its timer; one already past has none).
  void schedule_every(bool force) {
    if (!lib_.live || !st_.known) return;
    for (const auto& j : lib_.live->journeys) {
      for (std::size_t i = 0; i < j.entries.size(); ++i) {
        const auto& rule = j.entries[i];
        if (rule.kind == dsl::EntryKind::On || rule.kind == dsl::EntryKind::When) continue;
        const bool calendar = rule.kind != dsl::EntryKind::Every;
        auto& h = st_.history[j.name];
        const auto found = h.every_next.find(i);
        if (!force && !calendar && found != h.every_next.end()) continue;
        const bool had = found != h.every_next.end();
        const Millis before = had ? found->second : 0;
        const auto next = next_tick(rule);
        if (next) {
          h.every_next[i] = *next;
        } else {
          h.every_next.erase(i);
        }
        const bool same = next ? had && *next == before : !had;
        if (!tracing_ || (calendar && same)) continue;
        trace(j.name, tick_text(rule) + (next ? ": next at " + format_timestamp(*next)
                                              : std::string(": no date ahead")));
      }
    }
  }

  // How traces and records name an entry clause that fires at computed instants.
  std::string tick_text(const EntryRule& rule) const {
    if (rule.kind == dsl::EntryKind::Every)
      return "entry every " + std::string(rule.weekday < 0 ? "day" : "week") + " at " +
             tod_text(rule.time_of_day);
    return "entry " +
           dsl::calendar_entry_text(rule.kind, rule.path,
                                    {rule.time_of_day, rule.offset_ms / 1000, rule.at, rule.local});
  }

  // The date a calendar clause reads from the profile, or nullopt when absent or not a date.
  std::optional<DateValue> profile_date(const std::vector<std::string>& path) const {
    const auto* value = st_.profile.is_object() ? json_at(st_.profile, path) : nullptr;
    if (value == nullptr || !value->is_string()) return std::nullopt;
    return parse_date_value(value->get_ref<const std::string&>());
  }

  // The next instant strictly after now at which an entry clause fires, or nullopt if none.
  std::optional<Millis> next_tick(const EntryRule& rule) {
    switch (rule.kind) {
      case dsl::EntryKind::On:
      case dsl::EntryKind::When: return std::nullopt;
      case dsl::EntryKind::Every:
        return next_local_time(zone(), now_, {rule.time_of_day, rule.weekday}, false);
      case dsl::EntryKind::Yearly: {
        const auto date = profile_date(rule.path);
        if (!date) return std::nullopt;
        return next_anniversary(zone(), now_, date->day.month() / date->day.day(), rule.time_of_day,
                                rule.offset_ms);
      }
      case dsl::EntryKind::OnDate: {
        const auto date = profile_date(rule.path);
        if (!date) return std::nullopt;
        const Millis at = date->instant ? *date->instant + rule.offset_ms
                                        : local_instant(zone(), date::local_days{date->day},
                                                        rule.time_of_day, rule.offset_ms);
        return at > now_ ? std::optional<Millis>(at) : std::nullopt;
      }
      case dsl::EntryKind::At: {
        const date::time_zone* in = rule.local ? zone() : zones_.find(cfg_.default_zone);
        if (in == nullptr) in = zones_.find("UTC");
        if (in == nullptr) return std::nullopt;
        const Millis at = resolve_local(in, date::local_seconds{std::chrono::seconds{rule.at}});
        return at > now_ ? std::optional<Millis>(at) : std::nullopt;
      }
    }
    return std::nullopt;
  }

  void consider_every(const Journey& j, std::size_t idx) {
    const auto& rule = j.entries[idx];
    const std::string how = tick_text(rule);
    const bool broadcast = rule.kind == dsl::EntryKind::At;
    if (rule.where) {
      const Evaluator ev = evaluator(*lib_.live);
      const bool holds = ev.eval(*rule.where, Scope{}).truthy();
      std::vector<std::pair<std::string, std::string>> terms;
      if (tracing_) ev.terms(*rule.where, Scope{}, terms);
      if (!holds) {
        if (tracing_)
          trace(j.name, how + ": not taken: when " + expr_text(*rule.where) + " is false" +
                            terms_text(terms));
        return;
      }
      if (broadcast) record(Record::Kind::Audience, j.name, j.version);
      try_enter(j, nlohmann::json::object(),
                how + " (when " + expr_text(*rule.where) + " holds" + terms_text(terms) + ")");
      return;
    }
    if (broadcast) record(Record::Kind::Audience, j.name, j.version);
    try_enter(j, nlohmann::json::object(), how);
  }

  void store(const std::string& name, const nlohmann::json& props) {
    if (cfg_.model && name == cfg_.model->event)
      count_purchase(*cfg_.model, st_.purchases, now_, props);
    const auto kept = lib_.timeline.find(name);
    if (kept == lib_.timeline.end()) return;
    TimelineEntry entry;
    entry.at = now_;
    if (kept->second.count("*")) {
      entry.properties = props;
    } else {
      for (const auto& key : kept->second) {
        const auto it = props.find(key);
        if (it != props.end()) entry.properties[key] = *it;
      }
    }
    auto& list = st_.timeline[name];
    const auto pos = std::upper_bound(list.begin(), list.end(), now_,
                                      [](Millis t, const TimelineEntry& x) { return t < x.at; });
    list.insert(pos, std::move(entry));
  }

  void on_track(const std::string& name, const nlohmann::json& props) {
    for (const auto& jname : journey_names()) {
      goals(jname, name, props);
      const auto run_it = st_.runs.find(jname);
      if (run_it != st_.runs.end()) {
        RunState& run = run_it->second;
        const Journey* j = journey_of(run);
        const Program* p = program_of(run);
        if (j == nullptr) continue;
        bool exited = false;
        for (const auto& x : j->exits) {
          if (x.kind != dsl::ExitKind::On || x.event != name) continue;
          const Scope scope{&props, &run.trigger};
          if (x.where && !evaluator(*p).eval(*x.where, scope).truthy()) continue;
          if (tracing_) trace(jname, "exit on " + name + ": the run leaves");
          end_run(jname, exit_reason(x));
          exited = true;
          break;
        }
        if (!exited && run.wait == RunState::Wait::Branches) {
          const Op& op = j->ops.at(run.pc);
          for (const auto& arm : std::get<WaitUpToOp>(op.payload).arms) {
            if (arm.event != name) continue;
            const Scope scope{&props, &run.trigger};
            if (arm.where && !evaluator(*p).eval(*arm.where, scope).truthy()) continue;
            run.event = props;
            run.wait = RunState::Wait::None;
            if (tracing_) trace(jname, name_of(*j, op) + ": on " + name + " taken");
            continue_run(jname, arm.target);
            break;
          }
        }
      }
      if (!lib_.live) continue;
      const Journey* live = lib_.live->find_journey(jname);
      if (live == nullptr) continue;
      for (const auto& rule : live->entries) {
        if (rule.kind != dsl::EntryKind::On || rule.event != name) continue;
        if (rule.where) {
          const Scope scope{&props, &props};
          const Evaluator ev = evaluator(*lib_.live);
          std::vector<std::pair<std::string, std::string>> terms;
          if (tracing_) ev.terms(*rule.where, scope, terms);
          if (!ev.eval(*rule.where, scope).truthy()) {
            if (tracing_)
              trace(jname, "entry on " + name + ": not taken: where " + expr_text(*rule.where) +
                               " is false" + terms_text(terms));
            continue;
          }
          try_enter(*live, props,
                    "entry on " + name + " (where " + expr_text(*rule.where) + " holds" +
                        terms_text(terms) + ")");
        } else {
          try_enter(*live, props, "entry on " + name);
        }
        break;
      }
    }
  }

  void goals(const std::string& jname, const std::string& name, const nlohmann::json& props) {
    const auto h = st_.history.find(jname);
    if (h == st_.history.end() || h->second.entries == 0) return;
    JourneyHistory& hist = h->second;
    const auto [p, j] = lib_.find(jname, hist.version);
    if (j == nullptr) return;
    for (const auto& g : j->goals) {
      if (g.event != name || hist.goals_reached.count(g.name)) continue;
      if (now_ >= hist.last_entry + g.within_ms) {
        if (tracing_)
          trace(jname, "goal " + g.name + ": " + name + " came after the goal window (" +
                           duration_text(g.within_ms / 1000) + " from entry)");
        continue;
      }
      if (g.where && !evaluator(*p).eval(*g.where, Scope{&props, &hist.trigger}).truthy()) continue;
      hist.goals_reached.insert(g.name);
      const auto run = st_.runs.find(jname);
      const std::string step = run != st_.runs.end() ? run->second.step : hist.step;
      const std::string variant = run != st_.runs.end() ? run->second.variant : hist.variant;
      {
        auto& added = record(Record::Kind::Goal, jname, hist.version);
        added.step = step;
        added.variant = variant;
        added.detail = g.name;
        added.attributed = hist.last_send;
      }
      if (tracing_)
        trace(jname,
              "goal " + g.name + " reached (at " + step_name(*j, step) +
                  (variant.empty() ? "" : ", variant " + variant) +
                  (hist.last_send.empty() ? "; no send before it"
                                          : "; last send: " + step_name(*j, hist.last_send)) +
                  ")");
    }
  }

  bool try_enter(const Journey& j, const nlohmann::json& trigger, const std::string& how) {
    auto& hist = st_.history[j.name];
    if (const auto run = st_.runs.find(j.name); run != st_.runs.end()) {
      if (tracing_)
        trace(j.name, how + ": not taken: already in the journey since " +
                          format_timestamp(run->second.entered_at));
      return false;
    }
    if (hist.entries > 0) {
      if (j.reentry == dsl::ReentryKind::Never) {
        if (tracing_)
          trace(j.name, how + ": not taken: reentry never (entered " +
                            format_timestamp(hist.last_entry) + ")");
        return false;
      }
      if (j.reentry == dsl::ReentryKind::After && now_ < hist.last_entry + j.reentry_after_ms) {
        if (tracing_)
          trace(j.name, how + ": not taken: reentry after " +
                            duration_text(j.reentry_after_ms / 1000) + " allows entry from " +
                            format_timestamp(hist.last_entry + j.reentry_after_ms));
        return false;
      }
    }
    const Evaluator ev = evaluator(*lib_.live);
    std::vector<std::int8_t> exit_values;
    for (const auto& x : j.exits) {
      exit_values.push_back(0);
      if (x.kind != dsl::ExitKind::When) continue;
      const Scope scope{&trigger, &trigger};
      if (ev.eval(*x.condition, scope).truthy()) {
        std::vector<std::pair<std::string, std::string>> terms;
        if (tracing_) ev.terms(*x.condition, scope, terms);
        if (tracing_)
          trace(j.name, how + ": not taken: exit when " + expr_text(*x.condition) +
                            " already holds" + terms_text(terms));
        return false;
      }
    }
    if (!arbitrate(j, how)) return false;
    RunState run;
    run.journey = j.name;
    run.version = j.version;
    run.entry_no = ++hist.entries;
    run.entered_at = now_;
    run.trigger = trigger;
    run.event = trigger;
    run.exit_values = std::move(exit_values);
    hist.last_entry = now_;
    hist.version = j.version;
    hist.variant.clear();
    hist.step.clear();
    hist.trigger = trigger;
    hist.goals_reached.clear();
    hist.last_send.clear();
    st_.runs[j.name] = std::move(run);
    record(Record::Kind::Entered, j.name, j.version).detail = how;
    if (tracing_)
      trace(j.name, how + ": entered (entry " + std::to_string(hist.entries) + ", version " +
                        j.version + ")");
    continue_run(j.name, 0);
    return true;
  }

  // `[program] max_active`: an entry into a marketing journey that would pass the limit pre-empts
  // enough active marketing runs of lower priority (the lowest first; among equals the one that
  // entered last, then by name), or is refused when there are not enough of them: a tie keeps
  // the runs already going. Transactional journeys neither count nor wait.
  bool arbitrate(const Journey& j, const std::string& how) {
    const int limit = cfg_.program.max_active;
    if (limit <= 0 || j.transactional) return true;
    struct Active {
      std::int64_t priority;
      Millis entered;
      std::string name;
    };
    std::vector<Active> active;
    for (const auto& [name, run] : st_.runs) {
      const Journey* rj = journey_of(run);
      if (rj != nullptr && !rj->transactional)
        active.push_back({rj->priority, run.entered_at, name});
    }
    if (active.size() < static_cast<std::size_t>(limit)) return true;
    std::sort(active.begin(), active.end(), [](const Active& a, const Active& b) {
      if (a.priority != b.priority) return a.priority < b.priority;
      if (a.entered != b.entered) return a.entered > b.entered;
      return a.name < b.name;
    });
    const std::size_t need = active.size() - static_cast<std::size_t>(limit) + 1;
    if (active[need - 1].priority >= j.priority) {
      record(Record::Kind::Refused, j.name, j.version).detail = "arbitration";
      if (tracing_) {
        std::string busy;
        for (const auto& a : active)
          busy += (busy.empty() ? "" : ", ") + a.name + " (priority " + std::to_string(a.priority) +
                  ")";
        trace(j.name, how + ": not taken: max_active " + std::to_string(limit) +
                          " reached and no active run has a priority below " +
                          std::to_string(j.priority) + ": " + busy);
      }
      return false;
    }
    for (std::size_t i = 0; i < need; ++i) {
      if (tracing_)
        trace(active[i].name, "pre-empted by " + j.name + " (priority " +
                                  std::to_string(j.priority) + " over " +
                                  std::to_string(active[i].priority) + ", max_active " +
                                  std::to_string(limit) + ")");
      end_run(active[i].name, "preempted");
    }
    return true;
  }

  void end_run(const std::string& jname, const std::string& reason) {
    const auto it = st_.runs.find(jname);
    if (it == st_.runs.end()) return;
    auto& hist = st_.history[jname];
    hist.step = it->second.step;
    hist.variant = it->second.variant;
    {
      auto& added = record(Record::Kind::Exited, jname, it->second.version);
      added.step = it->second.step;
      added.variant = it->second.variant;
      added.detail = reason;
    }
    if (tracing_) trace(jname, "left the journey: " + reason);
    st_.runs.erase(it);
  }

  void resume(const std::string& jname) {
    RunState& run = st_.runs.at(jname);
    const Journey* j = journey_of(run);
    if (j == nullptr) {
      error(jname, run.version, "version " + run.version + " is not loaded; the run cannot resume");
      run.wait = RunState::Wait::None;
      return;
    }
    const Op& op = j->ops.at(run.pc);
    const auto wait = run.wait;
    run.wait = RunState::Wait::None;
    switch (wait) {
      case RunState::Wait::Timer:
        if (tracing_) trace(jname, name_of(*j, op) + " is over");
        continue_run(jname, run.pc + 1);
        break;
      case RunState::Wait::Branches:
        if (tracing_) trace(jname, name_of(*j, op) + " timed out");
        continue_run(jname, std::get<WaitUpToOp>(op.payload).timeout_target);
        break;
      case RunState::Wait::Hold:
        if (hold(*j, run, op)) break;  // opened into another hold (quiet hours, a closed day)
        if (tracing_)
          trace(jname, std::string(j->send_window ? "send window open" : "quiet hours over") +
                           ": sending the held " + name_of(*j, op));
        send(*j, run, op, std::get<SendOp>(op.payload));
        continue_run(jname, run.pc + 1);
        break;
      case RunState::Wait::None: break;
    }
  }

  // Where a run is: the op it runs and what that op reads.
  struct At {
    const std::string& jname;
    RunState& run;
    const Journey& j;
    const Program& p;
    const Op& op;
    std::size_t pc;
    Scope scope;
  };

  // What follows an op: the op the run goes on at, or nullopt when it stops (waits or has left).
  using Next = std::optional<std::size_t>;

  void continue_run(const std::string& jname, std::size_t pc) {
    RunState& run = st_.runs.at(jname);
    const Journey& j = *journey_of(run);
    const Program& p = *program_of(run);
    int budget = cfg_.step_budget;
    while (true) {
      if (budget-- <= 0) {
        error(jname, run.version,
              "step budget of " + std::to_string(cfg_.step_budget) + " exceeded at " +
                  name_of(j, j.ops.at(pc)));
        end_run(jname, "error");
        return;
      }
      const Op& op = j.ops.at(pc);
      if (op.step_head) {
        {
          auto& added = record(Record::Kind::Step, jname, run.version);
          added.step = op.step_id;
          added.variant = run.variant;
          added.detail = run.step;  // the step the run comes from ("" as it enters)
        }
        run.step = op.step_id;
      }
      const At at{jname, run, j, p, op, pc, Scope{&run.event, &run.trigger}};
      // One run_op per payload kind: a kind without one does not compile.
      const Next next =
          std::visit([this, &at](const auto& payload) { return run_op(payload, at); }, op.payload);
      if (!next) return;
      pc = *next;
    }
  }

  Next run_op(const SendOp& send_op, const At& at) {
    if (!send_op.transactional && hold(at.j, at.run, at.op)) return std::nullopt;
    send(at.j, at.run, at.op, send_op);
    return at.pc + 1;
  }

  // Holds a send due now while quiet hours or a closed send window forbid it: the run waits
  // until the first instant both allow. False when it may go out now.
  bool hold(const Journey& j, RunState& run, const Op& op) {
    if (!j.quiet_start && !j.send_window) return false;
    Millis until = now_;
    std::string why;
    for (int pass = 0; pass < 8; ++pass) {
      const Millis before = until;
      if (j.quiet_start && in_window(zone(), until, *j.quiet_start, *j.quiet_end)) {
        until = next_local_time(zone(), until, {*j.quiet_end, -1}, false);
        if (why.empty())
          why = "quiet hours " + tod_text(*j.quiet_start) + "-" + tod_text(*j.quiet_end);
      }
      if (j.send_window) {
        const SendWindowRule& w = *j.send_window;
        const auto open = window_opening(zone(), until, {w.weekdays, w.start, w.end},
                                         w.except_holidays ? &cfg_.holidays : nullptr);
        if (!open) {
          error(j.name, run.version,
                "the send window never opens in the coming year: " + name_of(j, op) +
                    " goes out now");
          return false;
        }
        if (*open != until && why.empty())
          why = dsl::send_window_text(w.weekdays, w.start, w.end, w.except_holidays);
        until = *open;
      }
      if (until == before) break;
    }
    if (until == now_) return false;
    run.pc = static_cast<std::size_t>(&op - j.ops.data());
    run.wait = RunState::Wait::Hold;
    run.wake_at = until;
    if (tracing_)
      trace(j.name, name_of(j, op) + " held by " + why + " until " + format_timestamp(until));
    return true;
  }

  Next run_op(const WaitOp& wait, const At& at) {
    at.run.pc = at.pc;
    at.run.wait = RunState::Wait::Timer;
    at.run.wake_at = now_ + wait.millis;
    if (tracing_)
      trace(at.jname, name_of(at.j, at.op) + ": wakes at " + format_timestamp(at.run.wake_at));
    return std::nullopt;
  }

  Next run_op(const WaitUntilOp& wait, const At& at) {
    const Millis when =
        wait.weekdays == 0
            ? next_local_time(zone(), now_, {wait.time_of_day, -1}, true)
            : next_time_on_days(zone(), now_, {wait.time_of_day, wait.weekdays}, true);
    if (when == now_) {
      if (tracing_) trace(at.jname, name_of(at.j, at.op) + ": it is that time now");
      return at.pc + 1;
    }
    at.run.pc = at.pc;
    at.run.wait = RunState::Wait::Timer;
    at.run.wake_at = when;
    if (tracing_) trace(at.jname, name_of(at.j, at.op) + ": wakes at " + format_timestamp(when));
    return std::nullopt;
  }

  // `wait until EXPR [offset D]`: a timestamp is that instant; a date ("YYYY-MM-DD") is its
  // midnight in the customer's zone. A date already past, or none, goes on at once.
  Next run_op(const WaitUntilDateOp& wait, const At& at) {
    const Value v = evaluator(at.p).eval(wait.value, at.scope);
    std::optional<Millis> when;
    if (v.type == Value::Type::Timestamp) {
      when = v.millis + wait.offset_ms;
    } else if (v.type == Value::Type::String) {
      if (const auto date = parse_date_value(v.text)) {
        when = date->instant
                   ? *date->instant + wait.offset_ms
                   : local_instant(zone(), date::local_days{date->day}, 0, wait.offset_ms);
      }
    }
    if (!when || *when <= now_) {
      if (tracing_)
        trace(at.jname, name_of(at.j, at.op) + ": " +
                            (when ? "the date " + format_timestamp(*when) + " is past"
                                  : "no date (" + value_text(v) + ")") +
                            ": going on at once");
      return at.pc + 1;
    }
    at.run.pc = at.pc;
    at.run.wait = RunState::Wait::Timer;
    at.run.wake_at = *when;
    if (tracing_) trace(at.jname, name_of(at.j, at.op) + ": wakes at " + format_timestamp(*when));
    return std::nullopt;
  }

  Next run_op(const WaitUpToOp& wait, const At& at) {
    at.run.pc = at.pc;
    at.run.wait = RunState::Wait::Branches;
    at.run.wake_at = now_ + wait.millis;
    std::string events;
    for (const auto& a : wait.arms) events += (events.empty() ? "" : ", ") + a.event;
    if (tracing_)
      trace(at.jname, name_of(at.j, at.op) + " for " + events + ": times out at " +
                          format_timestamp(at.run.wake_at));
    return std::nullopt;
  }

  Next run_op(const BranchOp& branch, const At& at) {
    const Evaluator ev = evaluator(at.p);
    const bool holds = ev.eval(branch.condition, at.scope).truthy();
    if (tracing_) {
      std::vector<std::pair<std::string, std::string>> terms;
      ev.terms(branch.condition, at.scope, terms);
      // An `else if` arm is a later branch op of the same step: it names its own condition.
      const std::string what = at.op.step_head ? name_of(at.j, at.op)
                                               : "else if " + expr_text(branch.condition) + " of " +
                                                     name_of(at.j, at.op);
      trace(at.jname, what + ": " + (holds ? "true" : "false") + terms_text(terms));
    }
    return holds ? at.pc + 1 : branch.else_target;
  }

  Next run_op(const JumpOp& jump, const At&) { return jump.target; }

  Next run_op(const SplitOp& split, const At& at) {
    const std::size_t i = split_variant(st_.customer_id, at.jname, at.op.step_id, split.variants);
    at.run.variant = split.variants.at(i).name;
    {
      auto& added = record(Record::Kind::Variant, at.jname, at.run.version);
      added.step = at.op.step_id;
      added.variant = at.run.variant;
    }
    if (tracing_) trace(at.jname, name_of(at.j, at.op) + ": variant " + at.run.variant);
    return split.variants.at(i).target;
  }

  Next run_op(const SetOp& set, const At& at) {
    const Value v = evaluator(at.p).eval(set.value, at.scope);
    nlohmann::json j_value = to_json(v);
    if (tracing_) trace(at.jname, "set customer." + join(set.path) + " = " + value_text(v));
    if (set.path.size() == 1 && set.path[0] == "id") {
      error(at.jname, at.run.version, "customer.id cannot be set");
    } else {
      if (is_consent_group(set.path.front()))
        note(note_consents(st_, set.path, j_value, now_, "journey " + at.jname), at.jname);
      set_path(st_.profile, set.path, std::move(j_value));
    }
    return at.pc + 1;
  }

  Next run_op(const TagOp& tag, const At& at) {
    retag(at.jname, tag.tag, true);
    return at.pc + 1;
  }

  Next run_op(const UntagOp& untag, const At& at) {
    retag(at.jname, untag.tag, false);
    return at.pc + 1;
  }

  Next run_op(const EmitOp& emit, const At& at) {
    nlohmann::json props = nlohmann::json::object();
    const Evaluator ev = evaluator(at.p);
    for (const auto& f : emit.with) props[f.key] = to_json(ev.eval(f.value, at.scope));
    if (depth_ + 1 > cfg_.emit_depth) {
      error(at.jname, at.run.version,
            "emit " + emit.event + " dropped: emit chain deeper than " +
                std::to_string(cfg_.emit_depth));
    } else {
      if (tracing_) trace(at.jname, "emit " + emit.event + " " + dump(props));
      emits_.push_back({emit.event, std::move(props), depth_ + 1});
    }
    return at.pc + 1;
  }

  Next run_op(const ExitOp& exit, const At& at) {
    end_run(at.jname, exit.reason.empty() ? "exit" : exit.reason);
    return std::nullopt;
  }

  Next run_op(const EndOp&, const At& at) {
    end_run(at.jname, "end");
    return std::nullopt;
  }

  // Adds a tag to the customer's tags, or removes it.
  void retag(const std::string& jname, const std::string& tag, bool add) {
    auto& tags = st_.profile["tags"];
    if (!tags.is_array()) tags = nlohmann::json::array();
    const auto it = std::find(tags.begin(), tags.end(), nlohmann::json(tag));
    if (add && it == tags.end()) tags.push_back(tag);
    if (!add && it != tags.end()) tags.erase(it);
    if (tracing_) trace(jname, std::string(add ? "tag " : "untag ") + "\"" + tag + "\"");
  }

  // The name of the step an op belongs to, as reports and traces show it.
  static const std::string& name_of(const Journey& j, const Op& op) {
    return op.step == kNoStep ? op.step_id : j.steps[op.step].name;
  }

  static std::string join(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
    return out;
  }

  std::int64_t sends_in_window(std::int64_t per_ms, const std::string* journey,
                               const std::string* channel) const {
    std::int64_t n = 0;
    for (const auto& s : st_.sent) {
      if (s.at <= now_ - per_ms || s.at > now_) continue;
      if (journey != nullptr && s.journey != *journey) continue;
      if (channel != nullptr && s.channel != *channel) continue;
      ++n;
    }
    return n;
  }

  void send(const Journey& j, RunState& run, const Op& op, const SendOp& send_op) {
    const std::int64_t visit = ++run.visits[op.step_id];
    Action a;
    a.action_id = action_id(st_.customer_id, j.name, run.version, run.entry_no, op.step_id, visit);
    a.customer_id = st_.customer_id;
    a.journey = j.name;
    a.step = op.step_id;
    a.channel = send_op.channel;
    a.template_name = send_op.template_name;
    a.at = now_;
    a.variant = send_op.variant;
    const Evaluator ev = evaluator(*program_of(run));
    const Scope scope{&run.event, &run.trigger};
    for (const auto& f : send_op.with) a.params[f.key] = to_json(ev.eval(f.value, scope));
    a.topic = send_op.topic;
    a.transactional = send_op.transactional;
    // The checks in order (consent first, as spec 7.5 reports it first); a transactional send
    // skips all but consent.
    std::string why;
    if (!consented(send_op.channel, why)) {
      a.reason = "consent";
    } else if (!send_op.transactional && holdout_) {
      a.reason = "holdout";
      why = "the customer is in the global holdout of " + share_text(cfg_.program.holdout_bp) +
            " of customers";
    } else if (!send_op.transactional && !send_op.topic.empty() &&
               !subscribed(send_op.topic, why)) {
      a.reason = "unsubscribed";
    } else if (!send_op.transactional && capped(j, send_op.channel, why)) {
      a.reason = "cap";
    }
    a.sent = a.reason.empty();
    if (a.sent) {
      if (!send_op.transactional) {  // transactional sends count against no cap
        st_.sent.push_back({now_, j.name, send_op.channel});
        prune_sent();
      }
      st_.history[j.name].last_send = op.step_id;
    }
    auto& sent =
        record(a.sent ? Record::Kind::Send : Record::Kind::Suppressed, j.name, run.version);
    sent.step = op.step_id;
    sent.variant = run.variant;
    sent.detail = a.reason;
    if (tracing_) {
      // The consent records the decision rests on: those a send relied on, or the one that
      // withdrew what it needed.
      std::vector<const ConsentRecord*> proof;
      const auto add = [&](const std::string& key) {
        if (const auto* r = latest_consent(st_, key)) proof.push_back(r);
      };
      if (a.sent || a.reason == "consent") add("consent." + send_op.channel);
      if ((a.sent && !a.topic.empty()) || a.reason == "unsubscribed")
        add("subscriptions." + send_op.topic);
      nlohmann::json detail{{"action_id", a.action_id}};
      std::string what = a.sent ? "sent" : "suppressed (" + a.reason + ": " + why + ")";
      if (send_op.transactional) what += " (transactional)";
      for (const auto* r : proof) {
        detail["consent"].push_back(consent_json(*r));
        what += (a.sent ? ", relying on " : ", as recorded: ") + consent_text(*r);
      }
      trace(j.name,
            name_of(j, op) + ": " + what + (a.variant.empty() ? "" : ", variant " + a.variant),
            std::move(detail));
    }
    out_.actions.push_back(std::move(a));
  }

  // Channel consent by the policy: `required` needs a grant, `assumed` only refuses a withdrawal.
  bool consented(const std::string& channel, std::string& why) const {
    const auto* consent = json_at(st_.profile, {"consent", channel});
    const auto given = granted(consent);
    if (cfg_.consent_assumed ? given.value_or(true) : given.value_or(false)) return true;
    why = "customer.consent." + channel + " = " + (consent ? dump(*consent) : "none") +
          (cfg_.consent_assumed ? " (consent assumed)" : " (consent required)");
    return false;
  }

  // A subscription topic: what customer.subscriptions.TOPIC says, else the topic's default.
  bool subscribed(const std::string& topic, std::string& why) const {
    const auto* sub = json_at(st_.profile, {"subscriptions", topic});
    const auto found = cfg_.program.topics.find(topic);
    const bool opt_out =
        found != cfg_.program.topics.end() && found->second == TopicDefault::OptOut;
    if (granted(sub).value_or(opt_out)) return true;
    why = "customer.subscriptions." + topic + " = " + (sub ? dump(*sub) : "none") + " (topic " +
          topic + " is " + (opt_out ? "opt-out" : "opt-in") + ")";
    return false;
  }

  // The journey's cap, then the engine-wide caps of the channel and of all channels.
  bool capped(const Journey& j, const std::string& channel, std::string& why) const {
    if (j.cap_count && sends_in_window(j.cap_per_ms, &j.name, nullptr) >= *j.cap_count) {
      why = "journey cap " + std::to_string(*j.cap_count) + " per " +
            duration_text(j.cap_per_ms / 1000) + " reached";
      return true;
    }
    for (const std::string& key : {channel, std::string("*")}) {
      const auto cap = cfg_.channel_caps.find(key);
      if (cap == cfg_.channel_caps.end()) continue;
      if (sends_in_window(cap->second.per_ms, nullptr, key == "*" ? nullptr : &channel) >=
          cap->second.count) {
        why = "engine-wide cap on " + (key == "*" ? std::string("all channels") : key) + " (" +
              std::to_string(cap->second.count) + " per " +
              duration_text(cap->second.per_ms / 1000) + ") reached";
        return true;
      }
    }
    return false;
  }

  void prune_sent() {
    std::int64_t longest = lib_.longest_cap_ms;
    for (const auto& [key, cap] : cfg_.channel_caps) longest = std::max(longest, cap.per_ms);
    const Millis horizon = now_ - longest;
    st_.sent.erase(std::remove_if(st_.sent.begin(), st_.sent.end(),
                                  [horizon](const SentRecord& s) { return s.at <= horizon; }),
                   st_.sent.end());
  }

  // Evaluates `exit when` and `entry when` after a change, until nothing more changes, then
  // sets each journey's timer at the next instant a time-dependent term can change.
  void settle() {
    if (!st_.known) return;
    for (int pass = 0; pass < kMaxSettlePasses; ++pass) {
      bool changed = false;
      for (const auto& jname : journey_names()) {
        if (const auto it = st_.runs.find(jname); it != st_.runs.end()) {
          RunState& run = it->second;
          const Journey* j = journey_of(run);
          if (j != nullptr) {
            const Evaluator ev = evaluator(*program_of(run));
            const Scope scope{&run.event, &run.trigger};
            run.exit_values.resize(j->exits.size(), 0);
            for (std::size_t i = 0; i < j->exits.size(); ++i) {
              const auto& x = j->exits[i];
              if (x.kind != dsl::ExitKind::When) continue;
              const bool v = ev.eval(*x.condition, scope).truthy();
              const bool before = run.exit_values[i] != 0;
              run.exit_values[i] = v ? 1 : 0;
              if (v && !before) {
                std::vector<std::pair<std::string, std::string>> terms;
                if (tracing_) ev.terms(*x.condition, scope, terms);
                if (tracing_)
                  trace(jname, "exit when " + expr_text(*x.condition) + " became true" +
                                   terms_text(terms));
                end_run(jname, exit_reason(x));
                changed = true;
                break;
              }
            }
          }
        }
        if (!lib_.live) continue;
        const Journey* live = lib_.live->find_journey(jname);
        if (live == nullptr) continue;
        for (std::size_t i = 0; i < live->entries.size(); ++i) {
          const auto& rule = live->entries[i];
          if (rule.kind != dsl::EntryKind::When) continue;
          const Evaluator ev = evaluator(*lib_.live);
          const bool v = ev.eval(*rule.condition, Scope{}).truthy();
          auto& values = st_.history[jname].when_values;
          values.resize(live->entries.size(), -1);
          const std::int8_t before = values[i];
          values[i] = v ? 1 : 0;
          if (before != -1 && v == (before == 1)) continue;
          std::vector<std::pair<std::string, std::string>> terms;
          if (tracing_) ev.terms(*rule.condition, Scope{}, terms);
          const std::string how = "entry when " + expr_text(*rule.condition);
          if (v) {
            if (try_enter(*live, nlohmann::json::object(),
                          how + " (became true" + terms_text(terms) + ")"))
              changed = true;
          } else {
            if (tracing_)
              trace(jname,
                    how + ": " + (before == -1 ? "false" : "became false") + terms_text(terms));
          }
        }
      }
      if (!changed) break;
    }
    schedule_every(false);
    schedule_checks();
  }

  void schedule_checks() {
    for (const auto& jname : journey_names()) {
      std::optional<Millis> best;
      const auto take = [&best](std::optional<Millis> t) {
        if (t && (!best || *t < *best)) best = t;
      };
      bool relevant = false;
      if (const auto it = st_.runs.find(jname); it != st_.runs.end()) {
        const Journey* j = journey_of(it->second);
        if (j != nullptr) {
          const Evaluator ev = evaluator(*program_of(it->second));
          const Scope scope{&it->second.event, &it->second.trigger};
          for (const auto& x : j->exits) {
            if (x.kind != dsl::ExitKind::When) continue;
            relevant = true;
            take(ev.next_change(*x.condition, scope));
          }
        }
      }
      if (lib_.live) {
        if (const Journey* live = lib_.live->find_journey(jname)) {
          const Evaluator ev = evaluator(*lib_.live);
          for (const auto& rule : live->entries) {
            if (rule.kind != dsl::EntryKind::When) continue;
            relevant = true;
            take(ev.next_change(*rule.condition, Scope{}));
          }
        }
      }
      if (!relevant) {
        if (const auto h = st_.history.find(jname); h != st_.history.end())
          h->second.check_at.reset();
        continue;
      }
      auto& h = st_.history[jname];
      if (tracing_ && best != h.check_at && best)
        trace(jname, "conditions may change at " + format_timestamp(*best) + ": timer set");
      h.check_at = best;
    }
  }

  void drain() {
    while (!emits_.empty()) {
      Emitted e = std::move(emits_.front());
      emits_.pop_front();
      depth_ = e.depth;
      if (tracing_)
        trace("", "emitted event " + e.name + " received " + dump(e.properties), e.properties);
      store(e.name, e.properties);
      on_track(e.name, e.properties);
      settle();
    }
    depth_ = 0;
  }

  const Library& lib_;
  const EngineConfig& cfg_;
  const Zones& zones_;
  CustomerState& st_;
  bool tracing_;
  Outcome& out_;
  Millis now_;
  bool holdout_;  // the customer is in the global holdout
  int depth_ = 0;
  std::deque<Emitted> emits_;
};

}  // namespace

std::optional<dsl::ModelFacts> model_facts(const std::optional<PurchaseModel>& model) {
  if (!model) return std::nullopt;
  return dsl::ModelFacts{model->gamma_gamma.has_value()};
}

Engine::Engine(EngineConfig config)
    : config_(std::move(config)),
      versions_(std::make_unique<Versions>()),
      zones_(std::make_unique<const Zones>(Zones::from_tzdb())) {}
Engine::~Engine() = default;

void Engine::deploy(std::shared_ptr<const Program> program) {
  auto& lib = versions_->library;
  lib.add(program);
  lib.live = std::move(program);
  lib.rebuild();
}

void Engine::retain(const std::shared_ptr<const Program>& program) {
  versions_->library.add(program);
  versions_->library.rebuild();
}

void Engine::forget(const std::shared_ptr<const Program>& program) {
  auto& lib = versions_->library;
  if (program == nullptr || program == lib.live) return;
  lib.programs.erase(std::remove(lib.programs.begin(), lib.programs.end(), program),
                     lib.programs.end());
  lib.rebuild();
}

const Journey* Engine::find_version(const std::string& journey, const std::string& version) const {
  return versions_->library.find(journey, version).second;
}

bool Engine::reads_event(std::string_view name) const {
  return versions_->library.events_read.count(name) > 0 ||
         (config_.model && config_.model->event == name);
}

Outcome Engine::on_event(CustomerState& state, const Event& event, bool trace) const {
  Outcome out;
  Call call(versions_->library, config_, *zones_, state, trace, out);
  call.migrate();
  call.advance(event.at, event.at);
  if (event.type != Event::Type::Alias) call.apply(event);  // a link only: see identity.hpp
  return out;
}

Outcome Engine::on_time(CustomerState& state, Millis now, bool trace) const {
  Outcome out;
  Call call(versions_->library, config_, *zones_, state, trace, out);
  call.migrate();
  call.advance(now, now);
  call.schedule_from(now);
  return out;
}

Outcome Engine::advance(CustomerState& state, Millis now, Millis recurring_until,
                        bool trace) const {
  Outcome out;
  Call call(versions_->library, config_, *zones_, state, trace, out);
  call.migrate();
  call.advance(now, recurring_until);
  return out;
}

Outcome Engine::merge(CustomerState& survivor, CustomerState& absorbed, Millis at,
                      const std::string& cause, bool trace) const {
  Outcome out = advance(absorbed, at, at, trace);
  Outcome mine = advance(survivor, at, at, trace);
  out.actions.insert(out.actions.end(), std::make_move_iterator(mine.actions.begin()),
                     std::make_move_iterator(mine.actions.end()));
  std::stable_sort(out.actions.begin(), out.actions.end(),
                   [](const Action& a, const Action& b) { return a.at < b.at; });
  out.records.insert(out.records.end(), std::make_move_iterator(mine.records.begin()),
                     std::make_move_iterator(mine.records.end()));
  out.trace.insert(out.trace.end(), std::make_move_iterator(mine.trace.begin()),
                   std::make_move_iterator(mine.trace.end()));
  survivor.clock = std::max({survivor.clock, absorbed.clock, at});
  Call call(versions_->library, config_, *zones_, survivor, trace, out);
  call.absorb(absorbed, cause);
  return out;
}

std::optional<Millis> Engine::next_wakeup(const CustomerState& state,
                                          bool include_recurring) const {
  std::optional<Millis> best;
  const auto take = [&best](Millis t) {
    if (!best || t < *best) best = t;
  };
  for (const auto& [name, run] : state.runs) {
    if (run.wait != RunState::Wait::None) take(run.wake_at);
  }
  for (const auto& [name, h] : state.history) {
    if (h.check_at) take(*h.check_at);
    for (const auto& [idx, t] : h.every_next) {
      if (include_recurring || one_off_tick(versions_->library, name, idx)) take(t);
    }
  }
  return best;
}

nlohmann::json Engine::describe(const CustomerState& state) const {
  nlohmann::json out;
  out["customer_id"] = state.customer_id;
  out["known"] = state.known;
  out["profile"] = state.profile;
  const auto tags = state.profile.find("tags");
  out["tags"] = tags != state.profile.end() && tags->is_array() ? *tags : nlohmann::json::array();
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& [name, run] : state.runs) {
    static constexpr const char* kWaits[] = {"running", "waiting", "waiting for an event",
                                             "held by quiet hours"};
    nlohmann::json r{{"journey", name},       {"version", run.version},
                     {"entry", run.entry_no}, {"entered_at", format_timestamp(run.entered_at)},
                     {"step", run.step},      {"state", kWaits[static_cast<int>(run.wait)]}};
    if (const Journey* j = find_version(name, run.version)) {
      r["step_name"] = step_name(*j, run.step);
      if (run.wait == RunState::Wait::Hold && !j->quiet_start && j->send_window)
        r["state"] = "held by the send window";
    }
    if (run.wait != RunState::Wait::None) r["next_wakeup"] = format_timestamp(run.wake_at);
    if (!run.variant.empty()) r["variant"] = run.variant;
    runs.push_back(std::move(r));
  }
  out["runs"] = std::move(runs);
  nlohmann::json journeys = nlohmann::json::object();
  for (const auto& [name, h] : state.history) {
    if (h.entries == 0) continue;
    journeys[name] = {{"entries", h.entries},
                      {"last_entry", format_timestamp(h.last_entry)},
                      {"version", h.version}};
  }
  out["journeys"] = std::move(journeys);
  if (!state.linked_ids.empty()) {  // identity: every id of the customer, and how they joined
    nlohmann::json ids = nlohmann::json::array({state.customer_id});
    for (const auto& id : state.linked_ids) ids.push_back(id);
    out["ids"] = std::move(ids);
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& m : state.merges) {
      merges.push_back({{"at", format_timestamp(m.at)},
                        {"absorbed", m.absorbed},
                        {"into", m.into},
                        {"cause", m.cause}});
    }
    out["merges"] = std::move(merges);
  }
  if (!state.consents.empty()) {  // proof of consent: when and where each was given or withdrawn
    nlohmann::json consents = nlohmann::json::array();
    for (const auto& c : state.consents) consents.push_back(consent_json(c));
    out["consents"] = std::move(consents);
  }
  if (config_.program.holdout_bp > 0)
    out["in_holdout"] = in_holdout(config_.program, state.customer_id);
  const auto next = next_wakeup(state, true);
  out["next_wakeup"] = next ? nlohmann::json(format_timestamp(*next)) : nlohmann::json(nullptr);
  return out;
}

std::unique_ptr<CustomerState> new_customer(const std::string& customer_id) {
  auto state = std::make_unique<CustomerState>();
  state->customer_id = customer_id;
  state->clock = std::numeric_limits<Millis>::min();
  return state;
}

void seed_profile(CustomerState& state, const nlohmann::json& traits) {
  if (!traits.is_object()) return;
  for (const auto& [key, value] : traits.items()) {
    if (is_consent_group(key)) note_consents(state, {key}, value, 0, "profile");
    if (value.is_null()) {
      state.profile.erase(key);
    } else {
      state.profile[key] = value;
    }
  }
}

}  // namespace journey::engine

#include "runtime/serve/group_step.hpp"

#include <algorithm>

#include "engine/action.hpp"
#include "engine/counts.hpp"
#include "engine/identity.hpp"

namespace journey::runtime {
namespace {

using nlohmann::json;

/// Active runs of a customer (journey, version, the step it is at), for runs-per-state counts.
/// Read straight from the state: the same fields describe() shows, without building its JSON.
std::vector<StoredRun> runs_of(const engine::CustomerState& state) {
  std::vector<StoredRun> out;
  out.reserve(state.runs.size());
  for (const auto& [journey, run] : state.runs) out.push_back({journey, run.version, run.step});
  return out;
}

bool same_runs(const std::vector<StoredRun>& a, const std::vector<StoredRun>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const StoredRun& x, const StoredRun& y) {
                      return x.journey == y.journey && x.version == y.version && x.state == y.state;
                    });
}

/// After an engine failure: the customer's state as it was before the group, then the group's
/// earlier inputs again (the engine is deterministic, so they give what they gave before).
void restore(const engine::Engine& engine, CachedCustomer& entry, const std::string& customer,
             const std::vector<ShardInput>& inputs, const std::vector<std::size_t>& applied,
             engine::Millis now) {
  entry.state =
      entry.snapshot.empty() ? engine::new_customer(customer) : engine::deserialize(entry.snapshot);
  for (auto index : applied) {
    const auto& input = inputs[index];
    if (input.kind == ShardInput::Kind::Event) {
      engine.on_event(*entry.state, input.event, true);
    } else {
      engine.on_time(*entry.state, now, true);
    }
  }
}

/// One step call's actions, counters and trace lines into the group's batch.
void collect(engine::Outcome& outcome, const std::string& customer, std::size_t trace_lines,
             GroupStep& out, std::vector<StoredTrace>& trace,
             std::map<CounterDelta, std::int64_t>& counters) {
  for (const auto& action : outcome.actions) {
    OutboxEntry entry;
    entry.action_id = action.action_id;
    entry.customer_id = action.customer_id.empty() ? customer : action.customer_id;
    entry.channel = action.channel;
    entry.payload = engine::to_json_line(action);
    out.batch.actions.push_back(std::move(entry));
  }
  for (const auto& record : outcome.records) {
    if (record.kind == engine::Record::Kind::Migrated) {
      // Counted on both sides: runs that left the old version, runs that joined the new one.
      counters[CounterDelta{record.journey, record.detail, "migrated_out", "", 0}] += 1;
      counters[CounterDelta{record.journey, record.version, "migrated_in", "", 0}] += 1;
      ++out.migrated;
      continue;
    }
    if (record.kind == engine::Record::Kind::Error) {
      out.problems.push_back({customer, record.journey, record.detail, false});
    }
    engine::count_record(record, [&](const char* metric, std::string key) {
      counters[CounterDelta{record.journey, record.version, metric, std::move(key), 0}] += 1;
    });
  }
  if (trace_lines > 0) {
    for (const auto& line : outcome.trace) {
      trace.push_back({customer, line.at, line.journey, line.message,
                       line.detail.dump(-1, ' ', false, json::error_handler_t::replace)});
    }
  }
}

/// A Merge input: the absorbed customer (loaded by the shard, when it has a state) into this
/// one, whose row keeps the merged state whichever of the two survives (engine::survives). The
/// absorbed customer's rows go; every id of it now names this customer.
void merge(const engine::Engine& engine, const ShardInput& input, CustomerCache& cache,
           const GroupContext& context, GroupStep& out, std::vector<StoredTrace>& trace,
           std::map<CounterDelta, std::int64_t>& counters, std::set<std::string>& touched) {
  const std::string& customer = input.customer_id;
  auto& entry = cache.at(customer);
  for (const auto& id : input.ids) out.batch.identities.emplace_back(id, customer);
  out.batch.identities.emplace_back(customer, customer);
  ++out.merges;
  touched.insert(customer);
  // An id never seen (an alias of a device that sent nothing) joins as an empty customer.
  const auto other = cache.find(input.absorbed);
  auto theirs =
      other != cache.end() ? std::move(other->second.state) : engine::new_customer(input.absorbed);
  if (other != cache.end()) cache.erase(other);
  const bool mine_survives = engine::survives(*entry.state, *theirs);
  auto outcome = mine_survives ? engine.merge(*entry.state, *theirs, input.due, input.cause, true)
                               : engine.merge(*theirs, *entry.state, input.due, input.cause, true);
  if (!mine_survives) entry.state = std::move(theirs);
  collect(outcome, customer, context.trace_lines, out, trace, counters);
  out.batch.absorbed.push_back(input.absorbed);
  out.wakeups[input.absorbed] = std::nullopt;
  touched.erase(input.absorbed);
}

}  // namespace

GroupStep step_group(const engine::Engine& engine, const std::vector<ShardInput>& inputs,
                     CustomerCache& cache, const GroupContext& context) {
  GroupStep out;
  out.results.resize(inputs.size());
  const auto now = context.now;
  std::map<CounterDelta, std::int64_t> counters;
  std::vector<StoredTrace> trace;  // the group's trace lines, stored as rows per customer
  std::set<std::string> touched;
  std::unordered_map<std::string, std::vector<std::size_t>> applied;  // inputs stepped, by customer
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const auto& input = inputs[k];
    auto& result = out.results[k];
    const bool is_event = input.kind == ShardInput::Kind::Event;
    const std::string& customer = input.customer();
    const std::string& message_id = input.event.message_id;
    if (input.kind == ShardInput::Kind::Wake) out.woken.insert(customer);
    if (input.kind == ShardInput::Kind::Merge) {
      merge(engine, input, cache, context, out, trace, counters, touched);
      continue;
    }
    auto cached = cache.find(customer);
    if (cached == cache.end()) {
      if (auto bad = context.unreadable.find(customer); bad != context.unreadable.end()) {
        result.ok = false;
        result.error = "stored state unreadable: " + bad->second;
      }
      continue;  // otherwise a wake-up for a customer erased since
    }
    auto& entry = cached->second;
    // The state holds every messageId the customer was ever sent: a repeat is answered without
    // stepping.
    if (is_event && !message_id.empty() && entry.state->message_ids.count(message_id) != 0) {
      result.duplicate = true;
      ++out.duplicates;
      continue;
    }
    // A replay of an erased customer's data: an event from before the erasure, or one whose
    // messageId the customer had. Ignored, so erased data does not come back.
    if (is_event && entry.erased_at &&
        (input.event.at <= *entry.erased_at ||
         (!message_id.empty() && context.erased_messages.count({customer, message_id}) != 0))) {
      result.erased = true;
      ++out.erased;
      continue;
    }
    engine::Outcome outcome;
    try {
      outcome = is_event ? engine.on_event(*entry.state, input.event, true)
                         : engine.on_time(*entry.state, now, true);
    } catch (const std::exception& e) {
      restore(engine, entry, customer, inputs, applied[customer], now);
      result.ok = false;
      result.error = std::string("engine failure: ") + e.what();
      out.problems.push_back({customer, "", e.what(), true});
      continue;
    }
    if (outcome.duplicate) {
      result.duplicate = true;
      ++out.duplicates;
      continue;
    }
    for (const auto& note : input.notes) {  // links refused by the bound on ids
      ++out.merges_refused;
      if (context.trace_lines > 0) trace.push_back({customer, input.event.at, "", note, "{}"});
    }
    applied[customer].push_back(k);
    if (is_event) {
      ++out.accepted;
      out.batch.events.push_back({customer, message_id, input.event.at, input.raw});
    } else if (input.kind == ShardInput::Kind::Wake) {
      out.wake_lateness.push_back(std::max<engine::Millis>(0, now - input.due));
    }
    touched.insert(customer);
    collect(outcome, customer, context.trace_lines, out, trace, counters);
  }
  for (const auto& customer : touched) {
    auto& entry = cache.at(customer);
    CustomerWrite write;
    write.customer_id = customer;
    write.state = engine::serialize(*entry.state);
    entry.snapshot = write.state;
    write.next_wakeup = engine.next_wakeup(*entry.state);
    write.runs = runs_of(*entry.state);
    // The runs table changes only when a run starts, moves or ends.
    write.write_runs = !entry.runs_known || !same_runs(write.runs, entry.runs);
    if (write.write_runs) write.previous_runs = std::move(entry.runs);
    entry.runs = write.runs;
    entry.runs_known = true;
    out.wakeups[customer] = write.next_wakeup;
    out.batch.customers.push_back(std::move(write));
    ++entry.commits;
    out.touched.push_back(customer);
  }
  for (const auto& [key, delta] : counters) {
    CounterDelta counter = key;
    counter.delta = delta;
    out.batch.counters.push_back(std::move(counter));
  }
  out.batch.traces = trace_rows(trace);
  out.batch.trace_keep = context.trace_lines;  // trimmed in the same transaction
  return out;
}

CachedCustomer cached_customer(std::unique_ptr<engine::CustomerState> state, std::string snapshot) {
  CachedCustomer entry;
  entry.state = std::move(state);
  entry.snapshot = std::move(snapshot);
  entry.runs = runs_of(*entry.state);  // the stored runs rows mirror the stored state
  entry.runs_known = true;
  return entry;
}

}  // namespace journey::runtime

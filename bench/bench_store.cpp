// bench_store: what the SQLite store costs per unit of daemon work, without HTTP or the engine.
//
// The daemon's single committer thread spends its time in SqliteStore::apply; the dispatcher in
// due_actions and mark_delivered; the shards in load_customer. This program times those calls on
// a real database file with the shapes the daemon writes (sizes taken from the welcome and
// wait benchmarks), so a change to the schema or the statements can be measured in seconds:
//   ingest   customers' events, as /v1/batch brings them: events rows, a state upsert per
//            customer per group, trace lines, a run started, a send for some
//   fire     wake-ups of customers who all wait for one instant: due_wakeups pages, state
//            reads, the new state (no wake-up), the run ended, one send and trace lines each
//   deliver  the sends of `fire` read from the outbox and marked delivered, as the file sink does
//
//   bench_store [--customers N] [--group N] [--dir DIR]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "runtime/store/sqlite_store.hpp"

namespace fs = std::filesystem;
using journey::runtime::Batch;
using journey::runtime::CustomerWrite;
using journey::runtime::OutboxEntry;
using journey::runtime::SqliteStore;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string customer(std::size_t i) {
  return "c" + std::to_string(1'000'000 + i);
}

constexpr journey::engine::Millis kInstant = 1'800'000'000'000;

/// CPU seconds of this process so far (its one thread: waits for fsync are not counted).
double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

void report(const char* what, double seconds, double cpu, std::size_t units, const char* unit) {
  const auto n = static_cast<double>(units);
  std::printf("%-8s %9zu %-10s %7.2f s  %7.2f us/%s (CPU %5.2f us)  %9.0f %s/s\n", what, units,
              unit, seconds, seconds * 1e6 / n, unit, cpu * 1e6 / n, n / seconds, unit);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t customers = 200'000;
  std::size_t group = 512;
  fs::path dir = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--customers")
      customers = std::strtoull(argv[i + 1], nullptr, 10);
    else if (arg == "--group")
      group = std::strtoull(argv[i + 1], nullptr, 10);
    else if (arg == "--dir")
      dir = argv[i + 1];
    else {
      std::cerr << "usage: bench_store [--customers N] [--group N] [--dir DIR]\n";
      return 2;
    }
  }
  auto path = dir / ("bench_store_" + std::to_string(::getpid()) + ".db");
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
    }
  } cleanup{path};

  SqliteStore store(path.string());
  store.exec("PRAGMA wal_autocheckpoint=0");
  store.exec("PRAGMA cache_size=-65536");
  SqliteStore checkpointer(path.string());
  const std::string state(420, 's');       // a welcome customer's serialized state
  const std::string event_json(230, 'e');  // one Segment track event as received
  const std::string payload(260, 'p');     // one action's JSON line
  const std::string detail = R"({"step":"s1"})";
  const std::size_t events_per_customer = 19;

  // ingest: every customer's events in one group with it (the bench data is customer-grouped).
  auto start = Clock::now();
  auto cpu_start = cpu_seconds();
  std::size_t events = 0;
  std::size_t commits = 0;
  Batch batch;
  std::vector<journey::runtime::StoredTrace> lines;
  auto commit = [&] {
    // The shards group the trace lines into rows and add up their counters per group.
    batch.traces = journey::runtime::trace_rows(lines);
    lines.clear();
    batch.counters.push_back({"wait_bench", "v1", "entered", "", 1});
    batch.counters.push_back({"wait_bench", "v1", "sends", "", 1});
    store.apply(batch);
    batch = Batch{};
    batch.trace_keep = 200;
    if (++commits % 32 == 0) checkpointer.exec("PRAGMA wal_checkpoint(PASSIVE)");
  };
  batch.trace_keep = 200;
  for (std::size_t c = 0; c < customers; ++c) {
    auto id = customer(c);
    for (std::size_t e = 0; e < events_per_customer; ++e) {
      // Over the 30 days before the instant, as examples/generate spreads them.
      auto at = kInstant -
                static_cast<journey::engine::Millis>((c * 7919 + e * 104729) % 2'592'000) * 1000;
      batch.events.push_back({id, id + "-m" + std::to_string(e), at, event_json});
      lines.push_back({id, kInstant, "", "event received", "{}"});
      ++events;
    }
    lines.push_back({id, kInstant, "wait_bench", "entered", "{}"});
    batch.customers.push_back({id, state, kInstant, {{"wait_bench", "v1", "s1"}}, true});
    if (batch.events.size() >= group) commit();
  }
  commit();
  report("ingest", since(start), cpu_seconds() - cpu_start, events, "event");

  // fire: page the due wake-ups as the timer queue does, read each state, write the outcome.
  start = Clock::now();
  cpu_start = cpu_seconds();
  std::size_t fired = 0;
  std::optional<std::pair<journey::engine::Millis, std::string>> after;
  for (;;) {
    auto due = store.due_wakeups(kInstant, group, after);
    if (due.empty()) break;
    after = std::make_pair(due.back().second, due.back().first);
    for (const auto& [id, at] : due) {
      auto stored = store.load_customer(id);
      if (!stored) return 1;
      batch.customers.push_back({id, *stored, std::nullopt, {}, true});
      OutboxEntry action;
      action.action_id = "a-" + id;
      action.customer_id = id;
      action.channel = "email";
      action.payload = payload;
      batch.actions.push_back(std::move(action));
      for (const char* line :
           {"wait at s1 is over", "send email \"due\" at s2", "left the journey"}) {
        lines.push_back({id, kInstant, "wait_bench", line, detail});
      }
      ++fired;
    }
    commit();
  }
  report("fire", since(start), cpu_seconds() - cpu_start, fired, "wake-up");

  // deliver: what the file sink's worker does with the outbox after the commits.
  start = Clock::now();
  cpu_start = cpu_seconds();
  std::size_t delivered = 0;
  for (;;) {
    auto due = store.due_actions(kInstant, group);
    if (due.empty()) break;
    std::vector<std::int64_t> seqs;
    for (const auto& entry : due) seqs.push_back(entry.seq);
    store.mark_delivered(seqs);
    delivered += seqs.size();
  }
  report("deliver", since(start), cpu_seconds() - cpu_start, delivered, "action");
  return fired == customers && delivered == customers ? 0 : 1;
}

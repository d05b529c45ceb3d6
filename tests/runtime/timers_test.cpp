// The wake-up schedule against a real SQLite store, with a clock the test moves.
#include "runtime/serve/timers.hpp"

#include <filesystem>
#include <random>
#include <set>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "runtime/deliver/dispatcher.hpp"
#include "runtime/store/sqlite_store.hpp"

using namespace journey::runtime;
namespace fs = std::filesystem;
using journey::engine::Millis;

namespace {

struct TempDb {
  fs::path dir;
  TempDb() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("journey-timers-" + std::to_string(rd()));
    fs::create_directories(dir);
  }
  ~TempDb() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string path() const { return (dir / "j.db").string(); }
};

void put(Store& store, const std::string& customer, std::optional<Millis> wakeup) {
  Batch batch;
  batch.customers.push_back({customer, "state", wakeup, {}});
  store.apply(batch);
}

}  // namespace

TEST_CASE("timers: due wake-ups fire in order, late ones at once, stale ones never", "[timers]") {
  TempDb db;
  SqliteStore store(db.path());
  Millis now = 1'000'000;
  put(store, "late", now - 5000);  // came due while the daemon was down
  put(store, "soon", now + 20);
  put(store, "moved", now + 30);
  put(store, "far", now + 3'600'000);  // outside the window: stays in the store
  put(store, "none", std::nullopt);

  boost::asio::io_context io;
  std::vector<std::pair<std::string, Millis>> fired;
  auto clock = [&now] { return now; };
  TimerQueue timers(
      io, store, 60'000, 1000,
      [&](std::vector<TimerQueue::Due>& due) { fired.insert(fired.end(), due.begin(), due.end()); },
      clock);
  timers.start();
  io.run_for(std::chrono::milliseconds(50));
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == std::make_pair(std::string("late"), now - 5000));
  CHECK(timers.in_memory() == 2);

  // The customer handled its wake-up: nothing more for it. "moved" now waits an hour. As in the
  // daemon, the store is written first, then the queue told.
  put(store, "late", std::nullopt);
  timers.update("late", std::nullopt);
  put(store, "moved", now + 3'600'000);
  timers.update("moved", now + 3'600'000);
  now += 40;
  io.run_for(std::chrono::milliseconds(100));
  REQUIRE(fired.size() == 2);
  CHECK(fired[1].first == "soon");
  CHECK(timers.in_memory() == 0);
  put(store, "soon", std::nullopt);

  // A new near wake-up arms the timer earlier.
  put(store, "soon", now + 10);
  timers.update("soon", now + 10);
  now += 10;
  io.run_for(std::chrono::milliseconds(100));
  REQUIRE(fired.size() == 3);
  CHECK(fired[2].first == "soon");
  timers.stop();
  io.run_for(std::chrono::milliseconds(20));
}

TEST_CASE("timers: a full window only trusts what it loaded", "[timers]") {
  TempDb db;
  SqliteStore store(db.path());
  Millis now = 5'000'000;
  for (int i = 0; i < 40; ++i) put(store, "c" + std::to_string(100 + i), now - 1000 + i);
  boost::asio::io_context io;
  std::vector<std::string> fired;
  TimerQueue timers(
      io, store, 60'000, 16,
      [&](std::vector<TimerQueue::Due>& due) {
        for (const auto& [customer, at] : due) {
          fired.push_back(customer);
          // The shard would commit a later wake-up (none here) and tell the queue.
          put(store, customer, std::nullopt);
        }
      },
      [&now] { return now; });
  timers.start();
  for (int i = 0; i < 20 && fired.size() < 40; ++i) {
    io.run_for(std::chrono::milliseconds(20));
    for (const auto& customer : fired) timers.update(customer, std::nullopt);
  }
  timers.stop();
  io.run_for(std::chrono::milliseconds(20));
  REQUIRE(fired.size() == 40);
  CHECK(std::is_sorted(fired.begin(), fired.end()));
}

TEST_CASE("timers: more wake-ups at one instant than the window holds fire once each, in order",
          "[timers]") {
  TempDb db;
  SqliteStore store(db.path());
  Millis now = 7'000'000;
  {
    Batch batch;
    for (int i = 0; i < 100; ++i)
      batch.customers.push_back({"w" + std::to_string(1000 + i), "s", now, {}});
    store.apply(batch);
  }
  boost::asio::io_context io;
  std::vector<std::string> fired;
  std::vector<std::string> unanswered;
  TimerQueue timers(
      io, store, 60'000, 16,
      [&](std::vector<TimerQueue::Due>& due) {
        for (const auto& [customer, at] : due) {
          fired.push_back(customer);
          unanswered.push_back(customer);
        }
      },
      [&now] { return now; });
  timers.start();
  io.run_for(std::chrono::milliseconds(50));
  // The window is full of fired wake-ups awaiting their commit: nothing more fires meanwhile.
  CHECK(fired.size() == 16);
  for (int round = 0; round < 50 && fired.size() < 100; ++round) {
    // The shards commit (the customers wait no more) and answer; the next page is loaded.
    Batch batch;
    for (const auto& customer : unanswered)
      batch.customers.push_back({customer, "s", std::nullopt, {}});
    store.apply(batch);
    std::vector<TimerQueue::Update> updates;
    for (const auto& customer : unanswered) updates.emplace_back(customer, std::nullopt);
    timers.update(std::move(updates));  // as a shard answers a whole group
    unanswered.clear();
    io.run_for(std::chrono::milliseconds(20));
  }
  timers.stop();
  io.run_for(std::chrono::milliseconds(20));
  REQUIRE(fired.size() == 100);
  CHECK(std::is_sorted(fired.begin(), fired.end()));
  CHECK(std::set<std::string>(fired.begin(), fired.end()).size() == 100);
}

TEST_CASE("dispatcher: retry delays grow, are capped and jittered", "[dispatcher]") {
  WebhookPolicy policy;
  policy.backoff_initial_ms = 1000;
  policy.backoff_max_ms = 8000;
  // A seed of 500 gives a jitter factor of exactly 1.
  CHECK(retry_delay_ms(policy, 1, 500) == 1000);
  CHECK(retry_delay_ms(policy, 2, 500) == 2000);
  CHECK(retry_delay_ms(policy, 3, 500) == 4000);
  CHECK(retry_delay_ms(policy, 4, 500) == 8000);
  CHECK(retry_delay_ms(policy, 30, 500) == 8000);
  CHECK(retry_delay_ms(policy, 1, 0) == 500);
  CHECK(retry_delay_ms(policy, 1, 999) == 1499);
}

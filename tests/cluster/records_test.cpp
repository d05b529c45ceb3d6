// What the cluster's log records and bucket values hold, written and read back (no servers).
#include "runtime/cluster/records.hpp"

#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

using namespace journey::runtime;

namespace {

CustomerWrite write(const std::string& id, const std::string& state, bool runs) {
  CustomerWrite out;
  out.customer_id = id;
  out.state = state;
  out.next_wakeup = 1000;
  out.write_runs = runs;
  if (runs) out.runs = {{"welcome", "v1", "wait"}};
  return out;
}

}  // namespace

TEST_CASE("log records: a commit, a takeover and an erasure read back as written", "[cluster]") {
  LogRecord commit;
  commit.cursor = 42;
  commit.customers = {write("c1", std::string("bin\0ary", 7), true), write("c2", "s2", false)};
  commit.traces = {{"c1", 2, R"([[1,"welcome","entered",{}],[2,"welcome","sent",{}]])"}};
  OutboxEntry action;
  action.action_id = "a1";
  action.customer_id = "c1";
  action.channel = "email";
  action.payload = R"({"action_id":"a1"})";
  commit.actions = {action};
  commit.counters = {{"welcome", "v1", "entered", "", 1}};
  const auto back = decode_record(encode(commit));
  CHECK(back.kind == LogRecord::Kind::Commit);
  CHECK(back.cursor == 42);
  REQUIRE(back.customers.size() == 2);
  CHECK(back.customers[0].state == std::string("bin\0ary", 7));
  CHECK(back.customers[0].next_wakeup == 1000);
  CHECK(back.customers[0].write_runs);
  CHECK(back.customers[0].runs.size() == 1);
  CHECK_FALSE(back.customers[1].write_runs);
  CHECK(back.traces[0].lines == 2);
  CHECK(back.actions[0].payload == action.payload);
  CHECK(back.counters[0].delta == 1);

  LogRecord takeover;
  takeover.kind = LogRecord::Kind::Takeover;
  takeover.node = "node-b";
  takeover.lease_revision = 7;
  CHECK(decode_record(encode(takeover)).node == "node-b");
  LogRecord erase;
  erase.kind = LogRecord::Kind::Erase;
  erase.customer_key = "00ff";
  erase.cursor = 9;
  const auto erased = decode_record(encode(erase));
  CHECK(erased.kind == LogRecord::Kind::Erase);
  CHECK(erased.customer_key == "00ff");
  CHECK_THROWS(decode_record("not msgpack at all"));
}

TEST_CASE("log records: a commit too large for one message is split by customer", "[cluster]") {
  LogRecord commit;
  commit.cursor = 7;
  for (int i = 0; i < 100; ++i) {
    commit.customers.push_back(write("c" + std::to_string(i), std::string(1000, 'x'), true));
    OutboxEntry action;
    action.action_id = "a" + std::to_string(i);
    action.customer_id = "c" + std::to_string(i);
    commit.actions.push_back(action);
  }
  commit.counters = {{"welcome", "v1", "sends", "", 100}};
  const auto chunks = encode_commit(commit, 20'000);
  REQUIRE(chunks.size() > 4);
  std::set<std::string> customers;
  std::size_t counters = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    CHECK(chunks[i].size() < 30'000);
    const auto chunk = decode_record(chunks[i]);
    CHECK(chunk.chunk == static_cast<int>(i));
    CHECK(chunk.chunks == static_cast<int>(chunks.size()));
    CHECK(chunk.cursor == 7);
    for (const auto& customer : chunk.customers) customers.insert(customer.customer_id);
    // Each action rides with its customer.
    for (const auto& action : chunk.actions) {
      CHECK(std::any_of(chunk.customers.begin(), chunk.customers.end(),
                        [&](const auto& c) { return c.customer_id == action.customer_id; }));
    }
    counters += chunk.counters.size();
  }
  CHECK(customers.size() == 100);
  CHECK(counters == 1);
  CHECK(encode_commit(commit, 10'000'000).size() == 1);
}

TEST_CASE("bucket values: a customer, a partition and a deployment", "[cluster]") {
  CustomerValue customer;
  customer.seq = 5;
  customer.write = write("c1", "state", true);
  customer.traces = {{"c1", 1, "[[1,\"\",\"event signup received\",{}]]"}};
  const auto back = decode_customer(encode(customer));
  CHECK(back.seq == 5);
  CHECK(back.write.customer_id == "c1");
  CHECK(back.write.runs.size() == 1);
  CHECK(back.traces.size() == 1);

  PartitionValue partition;
  partition.seq = 9;
  partition.cursor = 100;
  partition.counters[{"welcome", "v1", "entered", ""}] = 3;
  partition.runs[{"welcome", "v1", "wait"}] = 2;
  const auto value = decode_partition(encode(partition));
  CHECK(value.cursor == 100);
  CHECK(value.counters.at({"welcome", "v1", "entered", ""}) == 3);
  CHECK(value.runs.at({"welcome", "v1", "wait"}) == 2);

  Deployment deployment{"d1", 1234, {{"welcome.journey", "journey welcome {}"}}};
  const auto read = decode_deployment("d1", encode_deployment(deployment));
  CHECK(read.deployed_at == 1234);
  CHECK(read.files == deployment.files);
}

// What a cluster stores about a partition, as bytes (MessagePack): the records of a partition's
// log, a customer's materialized value in the customers bucket, and a partition's value in the
// partitions bucket. The same encodings are read back by a node that takes the partition over.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/store/store.hpp"

namespace journey::runtime {

/// One record of a partition's log.
struct LogRecord {
  enum class Kind : std::uint8_t { Takeover, Commit, Erase };
  Kind kind = Kind::Commit;
  // Takeover: the node that took the partition and its lease revision.
  std::string node;
  std::uint64_t lease_revision = 0;
  // Commit: the customers' new states (with their runs when write_runs), trace rows, actions and
  // counter deltas of a group commit, and the sequence of the last event it consumed. A commit
  // too large for one message is split: chunk `chunk` of `chunks`, consecutive in the log, the
  // cursor valid once the last chunk is in.
  std::uint64_t cursor = 0;
  std::vector<CustomerWrite> customers;
  std::vector<TraceRow> traces;
  std::vector<OutboxEntry> actions;
  std::vector<CounterDelta> counters;
  int chunk = 0;
  int chunks = 1;
  // Erase: the erased customer's key (the cursor is the erasure's event).
  std::string customer_key;
};

std::string encode(const LogRecord& record);
/// Throws std::runtime_error when the bytes are not a record.
LogRecord decode_record(std::string_view bytes);

/// Splits a commit into records of at most about `max_bytes` each (one when it fits).
std::vector<std::string> encode_commit(LogRecord record, std::size_t max_bytes);

/// A customer as materialized in the customers bucket: the state of the log record `seq`, with
/// the customer's newest trace rows and recent actions (for explain and the customer view).
struct CustomerValue {
  std::uint64_t seq = 0;
  CustomerWrite write;  // runs always included
  std::vector<TraceRow> traces;
  std::vector<OutboxEntry> actions;
};

std::string encode(const CustomerValue& value);
CustomerValue decode_customer(std::string_view bytes);

/// Active runs per (journey, version, step).
using RunCounts = std::map<std::tuple<std::string, std::string, std::string>, std::int64_t>;
/// Counter values per (journey, version, metric, key).
using CounterValues =
    std::map<std::tuple<std::string, std::string, std::string, std::string>, std::int64_t>;

/// A partition as materialized in the partitions bucket: every log record up to `seq` is
/// reflected in the customers bucket; the next event to consume follows `cursor`.
struct PartitionValue {
  std::uint64_t seq = 0;
  std::uint64_t cursor = 0;
  CounterValues counters;
  RunCounts runs;
};

std::string encode(const PartitionValue& value);
PartitionValue decode_partition(std::string_view bytes);

/// A deployment as the cluster's meta bucket holds it (key d.<id>): JSON, for people too.
std::string encode_deployment(const Deployment& deployment);
Deployment decode_deployment(const std::string& id, std::string_view text);

}  // namespace journey::runtime

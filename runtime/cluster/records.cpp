#include "runtime/cluster/records.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace journey::runtime {
namespace {

using nlohmann::json;

json binary(const std::string& bytes) {
  return json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

std::string bytes_of(const json& value) {
  const auto& bin = value.get_binary();
  return {bin.begin(), bin.end()};
}

json runs_json(const std::vector<StoredRun>& runs) {
  json out = json::array();
  for (const auto& run : runs) out.push_back({run.journey, run.version, run.state});
  return out;
}

std::vector<StoredRun> runs_of(const json& value) {
  std::vector<StoredRun> out;
  for (const auto& run : value) out.push_back({run.at(0), run.at(1), run.at(2)});
  return out;
}

json customer_json(const CustomerWrite& write, bool with_runs) {
  json out = {{"id", write.customer_id},
              {"s", binary(write.state)},
              {"w", write.next_wakeup ? json(*write.next_wakeup) : json(nullptr)}};
  if (with_runs) out["r"] = runs_json(write.runs);
  return out;
}

CustomerWrite customer_of(const json& value) {
  CustomerWrite write;
  write.customer_id = value.at("id");
  write.state = bytes_of(value.at("s"));
  if (!value.at("w").is_null()) write.next_wakeup = value.at("w").get<engine::Millis>();
  write.write_runs = value.contains("r");
  if (write.write_runs) write.runs = runs_of(value.at("r"));
  return write;
}

json traces_json(const std::vector<TraceRow>& rows) {
  json out = json::array();
  for (const auto& row : rows) out.push_back({row.customer_id, row.lines, row.json});
  return out;
}

std::vector<TraceRow> traces_of(const json& value) {
  std::vector<TraceRow> out;
  for (const auto& row : value) out.push_back({row.at(0), row.at(1), row.at(2)});
  return out;
}

json actions_json(const std::vector<OutboxEntry>& actions) {
  json out = json::array();
  for (const auto& a : actions) {
    out.push_back({a.action_id, a.customer_id, a.channel, a.payload, status_name(a.status),
                   a.attempts, a.last_error});
  }
  return out;
}

std::vector<OutboxEntry> actions_of(const json& value) {
  std::vector<OutboxEntry> out;
  for (const auto& a : value) {
    OutboxEntry entry;
    entry.action_id = a.at(0);
    entry.customer_id = a.at(1);
    entry.channel = a.at(2);
    entry.payload = a.at(3);
    const std::string status = a.at(4);
    entry.status = status == "delivered" ? DeliveryStatus::Delivered
                   : status == "dead"    ? DeliveryStatus::Dead
                                         : DeliveryStatus::Pending;
    entry.attempts = a.at(5);
    entry.last_error = a.at(6);
    out.push_back(std::move(entry));
  }
  return out;
}

std::string pack(const json& value) {
  auto bytes = json::to_msgpack(value);
  return {bytes.begin(), bytes.end()};
}

json unpack(std::string_view bytes) {
  return json::from_msgpack(bytes.begin(), bytes.end());
}

json commit_json(const LogRecord& record) {
  json customers = json::array();
  for (const auto& write : record.customers) {
    customers.push_back(customer_json(write, write.write_runs));
  }
  json counters = json::array();
  for (const auto& c : record.counters) {
    counters.push_back({c.journey, c.version, c.metric, c.key, c.delta});
  }
  return {{"k", "c"},
          {"cursor", record.cursor},
          {"chunk", record.chunk},
          {"chunks", record.chunks},
          {"customers", std::move(customers)},
          {"traces", traces_json(record.traces)},
          {"actions", actions_json(record.actions)},
          {"counters", std::move(counters)}};
}

}  // namespace

std::string encode(const LogRecord& record) {
  switch (record.kind) {
    case LogRecord::Kind::Takeover:
      return pack({{"k", "t"}, {"node", record.node}, {"lease", record.lease_revision}});
    case LogRecord::Kind::Erase:
      return pack({{"k", "e"}, {"key", record.customer_key}, {"cursor", record.cursor}});
    case LogRecord::Kind::Commit: return pack(commit_json(record));
  }
  return {};
}

std::vector<std::string> encode_commit(LogRecord record, std::size_t max_bytes) {
  record.kind = LogRecord::Kind::Commit;
  auto whole = encode(record);
  if (whole.size() <= max_bytes || record.customers.size() + record.actions.size() <= 1) {
    return {std::move(whole)};
  }
  // Split by customer: each chunk carries some customers with their trace rows and actions;
  // counters ride with the last chunk.
  const std::size_t parts = whole.size() / max_bytes + 1;
  const std::size_t per = (record.customers.size() + parts - 1) / parts;
  std::vector<LogRecord> chunks;
  std::map<std::string, std::size_t> chunk_of;  // customer -> chunk
  for (std::size_t i = 0; i < record.customers.size(); ++i) {
    if (i % std::max<std::size_t>(per, 1) == 0) chunks.emplace_back();
    chunk_of[record.customers[i].customer_id] = chunks.size() - 1;
    chunks.back().customers.push_back(std::move(record.customers[i]));
  }
  if (chunks.empty()) chunks.emplace_back();
  auto place = [&](const std::string& customer) {
    auto it = chunk_of.find(customer);
    return it == chunk_of.end() ? chunks.size() - 1 : it->second;
  };
  for (auto& row : record.traces) chunks[place(row.customer_id)].traces.push_back(std::move(row));
  for (auto& action : record.actions) {
    chunks[place(action.customer_id)].actions.push_back(std::move(action));
  }
  chunks.back().counters = std::move(record.counters);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].cursor = record.cursor;
    chunks[i].chunk = static_cast<int>(i);
    chunks[i].chunks = static_cast<int>(chunks.size());
    out.push_back(encode(chunks[i]));
  }
  return out;
}

LogRecord decode_record(std::string_view bytes) {
  const json value = unpack(bytes);
  LogRecord record;
  const std::string kind = value.at("k");
  if (kind == "t") {
    record.kind = LogRecord::Kind::Takeover;
    record.node = value.at("node");
    record.lease_revision = value.at("lease");
  } else if (kind == "e") {
    record.kind = LogRecord::Kind::Erase;
    record.customer_key = value.at("key");
    record.cursor = value.at("cursor");
  } else if (kind == "c") {
    record.kind = LogRecord::Kind::Commit;
    record.cursor = value.at("cursor");
    record.chunk = value.at("chunk");
    record.chunks = value.at("chunks");
    for (const auto& c : value.at("customers")) record.customers.push_back(customer_of(c));
    record.traces = traces_of(value.at("traces"));
    record.actions = actions_of(value.at("actions"));
    for (const auto& c : value.at("counters")) {
      record.counters.push_back({c.at(0), c.at(1), c.at(2), c.at(3), c.at(4)});
    }
  } else {
    throw std::runtime_error("unknown log record kind `" + kind + "`");
  }
  return record;
}

std::string encode(const CustomerValue& value) {
  return pack({{"seq", value.seq},
               {"c", customer_json(value.write, true)},
               {"t", traces_json(value.traces)},
               {"a", actions_json(value.actions)}});
}

CustomerValue decode_customer(std::string_view bytes) {
  const json value = unpack(bytes);
  CustomerValue out;
  out.seq = value.at("seq");
  out.write = customer_of(value.at("c"));
  out.traces = traces_of(value.at("t"));
  out.actions = actions_of(value.at("a"));
  return out;
}

std::string encode(const PartitionValue& value) {
  json counters = json::array();
  for (const auto& [key, count] : value.counters) {
    const auto& [journey, version, metric, name] = key;
    counters.push_back({journey, version, metric, name, count});
  }
  json runs = json::array();
  for (const auto& [key, count] : value.runs) {
    const auto& [journey, version, step] = key;
    runs.push_back({journey, version, step, count});
  }
  return pack({{"seq", value.seq},
               {"cursor", value.cursor},
               {"counters", std::move(counters)},
               {"runs", std::move(runs)}});
}

PartitionValue decode_partition(std::string_view bytes) {
  const json value = unpack(bytes);
  PartitionValue out;
  out.seq = value.at("seq");
  out.cursor = value.at("cursor");
  for (const auto& c : value.at("counters")) {
    out.counters[{c.at(0), c.at(1), c.at(2), c.at(3)}] = c.at(4);
  }
  for (const auto& r : value.at("runs")) out.runs[{r.at(0), r.at(1), r.at(2)}] = r.at(3);
  return out;
}

std::string encode_deployment(const Deployment& deployment) {
  json files = json::array();
  for (const auto& [path, text] : deployment.files) files.push_back({path, text});
  return json{{"deployed_at", deployment.deployed_at},
              {"files", std::move(files)},
              {"naming", static_cast<int>(deployment.naming)}}
      .dump();
}

Deployment decode_deployment(const std::string& id, std::string_view text) {
  const json value = json::parse(text);
  Deployment out;
  out.id = id;
  out.deployed_at = value.at("deployed_at");
  for (const auto& file : value.at("files")) out.files.emplace_back(file.at(0), file.at(1));
  // Shared by a node of an older build: compiled as it compiled them.
  out.naming = value.value("naming", 1) == static_cast<int>(engine::StepNaming::Tree)
                   ? engine::StepNaming::Tree
                   : engine::StepNaming::Positions;
  return out;
}

}  // namespace journey::runtime

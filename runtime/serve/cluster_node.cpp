// The node's ownership of partitions: taking one over (rebuilding the local copy from the buckets
// and the log), consuming its events, losing it; and the node's start and stop. The writes of an
// owner (log, outbox, buckets) are in cluster_commit.cpp, its HTTP side in cluster_api.cpp.
#include "runtime/serve/cluster_node.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "runtime/common/log.hpp"
#include "runtime/http/views.hpp"
#include "runtime/serve/cluster_partition.hpp"

namespace journey::runtime {

using nlohmann::json;

ClusterNode::ClusterNode(const Config& config, Metrics& metrics, Clock clock)
    : config_(config),
      cluster_(*config.cluster),
      metrics_(metrics),
      clock_(std::move(clock)),
      handles_(open_cluster(*config.cluster, config.retention, true)) {
  log_ = std::make_unique<PartitionLog>(*handles_.nats, kLogStream, "journey.log");
  ingest_publisher_ = std::make_unique<AsyncPublisher>(*handles_.nats, 65'536);
  publisher_ = std::make_unique<AsyncPublisher>(*handles_.nats, 65'536);
  for (int p = 0; p < cluster_.partitions; ++p)
    partitions_.push_back(std::make_unique<Partition>());
}

ClusterNode::~ClusterNode() {
  stop();
}

bool ClusterNode::fetch_deployments(Store& store) {
  std::vector<Deployment> all;
  for (const auto& entry : handles_.meta->entries("d.>")) {
    all.push_back(decode_deployment(entry.key.substr(2), entry.value));
  }
  const auto live = handles_.meta->get("live");
  // Oldest first, the live one last: the store marks the last saved one live.
  std::sort(all.begin(), all.end(), [&](const Deployment& a, const Deployment& b) {
    const bool a_live = live && a.id == live->value;
    const bool b_live = live && b.id == live->value;
    return std::tie(a_live, a.deployed_at, a.id) < std::tie(b_live, b.deployed_at, b.id);
  });
  for (const auto& deployment : all) store.save_deployment(deployment);
  return live && !all.empty() && all.back().id == live->value;
}

void ClusterNode::start(Parts parts) {
  parts_.emplace(std::move(parts));
  store_ = parts_->storage.open();
  // Erasures made by any node: their tombstones here too, now and as they come.
  auto add_tombstone = [this](const KeyedEntry& entry) {
    const auto hash = unhex(std::string_view(entry.key).substr(2));
    const engine::Millis at = std::stoll(entry.value);
    if (hash.empty()) return;
    if (entry.key.rfind("c.", 0) == 0) {
      store_->add_tombstones({{hash, at}}, {});
      parts_->tombstones.add(hash, at);
    } else if (entry.key.rfind("m.", 0) == 0) {
      store_->add_tombstones({}, {{hash, at}});
    }
  };
  for (const auto& entry : handles_.erased->entries(">")) add_tombstone(entry);
  erased_watch_ =
      handles_.erased->watch(">", [add_tombstone](const KeyedEntry& entry, bool deleted) {
        if (deleted) return;
        try {
          add_tombstone(entry);
        } catch (const std::exception& e) {
          log(LogLevel::Warn, "cluster: a tombstone could not be kept", {{"error", e.what()}});
        }
      });
  // Deployments: the one this node made from its directory (the cluster had none) is shared; a
  // reload on any node reaches every node through the `live` key.
  auto share = [this](const Deployment& deployment) {
    handles_.meta->put("d." + deployment.id, encode_deployment(deployment));
    handles_.meta->put("live", deployment.id);
  };
  parts_->deployments.on_deployed(share);
  if (!handles_.meta->get("live")) {
    auto stored = store_->deployments();
    if (!stored.empty()) share(stored.back());
  }
  deployments_watch_ = handles_.meta->watch("live", [this](const KeyedEntry& entry, bool deleted) {
    if (deleted || entry.value == parts_->deployments.live().first) return;
    try {
      auto stored = handles_.meta->get("d." + entry.value);
      if (!stored) return;
      parts_->deployments.adopt(decode_deployment(entry.value, stored->value));
      log(LogLevel::Info, "cluster: deployment adopted", {{"deployment", entry.value}});
    } catch (const std::exception& e) {
      log(LogLevel::Error, "cluster: a deployment of another node could not be adopted",
          {{"deployment", entry.value}, {"error", e.what()}});
    }
  });
  // One sink per distinct spec, as the single node's dispatcher has.
  auto add_sink = [this](const SinkSpec& spec) {
    auto& sink = sinks_[sink_key(spec)];
    if (!sink) sink = open_sink(spec, config_.webhook);
  };
  add_sink(config_.default_sink);
  for (const auto& [channel, spec] : config_.channel_sinks) add_sink(spec);
  LeaseSettings settings{cluster_.node, cluster_.partitions, cluster_.lease_ttl_ms,
                         cluster_.lease_round_ms};
  leases_ = std::make_unique<PartitionLeases>(
      *handles_.leases, *handles_.nodes, *log_, settings,
      PartitionLeases::Events{[this](const Ownership& ownership) { acquired(ownership); },
                              [this](int p, bool given_back) { lost(p, given_back); },
                              [this] { return heartbeat(); }});
  leases_->start();
  materializer_ = std::thread([this] { materialize_loop(); });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  log(LogLevel::Info, "cluster: node started",
      {{"node", cluster_.node}, {"partitions", cluster_.partitions}});
}

void ClusterNode::quiesce() {
  for (auto& part : partitions_) {
    std::lock_guard lock(part->subs_mutex);
    part->events.reset();  // no more events; what the shards hold is still committed
  }
}

void ClusterNode::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    if (stopping_.exchange(true)) return;
  }
  wake_.notify_all();
  if (!leases_) return;
  // The next owners start from short logs: every partition materialized, then given back.
  for (int p = 0; p < cluster_.partitions; ++p) {
    auto& part = partition(p);
    std::lock_guard lock(part.copy_mutex);
    try {
      materialize(p, part);
    } catch (const std::exception& e) {
      log(LogLevel::Warn, "cluster: materializing failed", {{"partition", p}, {"error", e.what()}});
    }
  }
  leases_->stop(true);
  takeovers_.join();
  if (materializer_.joinable()) materializer_.join();
  if (dispatcher_.joinable()) dispatcher_.join();
  erased_watch_.reset();
  deployments_watch_.reset();
  calls_.join();
}

bool ClusterNode::owns(int p) const {
  return partition(p).owned.load() && leases_ && leases_->holds(p);
}

void ClusterNode::acquired(const Ownership& ownership) {
  // Rebuilt on the node's own threads, several partitions at once (their reads wait on the
  // servers more than on this machine), while the leases' threads go on renewing.
  boost::asio::post(takeovers_, [this, ownership] { take_over(ownership); });
}

void ClusterNode::take_over(const Ownership& ownership) {
  const int p = ownership.partition;
  auto& part = partition(p);
  const auto started = std::chrono::steady_clock::now();
  const auto still_ours = [&] {
    const auto owned = leases_->owned();
    const auto it = owned.find(p);
    return it != owned.end() && it->second.fence == ownership.fence && leases_->holds(p);
  };
  std::lock_guard copying(part.copy_mutex);
  std::size_t customers = 0;
  // While JetStream does not answer (a server went away, leaders are being elected) the takeover
  // is tried again, for as long as the lease is this node's.
  for (;;) {
    if (!still_ours()) return;  // lost (or lost and taken again) meanwhile
    try {
      auto rebuilt = rebuild(p);
      customers = rebuilt.customers;
      {
        std::lock_guard lock(part.mutex);
        if (!still_ours()) return;
        part.takeover = ownership.fence;
        part.fence = ownership.fence;
        part.applied = ownership.fence;  // every record before the takeover is in the local copy
        part.materialized = rebuilt.materialized;
        part.meta_revision = rebuilt.meta_revision;
        part.cursor = rebuilt.cursor;
        part.submitted = rebuilt.cursor;
        part.counters = std::move(rebuilt.counters);
        part.runs = std::move(rebuilt.runs);
        part.dirty = std::move(rebuilt.dirty);
        part.owned = true;
      }
      subscribe(p, part);
      break;
    } catch (const NatsError& e) {
      if (!e.transient()) {
        log(LogLevel::Error, "cluster: taking a partition over failed",
            {{"partition", p}, {"error", e.what()}});
        leases_->forget(p, ownership.fence, "its takeover failed");
        return;
      }
      log(LogLevel::Warn, "cluster: taking a partition over: JetStream does not answer; again",
          {{"partition", p}, {"error", e.what()}});
      {
        std::lock_guard lock(part.mutex);
        part.owned = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    } catch (const std::exception& e) {
      log(LogLevel::Error, "cluster: taking a partition over failed",
          {{"partition", p}, {"error", e.what()}});
      leases_->forget(p, ownership.fence, "its takeover failed");
      return;
    }
  }
  parts_->timers.rescan();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  last_takeover_ms_ = took;
  log(LogLevel::Info, "cluster: partition taken over",
      {{"partition", p}, {"customers", customers}, {"took_ms", took}});
}

void ClusterNode::lost(int p, bool given_back) {
  auto& part = partition(p);
  {
    std::lock_guard lock(part.mutex);
    part.owned = false;
    part.dirty.clear();
  }
  if (given_back) {
    // The delivery in hand ends after its current action (it sees the partition is no longer
    // owned), acknowledging what went out; the next owner's consumer takes the rest. A lease that
    // was lost instead leaves it to go on: its next owner may be delivering already.
    std::lock_guard delivering(part.dispatch_mutex);
  }
  {
    std::lock_guard lock(part.subs_mutex);
    part.events.reset();
    part.outbox.reset();
    part.reads.reset();
  }
  // Groups of the partition still in the shard or the committer are refused, and its rows leave
  // the local copy (a later owner, perhaps this node again, rebuilds them).
  parts_->committer.invalidate(static_cast<std::size_t>(p));
  Batch drop;
  drop.dropped_partitions.push_back(p);
  parts_->committer.write_soon(std::move(drop));
  log(LogLevel::Info, "cluster: partition released", {{"partition", p}});
}

void ClusterNode::give_up(int p, std::uint64_t takeover, const char* why) {
  ++fenced_;
  if (leases_) leases_->forget(p, takeover, why);
}

ClusterNode::Rebuilt ClusterNode::rebuild(int p) {
  Rebuilt out;
  auto& nats = *handles_.nats;
  // 1. The partition's log (everything before its first record is in the buckets), read before
  // the buckets: a record a stalled earlier owner cuts meanwhile is in the buckets by then.
  std::vector<std::pair<std::uint64_t, LogRecord>> records;
  nats.read(kLogStream, Layout::log_subject(p), 0, [&](Message& message) {
    records.emplace_back(message.sequence(), decode_record(message.data()));
  });
  // 2. The partition's value and its customers' values.
  PartitionValue meta;
  const auto meta_key = Layout::partition_entry(p);
  if (auto entry = handles_.partition_meta->get(meta_key)) {
    meta = decode_partition(entry->value);
    out.meta_revision = entry->revision;
  } else {
    out.meta_revision = nats.last_sequence(handles_.partition_meta->stream(),
                                           handles_.partition_meta->subject(meta_key));
  }
  out.materialized = meta.seq;
  struct Row {
    CustomerValue value;
    std::uint64_t bucket_seq = 0;  // the record the bucket's value reflects (0: none)
    std::uint64_t revision = 0;
    std::string key;
  };
  std::unordered_map<std::string, Row> rows;
  std::unordered_map<std::string, std::string> id_of_key;
  const auto prefix = std::to_string(p) + ".";
  for (auto& entry : handles_.customers->entries(Layout::customers_of(p))) {
    Row row;
    row.value = decode_customer(entry.value);
    row.bucket_seq = row.value.seq;
    row.revision = entry.revision;
    row.key = entry.key.substr(prefix.size());
    for (auto& action : row.value.actions) {
      // As the last owner saw them; what it had not delivered yet is redelivered from the stream.
      if (action.status == DeliveryStatus::Pending) action.status = DeliveryStatus::Delivered;
    }
    id_of_key[row.key] = row.value.write.customer_id;
    rows[row.value.write.customer_id] = std::move(row);
  }
  // 3. The log's complete commits after what the buckets hold, in order.
  std::uint64_t cursor = meta.cursor;
  CounterValues counters = meta.counters;
  std::vector<std::pair<std::uint64_t, LogRecord>> set;  // the chunks of one commit
  std::vector<OutboxEntry> last_actions;                 // of the last commit: maybe not stored
  for (auto& [seq, record] : records) {
    if (record.kind == LogRecord::Kind::Takeover) {
      set.clear();  // a commit cut short by its owner's end
      continue;
    }
    if (record.kind == LogRecord::Kind::Erase) {
      set.clear();
      if (seq <= meta.seq) continue;
      if (auto it = id_of_key.find(record.customer_key); it != id_of_key.end()) {
        rows.erase(it->second);
        id_of_key.erase(it);
      }
      // Its owner may have stopped before the customer left the streams and buckets.
      erase_copies(p, record.customer_key);
      cursor = std::max(cursor, record.cursor);
      last_actions.clear();
      continue;
    }
    set.emplace_back(seq, std::move(record));
    const auto& last = set.back().second;
    if (last.chunk + 1 < last.chunks) continue;
    if (static_cast<int>(set.size()) != last.chunks) {
      set.clear();  // the tail of a commit whose first chunks were cut: in the buckets already
      continue;
    }
    const auto set_seq = set.back().first;
    last_actions.clear();
    for (auto& [chunk_seq, chunk] : set) {
      (void)chunk_seq;
      for (auto& write : chunk.customers) {
        auto& row = rows[write.customer_id];
        if (set_seq <= row.value.seq) continue;  // the bucket holds this state or a newer one
        if (row.key.empty()) {
          row.key = handles_.layout->customer_key(write.customer_id);
          id_of_key[row.key] = write.customer_id;
          row.value.write.customer_id = write.customer_id;
        }
        row.value.seq = set_seq;
        row.value.write.state = std::move(write.state);
        row.value.write.next_wakeup = write.next_wakeup;
        if (write.write_runs) row.value.write.runs = std::move(write.runs);
      }
      for (auto& trace : chunk.traces) {
        auto it = rows.find(trace.customer_id);
        if (it != rows.end() && set_seq > it->second.bucket_seq) {
          it->second.value.traces.push_back(std::move(trace));
        }
      }
      for (auto& action : chunk.actions) {
        last_actions.push_back(action);
        auto it = rows.find(action.customer_id);
        if (it != rows.end() && set_seq > it->second.bucket_seq) {
          it->second.value.actions.push_back(std::move(action));
        }
      }
      if (set_seq > meta.seq) {
        for (const auto& delta : chunk.counters) {
          counters[{delta.journey, delta.version, delta.metric, delta.key}] += delta.delta;
        }
      }
    }
    if (set_seq > meta.seq) cursor = std::max(cursor, set.back().second.cursor);
    set.clear();
  }
  // 4. The local copy: the partition's old rows go, these come.
  Batch batch;
  batch.dropped_partitions.push_back(p);
  batch.trace_keep = config_.retention.trace_lines;
  auto flush = [&] {
    parts_->committer.write(std::move(batch));
    batch = Batch{};
    batch.trace_keep = config_.retention.trace_lines;
  };
  for (auto& [id, row] : rows) {
    CustomerWrite write = std::move(row.value.write);
    write.customer_id = id;
    write.partition = p;
    write.log_seq = row.value.seq;
    write.kv_revision = row.revision;
    write.write_runs = true;
    for (const auto& run : write.runs) ++out.runs[{run.journey, run.version, run.state}];
    if (row.value.seq > row.bucket_seq) out.dirty.insert(id);  // only the log holds it
    batch.customers.push_back(std::move(write));
    for (auto& trace : row.value.traces) batch.traces.push_back(std::move(trace));
    for (auto& action : row.value.actions) batch.actions.push_back(std::move(action));
    if (batch.customers.size() >= 2048) flush();
  }
  flush();
  out.customers = rows.size();
  out.cursor = cursor;
  out.counters = std::move(counters);
  parts_->committer.invalidate(static_cast<std::size_t>(p));
  // 6. The last commit's actions may not have reached the outbox before its owner stopped: again
  // (the stream drops those it holds, by their Nats-Msg-Id).
  std::vector<std::pair<int, const OutboxEntry*>> again;
  again.reserve(last_actions.size());
  for (const auto& action : last_actions) again.emplace_back(p, &action);
  if (!publish_actions(again).empty()) {
    throw NatsError("the outbox stream did not take the actions", 0, true);
  }
  return out;
}

void ClusterNode::subscribe(int p, Partition& part) {
  open_outbox(part, p);
  install(part, part.reads,
          handles_.nats->serve(Layout::read_subject(p), [this, p](std::string_view request) {
            return answer_read(p, request);
          }));
  // The events last: a takeover that fails before this consumed nothing, and is tried again
  // from the log. The consumer is quick to make on one server; when that cannot be done (a
  // server is gone and JetStream placed it there), a replicated one.
  try {
    open_events(p, part, false);
  } catch (const NatsError& e) {
    if (!e.transient()) throw;
    open_events(p, part, true);
  }
}

void ClusterNode::install(Partition& part, std::shared_ptr<Subscription>& slot,
                          std::unique_ptr<Subscription> made) {
  // Made without a lock (it takes a round trip or more): a loss meanwhile has reset the slots
  // already, so the new subscription goes at once instead of outliving the ownership.
  std::lock_guard lock(part.subs_mutex);
  if (part.owned) slot = std::move(made);
}

void ClusterNode::open_events(int p, Partition& part, bool replicated) {
  // From the event after the last one handed to the shard: at a takeover the log's cursor, when
  // a consumer is made again (its server went away) where the last one stopped.
  install(part, part.events,
          handles_.nats->consume(
              {kEventsStream, Layout::events_of(p), part.submitted + 1, 4096, 60'000, replicated},
              [this, p](Message message) { consume(p, std::move(message)); },
              [this, p] {
                // Its server went away: another consumer, off the client's thread.
                boost::asio::post(takeovers_, [this, p] { reopen_events(p); });
              }));
}

void ClusterNode::open_outbox(Partition& part, int p) {
  // The outbox is a work queue with one durable consumer per partition, made once in the
  // cluster's life (replicated: it survives a server) and bound to by each owner in turn.
  install(
      part, part.outbox,
      handles_.nats->pull(kOutboxStream, Layout::outbox_of(p), Layout::outbox_consumer(p), 30'000));
  part.has_actions = true;
}

void ClusterNode::reopen_events(int p) {
  auto& part = partition(p);
  std::lock_guard copying(part.copy_mutex);
  if (!owns(p)) return;
  // The consumer lives on one server (the partition's log keeps where consumption stands):
  // another one continues after the last event handed to the shard.
  log(LogLevel::Warn, "cluster: an event consumer stopped answering; making another",
      {{"partition", p}, {"from", part.submitted.load() + 1}});
  for (bool replicated = false; owns(p); replicated = true) {
    try {
      open_events(p, part, replicated);
      return;
    } catch (const NatsError& e) {
      log(LogLevel::Warn, "cluster: the event consumer could not be made; again",
          {{"partition", p}, {"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

void ClusterNode::consume(int p, Message message) {
  auto& part = partition(p);
  if (!part.owned) return;  // released: neither taken nor acknowledged
  const auto seq = message.sequence();
  if (seq <= part.submitted.load()) {
    message.ack();  // a redelivery of what the shard has
    return;
  }
  part.submitted = seq;
  ShardInput input;
  input.sequence = seq;
  auto held = std::make_shared<Message>(std::move(message));
  if (held->header("Journey-Kind").value_or("") == "erase") {
    input.kind = ShardInput::Kind::Erase;
    input.customer_id = std::string(held->data());
    auto reply = held->header("Journey-Reply");
    const auto id = input.customer_id;
    input.done = [this, held, reply, id](const InputResult& result) {
      held->ack();
      if (!reply || !result.ok) return;  // not erased here: the next owner answers, or nobody
      try {
        handles_.nats->send(
            *reply,
            json{{"status", 200}, {"body", erasure_view(id, result.erasure, result.wal_truncated)}}
                .dump());
      } catch (const NatsError& e) {
        log(LogLevel::Warn, "cluster: an erasure's answer was lost", {{"error", e.what()}});
      }
    };
  } else {
    const auto type = held->header("Journey-Type").value_or("track");
    const auto at = held->header("Journey-At");
    auto event = event_from_stream(held->data(), type, at ? std::stoll(*at) : 0);
    if (!event) {
      log(LogLevel::Error, "cluster: an unreadable event was skipped",
          {{"partition", p}, {"sequence", seq}});
      held->ack();
      return;
    }
    input.kind = ShardInput::Kind::Event;
    input.event = std::move(*event);
    input.raw = std::string(held->data());
    input.done = [held](const InputResult&) { held->ack(); };
  }
  std::vector<ShardInput> inputs;
  inputs.push_back(std::move(input));
  parts_->shard(p).submit(std::move(inputs));
}

void ClusterNode::hand_off(std::vector<ShardInput> inputs) {
  std::map<int, std::vector<ShardInput>> by_partition;
  std::vector<TimerQueue::Update> dropped;
  for (auto& input : inputs) {
    const int p = partition_of(input.customer(), cluster_.partitions);
    if (owns(p)) {
      by_partition[p].push_back(std::move(input));
    } else {
      dropped.emplace_back(input.customer(), std::nullopt);
    }
  }
  if (!dropped.empty()) parts_->timers.update(std::move(dropped));
  for (auto& [p, group] : by_partition) parts_->shard(p).submit(std::move(group));
}

std::string ClusterNode::heartbeat() {
  json owned = json::array();
  json lag = json::object();
  std::map<int, std::size_t> wakeups;
  try {
    if (store_) wakeups = store_->wakeups_by_partition();
  } catch (const StoreError&) {
  }
  json pending = json::object();
  for (int p = 0; p < cluster_.partitions; ++p) {
    auto& part = partition(p);
    if (!part.owned) continue;
    owned.push_back(p);
    std::shared_ptr<Subscription> events;
    {
      std::lock_guard lock(part.subs_mutex);
      events = part.events;
    }
    if (events) {
      if (auto n = events->lag()) part.lag = *n;
    }
    lag[std::to_string(p)] = part.lag.load();
    part.wakeups = wakeups.count(p) ? wakeups[p] : 0;
    pending[std::to_string(p)] = part.wakeups.load();
  }
  return json{{"node", cluster_.node},
              {"listen", parts_ ? parts_->listen : std::string()},
              {"at", clock_()},
              {"owned", owned},
              {"lag", lag},
              {"wakeups", pending}}
      .dump();
}

}  // namespace journey::runtime

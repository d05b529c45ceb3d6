// An owner's writes to the cluster: each group commit appended to its partition's log (fenced:
// an owner that lost the partition cannot append), its actions published to the outbox stream,
// erasures, and the materializer that copies customers to their bucket and cuts the log.
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "runtime/common/log.hpp"
#include "runtime/serve/cluster_partition.hpp"

namespace journey::runtime {

namespace {

void add_runs(RunCounts& counts, const std::vector<StoredRun>& runs, std::int64_t delta) {
  for (const auto& run : runs) {
    auto& count = counts[{run.journey, run.version, run.state}];
    count += delta;
    if (count == 0) counts.erase({run.journey, run.version, run.state});
  }
}

}  // namespace

std::optional<std::uint64_t> ClusterNode::append_record(int p, Partition& part,
                                                        const std::string& record) {
  try {
    // A stream electing its leader (a server went away) does not answer for a few seconds: the
    // append is retried meanwhile (its Nats-Msg-Id makes a retry of a stored record harmless).
    part.fence = log_->append(p, part.fence, record, cluster_.lease_ttl_ms * 4);
    return part.fence;
  } catch (const Fenced&) {
    return std::nullopt;
  } catch (const NatsError& e) {
    log(LogLevel::Error, "cluster: the partition log cannot be reached",
        {{"partition", p}, {"error", e.what()}});
    return std::nullopt;
  }
}

std::vector<bool> ClusterNode::append(std::vector<PendingCommit>& commits) {
  appended_.clear();
  std::vector<bool> ok(commits.size(), true);
  std::map<int, std::vector<std::size_t>> by_partition;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    if (commits[i].shard != PendingCommit::kNoShard) {
      by_partition[static_cast<int>(commits[i].shard)].push_back(i);
    }
  }
  if (by_partition.empty()) return ok;
  // One record (in chunks when large) per partition, its chunks in turn, the partitions at once.
  struct Work {
    int p = 0;
    std::uint64_t takeover = 0;
    Partition* part = nullptr;
    std::vector<std::string> chunks;
    std::size_t next = 0;
    bool failed = false;
    LogRecord record;
  };
  std::vector<Work> work;
  std::vector<std::unique_lock<std::mutex>> locks;       // in partition order
  std::vector<std::pair<int, std::uint64_t>> lost_here;  // partition, ownership
  const auto max_bytes = static_cast<std::size_t>(
      std::max<std::int64_t>(std::int64_t{64} * 1024, handles_.nats->max_payload() / 2));
  for (const auto& [p, indexes] : by_partition) {
    auto& part = partition(p);
    locks.emplace_back(part.mutex);
    Work w;
    w.p = p;
    w.takeover = part.takeover;
    w.part = &part;
    if (!part.owned || !leases_->holds(p)) {
      // Its lease not renewed in time: the commit is refused. Its events are acknowledged in the
      // stream and the consumer has gone past them, so the partition cannot go on here: it is let
      // go, and its next owner (this node again, perhaps) continues from the log's cursor.
      w.failed = true;
      if (part.owned) lost_here.emplace_back(p, w.takeover);
      part.owned = false;
      work.push_back(std::move(w));
      continue;
    }
    auto& record = w.record;
    record.cursor = part.cursor;
    for (auto index : indexes) {
      auto& batch = commits[index].batch;
      batch.events.clear();  // the event stream is the timeline
      record.cursor = std::max(record.cursor, commits[index].cursor);
      for (auto& write : batch.customers) write.partition = p;
      record.customers.insert(record.customers.end(), batch.customers.begin(),
                              batch.customers.end());
      record.traces.insert(record.traces.end(), batch.traces.begin(), batch.traces.end());
      record.actions.insert(record.actions.end(), batch.actions.begin(), batch.actions.end());
      record.counters.insert(record.counters.end(), batch.counters.begin(), batch.counters.end());
    }
    w.chunks = encode_commit(record, max_bytes);
    work.push_back(std::move(w));
  }
  for (bool more = true; more;) {
    more = false;
    std::vector<Outgoing> out;
    std::vector<Work*> round;
    for (auto& w : work) {
      if (w.failed || w.next >= w.chunks.size()) continue;
      out.push_back({Layout::log_subject(w.p),
                     log_->message_id(w.p, w.part->fence),
                     w.chunks[w.next],
                     w.part->fence,
                     {}});
      round.push_back(&w);
    }
    if (out.empty()) break;
    const auto results = publisher_->publish(out, cluster_.ack_timeout_ms);
    for (std::size_t i = 0; i < round.size(); ++i) {
      auto& w = *round[i];
      const auto& result = results[i];
      if (result.error.empty()) {
        w.part->fence = result.sequence;
      } else if (result.js_code == kJsWrongLastSequence ||
                 !append_record(w.p, *w.part, w.chunks[w.next])) {
        // Another node appended since (it owns the partition now), or the log stayed out of
        // reach (a retry with the same Nats-Msg-Id would have found a stored record).
        w.failed = true;
        w.part->owned = false;  // no later commit of it may be appended past this one's events
        lost_here.emplace_back(w.p, w.takeover);
        continue;
      }
      ++w.next;
      more = true;
    }
  }
  // The actions of what the logs took, stored in the outbox before the local copy changes.
  std::vector<std::pair<int, const OutboxEntry*>> actions;
  for (const auto& w : work) {
    if (w.failed) continue;
    for (const auto& action : w.record.actions) actions.emplace_back(w.p, &action);
  }
  // Partitions whose actions could not be stored (they were lost meanwhile) go: their next
  // owners publish the last commit's actions again.
  for (int p : publish_actions(actions)) {
    for (auto& w : work) {
      if (w.p == p && !w.failed) {
        w.failed = true;
        w.part->owned = false;
        lost_here.emplace_back(p, w.takeover);
      }
    }
  }
  for (auto& w : work) {
    for (auto index : by_partition[w.p]) ok[index] = !w.failed;
    if (w.failed) continue;
    w.part->cursor = w.record.cursor;
    Appended done;
    done.partition = w.p;
    done.takeover = w.takeover;
    done.fence = w.part->fence;
    done.counters = std::move(w.record.counters);
    done.actions = !w.record.actions.empty();
    for (auto index : by_partition[w.p]) {
      for (auto& write : commits[index].batch.customers) {
        write.log_seq = w.part->fence;
        done.customers.push_back(write.customer_id);
        if (write.write_runs) done.run_changes.emplace_back(write.previous_runs, write.runs);
      }
    }
    appended_.push_back(std::move(done));
  }
  locks.clear();
  for (const auto& [p, takeover] : lost_here) {
    give_up(p, takeover, "its log refused or could not take a commit");
  }
  return ok;
}

void ClusterNode::refused(int p) {
  auto& part = partition(p);
  std::uint64_t takeover = 0;
  {
    std::lock_guard lock(part.mutex);
    if (!part.owned) return;
    part.owned = false;  // nothing of it is appended from now on
    takeover = part.takeover;
  }
  give_up(p, takeover, "a group of its inputs was not committed");
}

void ClusterNode::applied(bool ok) {
  std::vector<std::pair<int, std::uint64_t>> failed;  // partition, ownership
  bool actions = false;
  for (auto& done : appended_) {
    auto& part = partition(done.partition);
    std::lock_guard lock(part.mutex);
    if (!ok) {
      part.owned = false;
      failed.emplace_back(done.partition, done.takeover);
      continue;
    }
    if (!part.owned) continue;
    part.applied = done.fence;
    for (const auto& delta : done.counters) {
      part.counters[{delta.journey, delta.version, delta.metric, delta.key}] += delta.delta;
    }
    for (const auto& [before, after] : done.run_changes) {
      add_runs(part.runs, before, -1);
      add_runs(part.runs, after, 1);
    }
    part.dirty.insert(done.customers.begin(), done.customers.end());
    if (done.actions) {
      part.has_actions = true;
      actions = true;
    }
  }
  appended_.clear();
  // The local copy lacks what the logs hold: it is rebuilt by whoever takes the partition next.
  for (const auto& [p, takeover] : failed) {
    give_up(p, takeover, "the local copy could not take a commit");
  }
  if (actions) wake_.notify_all();
}

std::set<int> ClusterNode::publish_actions(
    const std::vector<std::pair<int, const OutboxEntry*>>& actions) {
  std::vector<Outgoing> out;
  std::vector<int> partition_of_message;
  out.reserve(actions.size());
  for (const auto& [p, action] : actions) {
    out.push_back(
        {handles_.layout->outbox_subject(p, handles_.layout->customer_key(action->customer_id)),
         action->action_id,
         action->payload,
         std::nullopt,
         {}});
    partition_of_message.push_back(p);
  }
  // The records are in the logs: their actions must reach the outbox. While the stream does not
  // answer (a server went away, its leader is being elected) they are sent again, by their
  // Nats-Msg-Id, for as long as this node holds their partitions; a partition lost meanwhile is
  // left to its next owner, which publishes the last commit's actions again.
  for (int attempt = 0; !out.empty(); ++attempt) {
    const auto results = publisher_->publish(out, cluster_.ack_timeout_ms);
    std::vector<Outgoing> again;
    std::vector<int> again_partitions;
    std::set<int> failing;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].error.empty()) continue;
      again.push_back(std::move(out[i]));
      again_partitions.push_back(partition_of_message[i]);
      failing.insert(partition_of_message[i]);
    }
    out = std::move(again);
    partition_of_message = std::move(again_partitions);
    if (out.empty()) break;
    if (std::none_of(failing.begin(), failing.end(), [&](int p) { return leases_->holds(p); })) {
      log(LogLevel::Error, "cluster: the outbox stream did not take actions",
          {{"actions", out.size()}});
      return failing;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(2000, 200 << std::min(attempt, 4))));
  }
  return {};
}

void ClusterNode::materialize(int p, Partition& part, bool cut_log) {
  // What is to copy, as of the last record applied locally (the local rows reflect it).
  std::vector<std::string> ids;
  PartitionValue value;
  std::uint64_t meta_revision = 0;
  {
    std::lock_guard lock(part.mutex);
    if (!part.owned || (part.dirty.empty() && part.materialized == part.applied)) return;
    ids.assign(part.dirty.begin(), part.dirty.end());
    part.dirty.clear();
    value = PartitionValue{part.applied, part.cursor, part.counters, part.runs};
    meta_revision = part.meta_revision;
  }
  auto& nats = *handles_.nats;
  // Each customer's value, revision-checked: an owner that stalled past its lease cannot write
  // over what the next owner wrote.
  std::vector<Outgoing> out;
  std::vector<std::string> written;
  std::vector<std::string> keys;
  std::vector<std::uint64_t> states;  // the record each value reflects
  for (const auto& id : ids) {
    auto row = store_->stored_customer(id);
    if (!row || row->write.partition != p) continue;  // erased since
    CustomerValue customer;
    customer.seq = row->write.log_seq;
    customer.write = std::move(row->write);
    customer.traces = trace_rows(store_->traces(id, config_.retention.trace_lines));
    customer.actions = store_->recent_actions(id, config_.retention.recent_actions);
    const auto key = Layout::customer_entry(p, handles_.layout->customer_key(id));
    out.push_back({handles_.customers->subject(key), "", encode(customer), row->kv_revision, {}});
    written.push_back(id);
    keys.push_back(key);
    states.push_back(customer.seq);
  }
  Batch revisions;
  std::vector<std::string> again;  // not copied this time
  const auto results = publisher_->publish(out, cluster_.ack_timeout_ms);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].error.empty()) {
      revisions.kv_revisions.emplace_back(written[i], results[i].sequence);
      continue;
    }
    if (results[i].js_code == kJsWrongLastSequence) {
      // Not the revision this copy knew (its last write's acknowledgement was lost, or another
      // owner wrote): keep what is there when it is as new, else write over it.
      try {
        const auto last = nats.last_sequence(handles_.customers->stream(), out[i].subject);
        const auto there = handles_.customers->get(keys[i]);
        if (there && decode_customer(there->value).seq >= states[i]) {
          revisions.kv_revisions.emplace_back(written[i], last);
          continue;
        }
        auto retry = out[i];
        retry.expect_last_subject_seq = last;
        const auto retried = publisher_->publish({retry}, cluster_.ack_timeout_ms);
        if (retried[0].error.empty()) {
          revisions.kv_revisions.emplace_back(written[i], retried[0].sequence);
          continue;
        }
      } catch (const std::exception& e) {
        log(LogLevel::Warn, "cluster: a customer's value could not be checked",
            {{"partition", p}, {"error", e.what()}});
      }
    }
    again.push_back(written[i]);
  }
  if (!revisions.kv_revisions.empty()) parts_->committer.write_soon(std::move(revisions));
  if (!again.empty()) {
    std::lock_guard lock(part.mutex);
    part.dirty.insert(again.begin(), again.end());
    return;
  }
  // The partition's value, then the log before it is no longer needed.
  const auto meta_key = Layout::partition_entry(p);
  const auto subject = handles_.partition_meta->subject(meta_key);
  auto result = publisher_->publish({{subject, "", encode(value), meta_revision, {}}},
                                    cluster_.ack_timeout_ms)[0];
  if (result.js_code == kJsWrongLastSequence) {
    const auto there = handles_.partition_meta->get(meta_key);
    if (there && decode_partition(there->value).seq >= value.seq) return;  // a newer owner's
    const auto last = nats.last_sequence(handles_.partition_meta->stream(), subject);
    result =
        publisher_->publish({{subject, "", encode(value), last, {}}}, cluster_.ack_timeout_ms)[0];
  }
  if (!result.error.empty()) {
    log(LogLevel::Warn, "cluster: a partition's value was not stored",
        {{"partition", p}, {"error", result.error}});
    return;
  }
  {
    std::lock_guard lock(part.mutex);
    part.meta_revision = result.sequence;
    part.materialized = value.seq;
  }
  // Records before value.seq are all in the buckets now; that one stays (the partition's last
  // record is the fence of its next append).
  if (cut_log) nats.purge(kLogStream, Layout::log_subject(p), value.seq);
}

void ClusterNode::materialize_loop() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(cluster_.materialize_every_ms),
                   [this] { return stopping_.load(); });
    if (stopping_) break;
    lock.unlock();
    for (int p = 0; p < cluster_.partitions; ++p) {
      auto& part = partition(p);
      if (!part.owned) continue;
      std::lock_guard copying(part.copy_mutex);
      try {
        materialize(p, part);
      } catch (const std::exception& e) {
        log(LogLevel::Warn, "cluster: materializing failed",
            {{"partition", p}, {"error", e.what()}});
      }
    }
    lock.lock();
  }
}

bool ClusterNode::erasing(int p, const std::string& customer_id, std::uint64_t sequence,
                          engine::Millis at, const std::vector<std::string>& message_ids) {
  auto& part = partition(p);
  if (!owns(p)) return false;
  // The tombstones first: should the node stop before the erasure's record, the next owner
  // erases again (the erasure stays in the stream after the log's cursor).
  const auto stamp = std::to_string(at);
  handles_.erased->put("c." + hex(store_->keyed_hash(customer_id)), stamp);
  for (const auto& message_id : message_ids) {
    handles_.erased->put("m." + hex(store_->message_hash(customer_id, message_id)), stamp);
  }
  const auto stored = store_->stored_customer(customer_id);
  std::uint64_t takeover = 0;
  {
    std::lock_guard lock(part.mutex);
    takeover = part.takeover;
    if (part.owned && leases_->holds(p)) {
      LogRecord record;
      record.kind = LogRecord::Kind::Erase;
      record.customer_key = handles_.layout->customer_key(customer_id);
      record.cursor = std::max(part.cursor, sequence);
      if (append_record(p, part, encode(record))) {
        part.cursor = record.cursor;
        if (stored) add_runs(part.runs, stored->write.runs, -1);
        return true;
      }
    }
  }
  // Unlocked: losing the partition takes the mutex.
  give_up(p, takeover, "its log refused an erasure");
  return false;
}

void ClusterNode::erased(int p, const std::string& customer_id) {
  auto& part = partition(p);
  std::lock_guard copying(part.copy_mutex);
  std::uint64_t record = 0;
  {
    std::lock_guard lock(part.mutex);
    part.dirty.erase(customer_id);
    part.applied = part.fence;  // the erasure's record: the local copy has it now
    record = part.fence;
  }
  try {
    erase_copies(p, handles_.layout->customer_key(customer_id));
    // The log's earlier records still hold the customer's states: copy the others to the
    // buckets, then erase the records before the erasure's own (which holds only the key).
    materialize(p, part, false);
    bool copied = false;
    {
      std::lock_guard lock(part.mutex);
      copied = part.materialized >= record;
    }
    if (copied) {
      handles_.nats->erase(kLogStream, Layout::log_subject(p), record);
    } else {
      log(LogLevel::Error,
          "cluster: the partition could not be copied; the log's records before the erasure "
          "stay until the next copy cuts them",
          {{"partition", p}});
    }
  } catch (const std::exception& e) {
    log(LogLevel::Error, "cluster: an erased customer may remain in the streams",
        {{"partition", p}, {"error", e.what()}});
  }
}

void ClusterNode::erase_copies(int p, const std::string& key) {
  auto& nats = *handles_.nats;
  const auto entry = Layout::customer_entry(p, key);
  // Erased, not only deleted: the servers overwrite the messages' content on their disks.
  nats.erase(handles_.customers->stream(), handles_.customers->subject(entry));
  handles_.customers->purge(entry);  // no value, no history: a marker without data remains
  nats.erase(kEventsStream, handles_.layout->event_subject(p, key));
  nats.erase(kOutboxStream, handles_.layout->outbox_subject(p, key));
}

}  // namespace journey::runtime

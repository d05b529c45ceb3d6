#include "runtime/serve/shard.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/post.hpp>

#include "engine/state.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

namespace net = boost::asio;

Shard::Shard(std::size_t index, Parts parts)
    : index_(index),
      parts_(std::move(parts)),
      strand_(net::make_strand(parts_.io)),
      store_(parts_.storage.open()) {}

void Shard::submit(std::vector<ShardInput> inputs) {
  outstanding_ += inputs.size();
  parts_.metrics.queue_depth += static_cast<std::int64_t>(inputs.size());
  net::post(strand_, [this, inputs = std::move(inputs)]() mutable {
    for (auto& input : inputs) pending_.push_back(std::move(input));
    schedule();
  });
}

void Shard::schedule() {
  if (!scheduled_) {
    scheduled_ = true;
    net::post(strand_, [this] { flush(); });
  }
}

void Shard::flush() {
  scheduled_ = false;
  if (auto generation = parts_.committer.generation(index_); generation != cache_generation_) {
    cache_.clear();
    cache_generation_ = generation;
  }
  auto limit = static_cast<std::size_t>(parts_.config.group_commit_max);
  while (!pending_.empty()) {
    if (pending_.front().kind == ShardInput::Kind::Detach) {
      // The customer goes to a merge in another shard, with its newest state (no more inputs of
      // it come: the directory sends them there now).
      ShardInput input = std::move(pending_.front());
      pending_.pop_front();
      if (auto held = cache_.find(input.customer_id); held != cache_.end()) {
        input.handoff->state = std::move(held->second.state);
        input.handoff->snapshot = std::move(held->second.snapshot);
        cache_.erase(held);
      }
      input.handoff->signal();
      --parts_.metrics.queue_depth;
      --outstanding_;
      continue;
    }
    if (waiting(pending_.front())) return;
    if (pending_.front().kind == ShardInput::Kind::Erase) {
      // An erasure runs alone, after every earlier write of this shard is durable.
      if (commits_in_flight_ > 0) return;  // finish() schedules the next flush
      ShardInput input = std::move(pending_.front());
      pending_.pop_front();
      InputResult result;
      erase(input, result);
      --parts_.metrics.queue_depth;
      if (input.done) input.done(result);
      --outstanding_;
      continue;
    }
    std::vector<ShardInput> inputs;
    while (!pending_.empty() && inputs.size() < limit &&
           pending_.front().kind != ShardInput::Kind::Erase &&
           pending_.front().kind != ShardInput::Kind::Detach && !waiting(pending_.front())) {
      inputs.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    process(std::move(inputs));
    // One group per turn of the strand: the I/O threads also read requests and answer them.
    if (!pending_.empty()) schedule();
    return;
  }
}

bool Shard::waiting(const ShardInput& input) {
  if (input.kind != ShardInput::Kind::Merge || !input.handoff) return false;
  return !input.handoff->ready_or([this] { net::post(strand_, [this] { schedule(); }); });
}

void Shard::erase(const ShardInput& input, InputResult& result) {
  const auto partition = static_cast<int>(index_);
  try {
    std::vector<std::string> message_ids;  // remembered in the state only
    if (auto stored = store_->load_customer(input.customer_id)) {
      try {
        const auto state = engine::deserialize(*stored);
        message_ids.assign(state->message_ids.begin(), state->message_ids.end());
      } catch (const std::exception&) {
        // Unreadable: it is erased all the same.
      }
    }
    const auto now = parts_.clock();
    if (parts_.replica != nullptr &&
        !parts_.replica->erasing(partition, input.customer_id, input.sequence, now, message_ids)) {
      result.ok = false;
      result.error = "the customer's partition moved to another node during the erasure";
      return;
    }
    result.erasure = store_->erase_customer(input.customer_id, now, message_ids);
    parts_.tombstones.add(store_->keyed_hash(input.customer_id), now);
    cache_.erase(input.customer_id);
    parts_.timers.update(input.customer_id, std::nullopt);
    // The ids linked to the customer (identity): their events, actions and traces, and every
    // id's tombstone.
    for (const auto& id : input.ids) {
      if (id == input.customer_id) continue;
      const Erasure more = store_->erase_customer(id, now, {});
      result.erasure.events += more.events;
      result.erasure.unsent_actions += more.unsent_actions;
      result.erasure.trace_lines += more.trace_lines;
      parts_.tombstones.add(store_->keyed_hash(id), now);
    }
    result.erasure.ids =
        input.ids.empty() ? std::vector<std::string>{input.customer_id} : input.ids;
    // The deleted rows are gone from the store's live data; old copies may survive on the disk
    // (SQLite: pages in the WAL as they were before). Scrub them now, else soon.
    try {
      result.wal_truncated = store_->scrub();
    } catch (const StoreError& e) {  // the erasure stands; the writer retries
      log(LogLevel::Warn, "scrub failed", {{"error", e.what()}});
    }
    if (!result.wal_truncated) {
      log(LogLevel::Warn,
          "erasure: old copies could not be scrubbed now (store busy); the writer retries",
          {{"shard", index_}});
      parts_.committer.scrub_soon();
    }
    if (parts_.replica != nullptr) parts_.replica->erased(partition, input.customer_id);
    log(LogLevel::Info, "customer erased", {{"customer_id", input.customer_id}, {"shard", index_}});
  } catch (const StoreError& e) {
    result.ok = false;
    result.error = e.what();
    log(LogLevel::Error, "erasure failed",
        {{"customer_id", input.customer_id}, {"error", e.what()}});
    if (parts_.replica != nullptr) parts_.replica->refused(partition);
  }
}

void Shard::load(const std::vector<ShardInput>& inputs, GroupContext& context) {
  for (const auto& input : inputs) {
    if (input.kind == ShardInput::Kind::Merge && input.handoff && input.handoff->state) {
      cache_.emplace(input.absorbed, cached_customer(std::move(input.handoff->state),
                                                     std::move(input.handoff->snapshot)));
    } else if (input.kind == ShardInput::Kind::Merge && cache_.count(input.absorbed) == 0) {
      if (auto stored = store_->load_customer(input.absorbed)) {
        try {
          auto state = engine::deserialize(*stored);
          cache_.emplace(input.absorbed, cached_customer(std::move(state), std::move(*stored)));
        } catch (const std::exception& e) {
          log(LogLevel::Error, "stored state unreadable: not merged",
              {{"customer_id", input.absorbed}, {"error", e.what()}});
        }
      }
    }
    const bool is_event =
        input.kind == ShardInput::Kind::Event || input.kind == ShardInput::Kind::Merge;
    const std::string& customer = input.customer();
    auto cached = cache_.find(customer);
    if (cached == cache_.end() && context.unreadable.count(customer) == 0) {
      auto stored = store_->load_customer(customer);
      if (!stored && !is_event) continue;  // a wake-up for a customer erased since
      try {
        auto state = stored ? engine::deserialize(*stored) : engine::new_customer(customer);
        auto entry = cached_customer(std::move(state), stored ? std::move(*stored) : std::string());
        if (!parts_.tombstones.empty()) {
          entry.erased_at = parts_.tombstones.find(store_->keyed_hash(customer));
        }
        cached = cache_.emplace(customer, std::move(entry)).first;
      } catch (const std::exception& e) {
        context.unreadable[customer] = e.what();
        log(LogLevel::Error, "stored state unreadable",
            {{"customer_id", customer}, {"error", e.what()}});
        continue;
      }
    }
    if (cached != cache_.end() && cached->second.erased_at && is_event &&
        !input.event.message_id.empty() &&
        store_->erased_message(customer, input.event.message_id)) {
      context.erased_messages.emplace(customer, input.event.message_id);
    }
  }
}

void Shard::process(std::vector<ShardInput> inputs) {
  auto group = std::make_shared<Group>();
  group->now = parts_.clock();
  group->inputs = std::move(inputs);
  bool failed = false;
  // Held until the group is handed to the committer: once a deploy has the engine, every group
  // stepped with the set it replaced is in the committer's queue (see Deployments::collect).
  std::shared_lock engine_lock(parts_.engine_mutex, std::defer_lock);
  try {
    GroupContext context;
    context.now = group->now;
    context.trace_lines = parts_.config.retention.trace_lines;
    load(group->inputs, context);
    engine_lock.lock();
    group->step = step_group(parts_.engine, group->inputs, cache_, context);
  } catch (const std::exception& e) {
    // A read failed (or worse): refuse the group. The cached states may hold half of it.
    failed = true;
    group->step.results.assign(group->inputs.size(), InputResult{});
    for (auto& result : group->step.results) {
      result.ok = false;
      result.error = std::string("storage failure: ") + e.what();
    }
    log(LogLevel::Error, "commit failed", {{"shard", index_}, {"error", e.what()}});
    if (parts_.replica != nullptr) parts_.replica->refused(static_cast<int>(index_));
  }
  // Customers not written (duplicates, failures) need no cache entry.
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = it->second.commits == 0 ? cache_.erase(it) : std::next(it);
  }
  if (failed) {
    if (engine_lock.owns_lock()) engine_lock.unlock();
    // The cached states may hold part of this group: start again from the store, and refuse the
    // commits in flight that were computed on them.
    parts_.committer.invalidate(index_);
    cache_.clear();
    cache_generation_ = parts_.committer.generation(index_);
    finish(group, false);
    return;
  }
  report(group->step, group->now);
  group->actions = group->step.batch.actions.size();
  group->started = std::chrono::steady_clock::now();
  PendingCommit commit;
  commit.batch = std::move(group->step.batch);
  commit.shard = index_;
  commit.generation = cache_generation_;
  for (const auto& input : group->inputs) commit.cursor = std::max(commit.cursor, input.sequence);
  commit.finish = [this, group](bool ok, const std::string& error) {
    net::post(strand_, [this, group, ok, error] {
      --commits_in_flight_;
      for (const auto& customer : group->step.touched) drop(customer);
      if (!ok) {
        for (auto& result : group->step.results) {
          result.ok = false;
          result.error = "storage failure: " + error;
        }
        // At most one line a second: the groups queued behind a failed one fail with it.
        ++failures_unlogged_;
        const auto now = std::chrono::steady_clock::now();
        if (now - failure_logged_at_ >= std::chrono::seconds(1)) {
          log(LogLevel::Error, "commit failed",
              {{"shard", index_},
               {"error", error},
               {"failed_since_last_line", failures_unlogged_}});
          failure_logged_at_ = now;
          failures_unlogged_ = 0;
        }
      }
      finish(group, ok);
      if (!pending_.empty()) schedule();
    });
  };
  ++commits_in_flight_;
  parts_.committer.submit(std::move(commit));
}

void Shard::report(const GroupStep& step, engine::Millis now) {
  auto& metrics = parts_.metrics;
  metrics.events_erased += step.erased;
  for (const auto& problem : step.problems) {
    ++metrics.engine_errors;
    if (problem.failure) {
      log(LogLevel::Error, "engine failure",
          {{"customer_id", problem.customer_id}, {"error", problem.error}});
    } else {
      log(LogLevel::Error, "engine error",
          {{"customer_id", problem.customer_id},
           {"journey", problem.journey},
           {"error", problem.error}});
    }
  }
  for (auto lateness : step.wake_lateness) {
    ++metrics.timers_fired;
    metrics.record_timer_lag(lateness);
    if (lateness <= 1000) continue;
    // At most one line a second: a backlog of a million late wake-ups is one fact.
    ++late_unlogged_;
    if (now - late_logged_at_ >= 1000) {
      log(LogLevel::Warn, "wake-up fired late",
          {{"due", engine::format_timestamp(now - lateness)},
           {"late_ms", lateness},
           {"late_wakeups_since_last_line", late_unlogged_}});
      late_logged_at_ = now;
      late_unlogged_ = 0;
    }
  }
}

void Shard::drop(const std::string& customer) {
  auto it = cache_.find(customer);
  if (it == cache_.end()) return;
  if (--it->second.commits <= 0) cache_.erase(it);
}

void Shard::finish(const std::shared_ptr<Group>& group, bool ok) {
  const auto now = group->now;
  const auto& step = group->step;
  std::vector<TimerQueue::Update> updates;
  if (ok) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - group->started;
    parts_.metrics.record_commit(took.count(), group->inputs.size());
    parts_.metrics.events_accepted += step.accepted;
    parts_.metrics.events_duplicate += step.duplicates;
    parts_.metrics.runs_migrated += step.migrated;
    parts_.metrics.identity_merges += step.merges;
    parts_.metrics.identity_refused += step.merges_refused;
    for (const auto& [customer, next] : step.wakeups) {
      // Defensive: a wake-up the engine left in the past is retried in a second, not spun on.
      bool stuck = next && *next <= now && step.woken.count(customer) != 0;
      updates.emplace_back(customer, stuck ? std::optional<engine::Millis>(now + 1000) : next);
    }
    if (group->actions > 0) parts_.actions_committed();
  }
  // Every fired wake-up is answered to the timer queue: with the new wake-up after a commit, none
  // when the customer is gone, a retry when the commit failed.
  for (const auto& customer : step.woken) {
    if (ok && step.wakeups.count(customer) != 0) continue;
    updates.emplace_back(customer, ok ? std::nullopt : std::optional<engine::Millis>(now + 5000));
  }
  if (!updates.empty()) parts_.timers.update(std::move(updates));
  parts_.metrics.queue_depth -= static_cast<std::int64_t>(group->inputs.size());
  for (std::size_t k = 0; k < group->inputs.size(); ++k) {
    if (group->inputs[k].done) group->inputs[k].done(step.results[k]);
    --outstanding_;
  }
}

}  // namespace journey::runtime

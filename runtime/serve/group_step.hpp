// The daemon's group step as a function with no I/O: the engine, a group of one shard's inputs,
// the customers' cached states and the time in, the batch to commit and each input's result out.
// The shard (runtime/shard.hpp) loads what the step needs before calling it, logs and counts what
// it reports, and hands the batch to the committer.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// What one input came to, reported to whoever submitted it.
struct InputResult {
  bool ok = true;
  bool duplicate = false;
  bool erased = false;  // an event of an erased customer from before the erasure: ignored
  std::string error;
  Erasure erasure;
  bool wal_truncated = false;  // Erase: the WAL was truncated before the answer
};

/// A merge's hand-over between two shards (identity_directory.hpp): the absorbed customer's
/// shard, once it has handled every earlier input of the customer (and gets none after), hands
/// over its newest state if it holds one (else the store has it); the merging shard waits for
/// that. The absorbed customer's writes still in flight land first: the committer writes in the
/// order batches come, and the merge's batch comes after them.
class Handoff {
 public:
  std::unique_ptr<engine::CustomerState> state;  // set before signal(), read after ready_or()
  std::string snapshot;                          // what the store holds or will hold of it

  void signal() {
    std::function<void()> resume;
    {
      const std::lock_guard lock(mutex_);
      ready_ = true;
      resume = std::move(resume_);
    }
    if (resume) resume();
  }
  /// True when signalled; else `resume` is called once it is.
  bool ready_or(std::function<void()> resume) {
    const std::lock_guard lock(mutex_);
    if (!ready_) resume_ = std::move(resume);
    return ready_;
  }

 private:
  std::mutex mutex_;
  bool ready_ = false;
  std::function<void()> resume_;
};

/// One unit of work for a shard, handled strictly in submission order.
struct ShardInput {
  // Migrate: step the customer now, so that its runs of older versions move to the live one
  // (`on update migrate`) without waiting for its next input. Merge: take the customer `absorbed`
  // into this one (once `handoff` is signalled, when it sits in another shard). Detach: hand the
  // customer over to a merge in another shard.
  enum class Kind : std::uint8_t { Event, Wake, Erase, Migrate, Merge, Detach };
  Kind kind = Kind::Event;
  engine::Event event;               // Event (its customer_id is the customer the directory says)
  std::string raw;                   // Event: the JSON as received
  std::string customer_id;           // Wake, Erase, Migrate, Merge, Detach
  engine::Millis due = 0;            // Wake: when it was due; Merge: the linking event's time
  std::uint64_t sequence = 0;        // a cluster node's: its place in the partition's event stream
  std::string absorbed;              // Merge
  std::string cause;                 // Merge: what linked them
  std::vector<std::string> ids;      // Merge: the absorbed customer's ids; Erase: every id to erase
  std::vector<std::string> notes;    // Event: links refused, for the trace
  std::shared_ptr<Handoff> handoff;  // Merge, Detach: between two shards
  std::function<void(const InputResult&)> done;

  const std::string& customer() const {
    return kind == Kind::Event ? event.customer_id : customer_id;
  }
};

/// A customer's state as the shard holds it: loaded from the store, or newer and not durable yet.
struct CachedCustomer {
  std::unique_ptr<engine::CustomerState> state;
  std::string snapshot;         // serialized state as stored or last written; empty when new
  std::vector<StoredRun> runs;  // as stored (when runs_known)
  bool runs_known = false;
  int commits = 0;                          // commits in flight that write this customer
  std::optional<engine::Millis> erased_at;  // the customer was erased then (a tombstone)
};

using CustomerCache = std::unordered_map<std::string, CachedCustomer>;

/// A cache entry for a customer as loaded: its state and the serialized form it was read from
/// (empty for a new customer).
CachedCustomer cached_customer(std::unique_ptr<engine::CustomerState> state, std::string snapshot);

/// What the step needs besides the inputs: read by the shard before the step.
struct GroupContext {
  engine::Millis now = 0;
  std::size_t trace_lines = 0;  // retention.trace_lines: 0 keeps no trace rows
  /// (customer, messageId) pairs of the group that an erasure remembered (see Store).
  std::set<std::pair<std::string, std::string>> erased_messages;
  /// Customers whose stored state could not be read, with the reason.
  std::map<std::string, std::string> unreadable;
};

/// Something the shard logs: an engine failure or error of one customer.
struct StepProblem {
  std::string customer_id;
  std::string journey;  // empty for a failure of the whole step call
  std::string error;
  bool failure = false;  // the engine threw: the customer's input was refused
};

/// What a group step produced.
struct GroupStep {
  Batch batch;                       // everything to commit, trace rows and counters included
  std::vector<InputResult> results;  // one per input, in order
  std::vector<std::string> touched;  // customers written by the batch (their cache entries were
                                     // given one more commit in flight)
  std::map<std::string, std::optional<engine::Millis>> wakeups;  // new next wake-up, by customer
  std::set<std::string> woken;                                   // customers of the Wake inputs
  std::vector<engine::Millis> wake_lateness;                     // of each wake-up fired, in ms
  std::vector<StepProblem> problems;
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::size_t erased = 0;
  std::size_t migrated = 0;  // runs moved to a new version of their journey
  std::size_t merges = 0;    // customers merged into another
  std::size_t merges_refused = 0;
};

/// Steps the engine over `inputs` (no Erase among them) in order. Every customer the step should
/// step must be in `cache` (new customers with an empty state); an input whose customer is absent
/// is skipped (a wake-up for a customer erased since) or refused (`context.unreadable`). A new
/// cache entry is never made here. Deterministic: the same engine, inputs, cache and context give
/// the same batch and results.
GroupStep step_group(const engine::Engine& engine, const std::vector<ShardInput>& inputs,
                     CustomerCache& cache, const GroupContext& context);

}  // namespace journey::runtime

// A single node's identity directory: which customer (stored row) each linked id belongs to, and
// which id gave each identity key value first. The daemon resolves every event's ids here as it
// arrives, in arrival order (one lock), before handing the event to a shard: a link between two
// customers becomes a merge of the second into the first, done by the first one's shard (the
// second's shard hands it over: see Shard). The rows persist with the merge's commit.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/event.hpp"
#include "engine/identity.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

class IdentityDirectory {
 public:
  explicit IdentityDirectory(engine::IdentityConfig config) : config_(std::move(config)) {}

  /// Takes the stored directory (at start).
  void load(const IdentityRows& rows);

  /// A merge an event asks for: `absorbed` (a customer, with its ids) into the event's customer.
  struct Merge {
    std::string absorbed;
    std::vector<std::string> ids;  // every id of the absorbed customer, itself included
    std::string cause;             // "anonymousId", "alias", "key email"
  };

  /// What an event's ids come to.
  struct Resolution {
    std::string customer;              // the customer whose state the event goes to
    std::vector<Merge> merges;         // to do first, in order
    std::vector<std::string> refused;  // links refused by the bound, as trace lines
    std::vector<std::pair<std::string, std::string>> claims;  // new identity key values
  };

  /// Resolves an event: the customer it belongs to, and the merges it makes. Not thread-safe:
  /// the caller holds mutex() until the event's inputs are handed to the shards, so that every
  /// shard sees merges in the order they were decided.
  Resolution resolve(const engine::Event& event);

  /// The customer an id belongs to: the id itself when it was never linked.
  std::string customer_of(const std::string& id) const;
  /// Every id of a customer, sorted (the customer alone when it has none linked).
  std::vector<std::string> ids_of(const std::string& customer) const;
  /// Forgets a customer and its ids (erasure).
  void forget(const std::string& customer);

  std::mutex& mutex() { return mutex_; }

 private:
  void link(const std::string& id, const std::string& other, const std::string& cause,
            Resolution& out);

  engine::IdentityConfig config_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::string> customer_;          // linked id -> its customer
  std::unordered_map<std::string, std::vector<std::string>> ids_;  // customer -> its ids
  std::unordered_map<std::string, std::string> claims_;  // "KEY=VALUE" -> the id that gave it
};

}  // namespace journey::runtime

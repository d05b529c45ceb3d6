// The daemon behind `journey serve`: HTTP ingest, shards that step the engine and group-commit
// to the store, durable wake-ups, and the outbox dispatcher, all on one Boost.Asio context. This
// file only wires them (shard.hpp, committer.hpp, timers.hpp, deployments.hpp, http/, deliver/).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "runtime/common/config.hpp"
#include "runtime/serve/deployments.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// One running daemon.
class Daemon {
 public:
  /// Keeps its state in `storage`, which must outlive the daemon.
  Daemon(Config config, Storage& storage);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Opens the store's connections, deploys the journeys and binds the listener. Returns the
  /// bound endpoint. Throws ConfigError, StoreError, DeployError or boost::system::system_error.
  boost::asio::ip::tcp::endpoint open();

  /// Serves until SIGTERM or SIGINT (graceful: stop accepting, finish in-flight work, flush);
  /// SIGHUP reloads the journeys. Returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace journey::runtime

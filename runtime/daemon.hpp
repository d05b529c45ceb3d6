// The daemon behind `journey serve`: HTTP ingest, shards that step the engine and group-commit
// to SQLite, durable wake-ups, and the outbox dispatcher, all on one Boost.Asio context.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "runtime/config.hpp"

namespace journey::runtime {

/// The journey scripts could not be deployed (and no earlier deployment was stored).
class DeployError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One running daemon.
class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Opens and migrates the store, deploys the journeys and binds the listener. Returns the
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

// `journey serve`: runs the daemon (see docs/operations.md).
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "runtime/cli/command.hpp"
#include "runtime/common/log.hpp"
#include "runtime/serve/daemon.hpp"
#include "runtime/store/sqlite_store.hpp"

namespace journey::cli {

namespace {

/// Flags of `journey serve`.
struct ServeOptions {
  std::string config_path;
  std::string journeys;
  std::string db;
  std::string listen;
  std::string sink;
  bool verbose = false;
};

int serve(const ServeOptions& options) {
  runtime::ConfigOverrides overrides;
  if (!options.journeys.empty()) overrides.journeys_dir = options.journeys;
  if (!options.db.empty()) overrides.db_path = options.db;
  if (!options.listen.empty()) overrides.listen = options.listen;
  if (!options.sink.empty()) overrides.sink = options.sink;
  if (options.verbose) runtime::set_log_level(runtime::LogLevel::Debug);
  try {
    auto config = runtime::load_config(options.config_path.empty()
                                           ? std::nullopt
                                           : std::optional<std::string>(options.config_path),
                                       overrides);
    // The embedded default; the daemon is written against runtime::Storage. A cluster node's
    // SQLite file is a copy of the partitions it owns, made anew at each start (its state lives
    // in JetStream), and not synced.
    if (config.cluster) {
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(config.db_path + suffix);
    }
    runtime::SqliteStorage storage(config.db_path, static_cast<std::size_t>(config.db_cache_mb),
                                   !config.cluster);
    runtime::Daemon daemon(std::move(config), storage);
    auto endpoint = daemon.open();
    auto address = endpoint.address();
    std::cout << "listening on "
              << (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) << ":"
              << endpoint.port() << std::endl;
    return daemon.run();
  } catch (const runtime::ConfigError& e) {
    std::cerr << "journey serve: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    runtime::log(runtime::LogLevel::Error, "cannot start", {{"error", e.what()}});
    std::cerr << "journey serve: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace

void add_serve(CLI::App& app, Run& run) {
  auto options = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "Run the daemon: HTTP ingest, durable timers, sends.");
  sub->add_option("--config", options->config_path, "journey.toml (defaults apply without it)");
  sub->add_option("--journeys", options->journeys, "directory of .journey scripts (./journeys)");
  sub->add_option("--db", options->db,
                  "SQLite database file (./journey.db); a cluster node's local copy, made anew at "
                  "each start");
  sub->add_option("--listen", options->listen,
                  "HOST:PORT to listen on (127.0.0.1:8080); port 0 picks one");
  sub->add_option("--sink", options->sink, "file:PATH or webhook:URL for every channel");
  sub->add_flag("--verbose", options->verbose, "debug logs");
  sub->callback([&run, options] { run = [options] { return serve(*options); }; });
}

}  // namespace journey::cli

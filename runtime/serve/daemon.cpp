#include "runtime/serve/daemon.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "engine/engine.hpp"
#include "engine/hash.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "runtime/common/clock.hpp"
#include "runtime/common/log.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/deliver/dispatcher.hpp"
#include "runtime/http/api.hpp"
#include "runtime/http/console.hpp"
#include "runtime/http/server.hpp"
#include "runtime/http/views.hpp"
#include "runtime/serve/cluster_node.hpp"
#include "runtime/serve/committer.hpp"
#include "runtime/serve/identity_directory.hpp"
#include "runtime/serve/shard.hpp"
#include "runtime/serve/timers.hpp"
#include "runtime/serve/tombstones.hpp"

namespace journey::runtime {

namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

/// The shard that owns a customer: a stable hash of the id, so any process agrees.
std::size_t shard_of(const std::string& customer_id, std::size_t shards) {
  return static_cast<std::size_t>(engine::stable_hash(customer_id, 0) % shards);
}

/// A reply to `request` from an Answer made elsewhere (another node, a blocking call), written
/// on whatever thread the answer comes.
std::function<void(Answer)> answer_with(const HttpRequest& request,
                                        std::function<void(HttpResponse)> reply) {
  return [version = request.version(), keep_alive = request.keep_alive(),
          reply = std::move(reply)](const Answer& answer) {
    HttpRequest shape{http::verb::get, "/", version};
    shape.keep_alive(keep_alive);
    reply(json_response(shape, static_cast<http::status>(answer.first), answer.second));
  };
}

/// What `read` gives for each of a customer's ids, in one list.
template <typename Read>
auto of_every_id(const std::vector<std::string>& ids, Read read) {
  decltype(read(ids.front())) all;
  for (const auto& id : ids) {
    auto mine = read(id);
    all.insert(all.end(), std::make_move_iterator(mine.begin()),
               std::make_move_iterator(mine.end()));
  }
  return all;
}

/// The cluster did not answer a read of every partition's totals.
struct ClusterUnanswered : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

struct Daemon::Impl {
  Impl(Config config_in, Storage& storage_in)
      : config(std::move(config_in)),
        storage(storage_in),
        io(config.threads),
        signals(io, SIGINT, SIGTERM, SIGHUP),
        housekeeping(io),
        drain_timer(io) {}

  net::ip::tcp::endpoint open();
  int run();

  void handle(const HttpRequest& request, const std::function<void(HttpResponse)>& reply);
  void execute(Intent intent, const HttpRequest& request, std::function<void(HttpResponse)> reply);
  void ingest(Ingest ingest, const HttpRequest& request, std::function<void(HttpResponse)> reply);
  /// A customer's view ("customer") or trace ("explain") from this node's store.
  Answer read_customer(const std::string& kind, const std::string& id);
  /// A read's answer, here or (a cluster node) from the customer's owner.
  void read_answer(const std::string& kind, const std::string& id,
                   std::function<void(Answer)> done);
  /// Answers a read, here or (a cluster node) by the customer's owner.
  void read(const std::string& kind, const std::string& id, const HttpRequest& request,
            std::function<void(HttpResponse)> reply);
  /// Every journey version's counts, as GET /v1/journeys reads them (a cluster's totals).
  VersionCounts journey_counts();
  /// The counters and the runs by version and step of every customer: this node's store, or on a
  /// cluster node every partition's (ClusterUnanswered when the cluster does not answer).
  std::pair<std::vector<CounterRow>, std::vector<std::pair<StoredRun, std::size_t>>> totals();
  HttpResponse list_journeys(const HttpRequest& request);
  /// A page of the console, from the same reads as the API's.
  void console(const ShowConsole& show, const HttpRequest& request,
               std::function<void(HttpResponse)> reply);
  HttpResponse read_metrics(const HttpRequest& request);
  HttpResponse check_ready(const HttpRequest& request);
  /// Hands inputs to the shards of their customers, one hand-off per shard, order kept per shard.
  /// Wake-ups and migrations go to the customer their id now belongs to (identity).
  void hand_to_shards(std::vector<ShardInput> inputs);
  /// hand_to_shards(), the customers already resolved; under the identity lock, if any.
  void submit_to_shards(std::vector<ShardInput> inputs);
  /// The inputs a merge needs: a Merge for the customer's shard, after a Detach in the absorbed
  /// customer's shard when that is another one.
  void add_merge(const std::string& customer, IdentityDirectory::Merge merge, engine::Millis at,
                 std::vector<ShardInput>& inputs) const;
  /// After a deployment (at start, after a reload): steps every customer with a run to migrate
  /// (`on update migrate`), and collects the old versions no run uses. A single node's.
  void after_deploy();
  /// Hands the next customers to migrate to the shards, the rest once those are done.
  void migrate_next(const std::shared_ptr<std::vector<std::string>>& customers, std::size_t from);
  /// Deployments::collect, logged on failure.
  void collect_versions();
  void wait_signal();
  void shutdown();
  void drain_step();
  void expire_events();

  Config config;
  Storage& storage;
  Clock clock = system_now;
  net::io_context io;
  net::signal_set signals;
  net::steady_timer housekeeping;
  net::steady_timer drain_timer;
  Metrics metrics;
  std::mutex stored_gauges_mutex;  // read_metrics: gauges counted in the store, and when
  std::map<std::string, double> stored_gauges;
  std::chrono::steady_clock::time_point stored_gauges_at;
  std::unique_ptr<Store> api_store;    // reads, deployments, retention
  std::unique_ptr<Store> timer_store;  // wake-up windows
  std::unique_ptr<engine::Engine> engine;
  std::shared_mutex engine_mutex;  // shared while stepping, exclusive while deploying
  std::unique_ptr<Deployments> deployments;
  std::vector<std::unique_ptr<Shard>> shards;
  std::unique_ptr<Committer> committer;  // the single writer of the shards' groups
  std::unique_ptr<TimerQueue> timers;
  std::unique_ptr<Dispatcher> dispatcher;  // a single node's; a cluster node delivers its streams
  std::unique_ptr<ClusterNode> cluster;    // set: one node of a cluster ([cluster])
  std::unique_ptr<IdentityDirectory> identity;  // a single node's: linked ids (not a cluster's)
  std::shared_ptr<HttpServer> server;
  std::atomic<bool> draining{false};
  std::string listening;  // HOST:PORT bound
  int drain_ticks = 0;
  Tombstones tombstones;
};

net::ip::tcp::endpoint Daemon::Impl::open() {
  validate_for_serving(config);
  if (config.cluster) {
    // The cluster's secret keys every hash of customer ids, on every node alike.
    cluster = std::make_unique<ClusterNode>(config, metrics, clock);
    storage.open()->set_key(cluster->layout().secret());
  }
  api_store = storage.open();
  timer_store = storage.open();
  engine = std::make_unique<engine::Engine>(config.engine);
  deployments = std::make_unique<Deployments>(config.journeys_dir, *engine, engine_mutex,
                                              *api_store, metrics, clock);
  if (cluster) deployments->keep_all();
  deployments->start(cluster && cluster->fetch_deployments(*api_store));

  // A cluster node has a shard per partition (each owned one consumes its events); a single node
  // spreads its customers over `shards`.
  const auto shard_count =
      static_cast<std::size_t>(cluster ? config.cluster->partitions : config.shards);
  committer = std::make_unique<Committer>(storage, shard_count, metrics, io, cluster.get());
  if (!cluster) {
    dispatcher = std::make_unique<Dispatcher>(
        config, storage, metrics, [this](Batch marks) { committer->write(std::move(marks)); },
        clock);
  }
  tombstones.assign(api_store->erased_customers());
  if (!cluster) {
    identity = std::make_unique<IdentityDirectory>(config.identity);
    identity->load(api_store->identities());
  }
  timers = std::make_unique<TimerQueue>(
      io, *timer_store, config.timer_window_ms, config.timer_window_max,
      [this](std::vector<TimerQueue::Due>& fired) {
        std::vector<ShardInput> inputs(fired.size());
        for (std::size_t i = 0; i < fired.size(); ++i) {
          inputs[i].kind = ShardInput::Kind::Wake;
          inputs[i].customer_id = std::move(fired[i].first);
          inputs[i].due = fired[i].second;
        }
        hand_to_shards(std::move(inputs));
      },
      clock);
  for (std::size_t i = 0; i < shard_count; ++i) {
    Shard::Parts parts{io,
                       config,
                       storage,
                       *engine,
                       engine_mutex,
                       *committer,
                       *timers,
                       metrics,
                       tombstones,
                       clock,
                       [this] {
                         if (dispatcher) dispatcher->notify();
                       },
                       cluster.get()};
    shards.push_back(std::make_unique<Shard>(i, std::move(parts)));
  }
  server = std::make_shared<HttpServer>(
      io, config.limits,
      [this](const HttpRequest& request, const std::function<void(HttpResponse)>& reply) {
        handle(request, reply);
      },
      metrics);
  auto endpoint = server->listen(config.listen_host, config.listen_port);
  listening = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  log(LogLevel::Info, "listening",
      {{"address", endpoint.address().to_string()},
       {"port", endpoint.port()},
       {"db", config.db_path},
       {"journeys", config.journeys_dir},
       {"model", config.model_file.empty() ? "none" : config.model_file},
       {"shards", shard_count},
       {"cluster", cluster ? json(config.cluster->node) : json(nullptr)},
       {"auth", config.tokens.empty() ? "none (loopback only)" : "bearer"}});
  return endpoint;
}

void Daemon::Impl::handle(const HttpRequest& request,
                          const std::function<void(HttpResponse)>& reply) {
  try {
    auto routed = route(request, config, clock());
    if (auto* answer = std::get_if<HttpResponse>(&routed)) {
      std::string_view target(request.target().data(), request.target().size());
      if (target.rfind("/v1/track", 0) == 0 || target.rfind("/v1/identify", 0) == 0 ||
          target.rfind("/v1/page", 0) == 0 || target.rfind("/v1/alias", 0) == 0 ||
          target.rfind("/v1/batch", 0) == 0) {
        if (answer->result_int() == 400 || answer->result_int() == 413) ++metrics.events_rejected;
      }
      reply(std::move(*answer));
      return;
    }
    execute(std::get<Intent>(std::move(routed)), request, reply);
  } catch (const std::exception& e) {
    log(LogLevel::Error, "request failed",
        {{"target", std::string(request.target())}, {"error", e.what()}});
    reply(error_response(request, http::status::internal_server_error,
                         std::string("internal error: ") + e.what()));
  }
}

void Daemon::Impl::execute(Intent intent, const HttpRequest& request,
                           std::function<void(HttpResponse)> reply) {
  if (auto* ingest_intent = std::get_if<Ingest>(&intent)) {
    ingest(std::move(*ingest_intent), request, std::move(reply));
  } else if (auto* get = std::get_if<GetCustomer>(&intent)) {
    read("customer", get->id, request, std::move(reply));
  } else if (auto* explain = std::get_if<ExplainCustomer>(&intent)) {
    read("explain", explain->id, request, std::move(reply));
  } else if (auto* erase = std::get_if<EraseCustomer>(&intent)) {
    if (draining) {
      reply(error_response(request, http::status::service_unavailable, "shutting down"));
      return;
    }
    if (cluster) {
      cluster->erase(erase->id, answer_with(request, std::move(reply)));
      return;
    }
    ShardInput input;
    input.kind = ShardInput::Kind::Erase;
    std::unique_lock lock(identity->mutex());
    input.customer_id = identity->customer_of(erase->id);
    input.ids = identity->ids_of(input.customer_id);
    identity->forget(input.customer_id);
    auto id = erase->id;
    auto version = request.version();
    auto keep_alive = request.keep_alive();
    input.done = [reply, id, version, keep_alive](const InputResult& result) {
      HttpRequest shape{http::verb::delete_, "/", version};
      shape.keep_alive(keep_alive);
      if (!result.ok) {
        reply(error_response(shape, http::status::service_unavailable, result.error));
        return;
      }
      reply(json_response(shape, http::status::ok,
                          erasure_view(id, result.erasure, result.wal_truncated)));
    };
    std::vector<ShardInput> inputs;
    inputs.push_back(std::move(input));
    submit_to_shards(std::move(inputs));
  } else if (std::holds_alternative<ListJourneys>(intent)) {
    reply(list_journeys(request));
  } else if (const auto* show = std::get_if<ShowConsole>(&intent)) {
    console(*show, request, std::move(reply));
  } else if (auto* lint = std::get_if<LintScript>(&intent)) {
    reply(json_response(request, http::status::ok,
                        lint_script(lint->text, engine_checks(config.engine))));
  } else if (auto* reload = std::get_if<ReloadJourneys>(&intent)) {
    if (reload->dry_run) {
      std::vector<std::pair<StoredRun, std::size_t>> runs;
      try {
        runs = totals().second;
      } catch (const ClusterUnanswered& e) {
        reply(error_response(request, http::status::service_unavailable, e.what()));
        return;
      }
      auto [ok, body] = deployments->preview(runs);
      reply(
          json_response(request, ok ? http::status::ok : http::status::unprocessable_entity, body));
      return;
    }
    auto [ok, body] = deployments->reload("api");
    reply(json_response(request, ok ? http::status::ok : http::status::unprocessable_entity, body));
    if (ok) net::post(io, [this] { after_deploy(); });
  } else if (auto* source = std::get_if<VersionSource>(&intent)) {
    auto deployment = deployments->source_of(source->journey, source->version);
    if (!deployment) {
      reply(error_response(request, http::status::not_found,
                           "no version `" + source->version + "` of journey `" + source->journey +
                               "` is kept (unknown, or collected once no run used it)"));
      return;
    }
    reply(json_response(request, http::status::ok,
                        source_view(source->journey, source->version, *deployment)));
  } else if (std::holds_alternative<ClusterStatus>(intent)) {
    if (!cluster) {
      reply(
          error_response(request, http::status::not_found,
                         "this daemon runs as a single node (no [cluster] in its configuration)"));
      return;
    }
    json status;
    try {
      status = cluster->status();
    } catch (const std::exception& e) {
      reply(error_response(request, http::status::service_unavailable,
                           std::string("the cluster did not answer: ") + e.what()));
      return;
    }
    reply(json_response(request, http::status::ok, status));
  } else if (std::holds_alternative<ReadMetrics>(intent)) {
    reply(read_metrics(request));
  } else if (std::holds_alternative<CheckReady>(intent)) {
    reply(check_ready(request));
  } else {
    reply(json_response(request, draining ? http::status::service_unavailable : http::status::ok,
                        {{"status", draining ? "draining" : "ok"}}));
  }
}

void Daemon::Impl::ingest(Ingest ingest, const HttpRequest& request,
                          std::function<void(HttpResponse)> reply) {
  if (draining) {
    reply(error_response(request, http::status::service_unavailable, "shutting down; retry"));
    return;
  }
  if (static_cast<std::size_t>(std::max<std::int64_t>(0, metrics.queue_depth.load())) +
          ingest.items.size() >
      config.limits.max_queue) {
    auto response = error_response(request, http::status::too_many_requests,
                                   "the ingest queue is full; retry later");
    response.set(http::field::retry_after, "1");
    reply(std::move(response));
    return;
  }
  /// Collects the shards' answers; the last one to finish replies.
  struct Tally {
    std::mutex mutex;
    std::size_t remaining = 0;
    std::size_t accepted = 0;
    std::size_t duplicates = 0;
    std::size_t erased = 0;
    std::string error;
    std::function<void(HttpResponse)> reply;
    unsigned version = 11;
    bool keep_alive = true;
  };
  auto tally = std::make_shared<Tally>();
  tally->remaining = ingest.items.size();
  tally->reply = std::move(reply);
  tally->version = request.version();
  tally->keep_alive = request.keep_alive();
  if (ingest.items.empty()) {
    tally->reply(
        json_response(request, http::status::ok,
                      {{"success", true}, {"accepted", 0}, {"duplicates", 0}, {"erased", 0}}));
    return;
  }
  if (cluster) {
    // Answered once JetStream stored every event (on a quorum of its replicas); their owners
    // process them from the stream.
    cluster->ingest(std::move(ingest.items), [this, tally](IngestAnswer answer) {
      net::post(io, [tally, answer = std::move(answer)] {
        HttpRequest shape{http::verb::post, "/", tally->version};
        shape.keep_alive(tally->keep_alive);
        if (!answer.error.empty()) {
          tally->reply(
              error_response(shape, http::status::service_unavailable,
                             answer.error + " (retrying with the same messageIds is safe)"));
          return;
        }
        tally->reply(json_response(shape, http::status::ok,
                                   {{"success", true},
                                    {"accepted", answer.accepted},
                                    {"duplicates", answer.duplicates},
                                    {"erased", answer.erased}}));
      });
    });
    return;
  }
  std::vector<ShardInput> inputs;
  inputs.reserve(ingest.items.size());
  Batch claims;  // identity key values given first: written with a next commit
  // Resolved and handed over under one lock: every shard sees the merges in the order decided.
  const std::lock_guard lock(identity->mutex());
  for (auto& item : ingest.items) {
    auto resolved = identity->resolve(item.event);
    for (auto& merge : resolved.merges)
      add_merge(resolved.customer, std::move(merge), item.event.at, inputs);
    claims.claims.insert(claims.claims.end(), resolved.claims.begin(), resolved.claims.end());
    ShardInput input;
    input.kind = ShardInput::Kind::Event;
    input.event = std::move(item.event);
    input.event.customer_id = std::move(resolved.customer);
    input.notes = std::move(resolved.refused);
    input.raw = std::move(item.raw);
    input.done = [tally](const InputResult& result) {
      std::unique_lock lock(tally->mutex);
      if (!result.ok && tally->error.empty()) tally->error = result.error;
      if (result.ok && result.duplicate) ++tally->duplicates;
      if (result.ok && result.erased) ++tally->erased;
      if (result.ok && !result.duplicate && !result.erased) ++tally->accepted;
      if (--tally->remaining > 0) return;
      lock.unlock();
      HttpRequest shape{http::verb::post, "/", tally->version};
      shape.keep_alive(tally->keep_alive);
      if (!tally->error.empty()) {
        tally->reply(error_response(shape, http::status::service_unavailable,
                                    tally->error + " (events without an error were committed; "
                                                   "retrying with the same messageIds is safe)"));
      } else {
        tally->reply(json_response(shape, http::status::ok,
                                   {{"success", true},
                                    {"accepted", tally->accepted},
                                    {"duplicates", tally->duplicates},
                                    {"erased", tally->erased}}));
      }
    };
    inputs.push_back(std::move(input));
  }
  submit_to_shards(std::move(inputs));
  if (!claims.claims.empty()) committer->write_soon(std::move(claims));
}

void Daemon::Impl::add_merge(const std::string& customer, IdentityDirectory::Merge merge,
                             engine::Millis at, std::vector<ShardInput>& inputs) const {
  ShardInput input;
  input.kind = ShardInput::Kind::Merge;
  input.customer_id = customer;
  input.due = at;
  input.cause = std::move(merge.cause);
  input.ids = std::move(merge.ids);
  if (shard_of(merge.absorbed, shards.size()) != shard_of(customer, shards.size())) {
    ShardInput detach;
    detach.kind = ShardInput::Kind::Detach;
    detach.customer_id = merge.absorbed;
    detach.handoff = std::make_shared<Handoff>();
    input.handoff = detach.handoff;
    inputs.push_back(std::move(detach));
  }
  input.absorbed = std::move(merge.absorbed);
  inputs.push_back(std::move(input));
}

void Daemon::Impl::hand_to_shards(std::vector<ShardInput> inputs) {
  if (cluster) {
    cluster->hand_off(std::move(inputs));
    return;
  }
  const std::lock_guard lock(identity->mutex());
  for (auto& input : inputs) {
    if (input.kind == ShardInput::Kind::Event) {
      input.event.customer_id = identity->customer_of(input.event.customer_id);
    } else {
      input.customer_id = identity->customer_of(input.customer_id);
    }
  }
  submit_to_shards(std::move(inputs));
}

void Daemon::Impl::submit_to_shards(std::vector<ShardInput> inputs) {
  std::vector<std::vector<ShardInput>> by_shard(shards.size());
  for (auto& input : inputs) {
    by_shard[shard_of(input.customer(), shards.size())].push_back(std::move(input));
  }
  for (std::size_t i = 0; i < shards.size(); ++i) {
    if (!by_shard[i].empty()) shards[i]->submit(std::move(by_shard[i]));
  }
}

Answer Daemon::Impl::read_customer(const std::string& kind, const std::string& id) {
  // Any linked id answers for its customer: the row its state is stored under, and every id's
  // trace lines and actions.
  std::string customer = id;
  std::vector<std::string> ids{id};
  if (identity) {
    const std::lock_guard lock(identity->mutex());
    customer = identity->customer_of(id);
    ids = identity->ids_of(customer);
  }
  if (kind == "explain") {
    auto lines = of_every_id(ids, [this](const std::string& each) {
      return api_store->traces(each, config.retention.trace_lines);
    });
    std::stable_sort(lines.begin(), lines.end(),
                     [](const StoredTrace& a, const StoredTrace& b) { return a.at < b.at; });
    if (lines.size() > config.retention.trace_lines)
      lines.erase(lines.begin(),
                  lines.end() - static_cast<std::ptrdiff_t>(config.retention.trace_lines));
    if (lines.empty() && !api_store->load_customer(customer)) {
      return {404, {{"error", "no customer `" + id + "`"}}};
    }
    return {200, explain_view(id, config.retention.trace_lines, lines)};
  }
  auto stored = api_store->load_customer(customer);
  if (!stored) return {404, {{"error", "no customer `" + id + "`"}}};
  auto state = engine::deserialize(*stored);
  json body;
  {
    std::shared_lock lock(engine_mutex);
    body["customer"] = engine->describe(*state);
    auto next = engine->next_wakeup(*state);
    body["next_wakeup"] = next ? json(engine::format_timestamp(*next)) : json(nullptr);
  }
  body["customer_id"] = id;
  auto recent = of_every_id(ids, [this](const std::string& each) {
    return api_store->recent_actions(each, config.retention.recent_actions);
  });
  std::sort(recent.begin(), recent.end(),
            [](const OutboxEntry& a, const OutboxEntry& b) { return a.seq > b.seq; });
  if (recent.size() > config.retention.recent_actions)
    recent.resize(config.retention.recent_actions);
  body["recent_actions"] = actions_view(recent);
  return {200, body};
}

void Daemon::Impl::read_answer(const std::string& kind, const std::string& id,
                               std::function<void(Answer)> done) {
  if (cluster) {
    cluster->read(kind, id, std::move(done));
    return;
  }
  done(read_customer(kind, id));
}

void Daemon::Impl::read(const std::string& kind, const std::string& id, const HttpRequest& request,
                        std::function<void(HttpResponse)> reply) {
  read_answer(kind, id, answer_with(request, std::move(reply)));
}

VersionCounts Daemon::Impl::journey_counts() {
  auto [counters, runs] = totals();
  return version_counts(counters, runs);
}

std::pair<std::vector<CounterRow>, std::vector<std::pair<StoredRun, std::size_t>>>
Daemon::Impl::totals() {
  if (!cluster) return {api_store->counters(), api_store->run_counts()};
  // Every partition's counters and runs, as their owners last copied them to the cluster.
  try {
    return cluster->totals();
  } catch (const std::exception& e) {
    throw ClusterUnanswered(std::string("the cluster did not answer: ") + e.what());
  }
}

HttpResponse Daemon::Impl::list_journeys(const HttpRequest& request) {
  auto [deployment, live] = deployments->live();
  VersionCounts counts;
  try {
    counts = journey_counts();
  } catch (const ClusterUnanswered& e) {
    return error_response(request, http::status::service_unavailable, e.what());
  }
  std::shared_lock lock(engine_mutex);
  const auto name_of = [this](const StoredRun& run) {
    const auto* journey = engine->find_version(run.journey, run.version);
    return journey != nullptr ? engine::step_name(*journey, run.state) : run.state;
  };
  return json_response(request, http::status::ok,
                       journeys_view(std::move(counts), live, deployment, name_of));
}

void Daemon::Impl::console(const ShowConsole& show, const HttpRequest& request,
                           std::function<void(HttpResponse)> reply) {
  if (show.page == ShowConsole::Page::Customer) {
    if (show.customer.empty()) {
      reply(html_response(request, http::status::ok, customer_page(show, 0, {}, 0, {})));
      return;
    }
    // The customer's view, then its trace: the answers of GET /v1/customers/{id} and /explain.
    const auto version = request.version();
    const auto keep_alive = request.keep_alive();
    read_answer("customer", show.customer,
                [this, show, version, keep_alive, reply = std::move(reply)](Answer customer) {
                  read_answer(
                      "explain", show.customer,
                      [show, version, keep_alive, reply,
                       customer = std::move(customer)](const Answer& explain) {
                        HttpRequest shape{http::verb::get, "/", version};
                        shape.keep_alive(keep_alive);
                        reply(html_response(shape, http::status::ok,
                                            customer_page(show, customer.first, customer.second,
                                                          explain.first, explain.second)));
                      });
                });
    return;
  }
  ConsoleJourneys data;
  std::tie(data.deployment, data.live) = deployments->live();
  data.versions = deployments->versions();
  data.check = deployments->last_check();
  try {
    data.counts = journey_counts();
  } catch (const ClusterUnanswered& e) {
    reply(html_response(request, http::status::service_unavailable,
                        problem_page(show, "The cluster did not answer", e.what())));
    return;
  }
  if (show.page == ShowConsole::Page::Journeys) {
    reply(html_response(request, http::status::ok, journeys_page(show, data)));
    return;
  }
  auto page = journey_page(show, data);
  if (!page) {
    reply(html_response(request, http::status::not_found,
                        problem_page(show, "Not found", "No journey named " + show.journey + ".")));
    return;
  }
  reply(html_response(request, http::status::ok, std::move(*page)));
}

void Daemon::Impl::after_deploy() {
  if (cluster || draining) return;
  auto customers = std::make_shared<std::vector<std::string>>();
  try {
    for (const auto& [journey, version] : deployments->migrating()) {
      for (auto& id : api_store->customers_in(journey, version))
        customers->push_back(std::move(id));
    }
  } catch (const StoreError& e) {
    log(LogLevel::Warn, "runs to migrate could not be read; they move at their next input",
        {{"error", e.what()}});
  }
  // Entries that fire at computed instants (`entry every`, `entry every year on`, `entry on date`,
  // `entry at`) reach a customer once the engine has set that customer's timers, at an input or
  // a wake-up: step every stored customer once, so that those idle since are reached too.
  bool timed = false;
  for (const auto& info : deployments->live().second) {
    if (const engine::Journey* j = engine->find_version(info.name, info.version)) {
      timed = timed || std::any_of(j->entries.begin(), j->entries.end(), [](const auto& e) {
                return e.kind != dsl::EntryKind::On && e.kind != dsl::EntryKind::When;
              });
    }
  }
  if (timed) {
    try {
      for (auto& id : api_store->customer_ids()) customers->push_back(std::move(id));
    } catch (const StoreError& e) {
      log(LogLevel::Warn,
          "customers could not be read; their entry timers are set at their next input",
          {{"error", e.what()}});
    }
  }
  std::sort(customers->begin(), customers->end());
  customers->erase(std::unique(customers->begin(), customers->end()), customers->end());
  if (!customers->empty()) {
    log(LogLevel::Info, "stepping customers for the new versions (runs to migrate, entry timers)",
        {{"customers", customers->size()}});
    migrate_next(customers, 0);
  } else {
    collect_versions();
  }
}

void Daemon::Impl::migrate_next(const std::shared_ptr<std::vector<std::string>>& customers,
                                std::size_t from) {
  constexpr std::size_t kAtOnce = 1024;
  if (from >= customers->size() || draining) {
    collect_versions();  // the migrated runs' old versions may be unused now
    return;
  }
  const std::size_t to = std::min(customers->size(), from + kAtOnce);
  auto left = std::make_shared<std::atomic<std::size_t>>(to - from);
  std::vector<ShardInput> inputs(to - from);
  for (std::size_t i = from; i < to; ++i) {
    auto& input = inputs[i - from];
    input.kind = ShardInput::Kind::Migrate;
    input.customer_id = (*customers)[i];
    input.done = [this, customers, to, left](const InputResult&) {
      if (--*left == 0) net::post(io, [this, customers, to] { migrate_next(customers, to); });
    };
  }
  hand_to_shards(std::move(inputs));
}

void Daemon::Impl::collect_versions() {
  try {
    deployments->collect([this] { committer->write(Batch{}); });
  } catch (const std::exception& e) {
    log(LogLevel::Warn, "old journey versions could not be collected", {{"error", e.what()}});
  }
}

HttpResponse Daemon::Impl::read_metrics(const HttpRequest& request) {
  std::map<std::string, double> gauges;
  {
    // The gauges counted in SQLite cost a pass over an index each (a million rows: tens of ms),
    // so a scrape reuses counts at most a second old rather than rescanning.
    std::lock_guard lock(stored_gauges_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (stored_gauges.empty() || now - stored_gauges_at >= std::chrono::seconds(1)) {
      stored_gauges.clear();
      for (const auto& [status, count] : api_store->outbox_counts()) {
        stored_gauges["journey_outbox_actions{status=\"" + status + "\"}"] =
            static_cast<double>(count);
      }
      stored_gauges["journey_timers_pending"] = static_cast<double>(api_store->pending_wakeups());
      stored_gauges_at = now;
    }
    gauges = stored_gauges;
  }
  if (cluster) {
    for (auto& [name, value] : cluster->gauges()) gauges[name] = value;
  }
  gauges["journey_timers_in_memory"] = static_cast<double>(timers->in_memory());
  gauges["journey_http_sessions"] = static_cast<double>(server->sessions());
  HttpResponse response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/plain; version=0.0.4");
  response.keep_alive(request.keep_alive());
  response.body() = metrics.render(gauges);
  response.prepare_payload();
  return response;
}

HttpResponse Daemon::Impl::check_ready(const HttpRequest& request) {
  if (draining) {
    return json_response(request, http::status::service_unavailable,
                         {{"status", "draining"}, {"ready", false}});
  }
  // Ready unless the latest commit failed. Then a probe commit (a heartbeat row of 256 KiB,
  // synced like any commit) decides, so that recovery shows without any input arriving (a load
  // balancer sends none to a node that is not ready).
  if (committer->failing()) {
    Batch probe;
    probe.heartbeat = clock();
    try {
      committer->write(std::move(probe));
    } catch (const std::exception& e) {
      return json_response(
          request, http::status::service_unavailable,
          {{"status", "store cannot commit"}, {"ready", false}, {"error", e.what()}});
    }
  }
  return json_response(request, http::status::ok, {{"status", "ready"}, {"ready", true}});
}

void Daemon::Impl::expire_events() {
  try {
    auto now = clock();
    auto removed = api_store->expire_events(now - config.retention.timeline_ms);
    if (removed > 0) log(LogLevel::Info, "timeline retention", {{"events_removed", removed}});
    auto tombstones_removed = api_store->expire_erased(now - config.retention.erased_ms);
    if (tombstones_removed > 0) {
      tombstones.assign(api_store->erased_customers());
      log(LogLevel::Info, "erasure tombstones expired", {{"removed", tombstones_removed}});
    }
  } catch (const StoreError& e) {
    log(LogLevel::Warn, "timeline retention failed", {{"error", e.what()}});
  }
  if (!cluster) collect_versions();  // goal windows of replaced versions end with time
  housekeeping.expires_after(std::chrono::minutes(10));
  housekeeping.async_wait([this](boost::system::error_code ec) {
    if (!ec && !draining) expire_events();
  });
}

void Daemon::Impl::wait_signal() {
  signals.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      log(LogLevel::Info, "SIGHUP: reloading journeys");
      if (deployments->reload("SIGHUP").first) after_deploy();
      wait_signal();
      return;
    }
    log(LogLevel::Info, "shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    shutdown();
  });
}

void Daemon::Impl::shutdown() {
  draining = true;
  server->stop_accepting();
  timers->stop();
  if (cluster) cluster->quiesce();
  housekeeping.cancel();
  drain_step();
}

void Daemon::Impl::drain_step() {
  // Finish the work in hand (bounded), then let sessions write their last answers and close.
  drain_timer.expires_after(std::chrono::milliseconds(20));
  drain_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    bool idle = std::all_of(shards.begin(), shards.end(), [](const auto& s) { return s->idle(); });
    ++drain_ticks;
    if (!idle && drain_ticks < 500) {
      drain_step();
      return;
    }
    server->close_sessions();
    if (server->sessions() > 0 && drain_ticks < 600) {
      drain_step();
      return;
    }
    signals.cancel();
    io.stop();
  });
}

int Daemon::Impl::run() {
  if (dispatcher) dispatcher->start();
  committer->start();
  timers->start();
  if (cluster) {
    // Partitions are taken (and rebuilt through the committer) from here on.
    cluster->start(
        {storage, *committer, *timers, tombstones, *deployments,
         [this](int p) -> Shard& { return *shards[static_cast<std::size_t>(p)]; },
         [this](const std::string& kind, const std::string& id) { return read_customer(kind, id); },
         listening});
  }
  server->start();
  wait_signal();
  net::post(io, [this] { after_deploy(); });  // runs of older versions stored before the start
  expire_events();
  std::vector<std::thread> threads;
  for (int i = 1; i < config.threads; ++i) threads.emplace_back([this] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  if (cluster) cluster->stop();  // the partitions go to the other nodes
  committer->stop();
  if (dispatcher) dispatcher->stop();
  log(LogLevel::Info, "stopped");
  return 0;
}

Daemon::Daemon(Config config, Storage& storage)
    : impl_(std::make_unique<Impl>(std::move(config), storage)) {}
Daemon::~Daemon() = default;

net::ip::tcp::endpoint Daemon::open() {
  return impl_->open();
}

int Daemon::run() {
  return impl_->run();
}

}  // namespace journey::runtime

// bench_serve: the daemon figures of issue 6, measured on the real `journey serve` binary.
//
// Each phase starts the daemon in a fresh temp folder (SQLite store, file sink) on loopback, drives
// it over real HTTP with a small POSIX-socket client, measures, and prints one line per figure
// beside its target. Memory is the daemon's VmRSS / VmHWM from /proc/PID/status.
//
//   ingest   the whole generated dataset (examples/generate, customer-grouped, about 19 events a
//            customer) posted to /v1/batch in batches of 500 on N connections as fast as the
//            daemon acknowledges; then SIGKILL and a count of the stored events, which must hold
//            every acknowledged one.
//   latency  the same kind of data offered at a fixed rate (10,000 events/s); the time from
//            sending each batch to reading its answer.
//   waits    N customers sign up, all stamped so that their `wait 1h` (bench/wait.journey) comes
//            due at one instant D a little later; SIGKILL, restart (time until an event is
//            acknowledged again), the memory held per pending wait, then the rate at which the
//            N wake-ups fire after D (journey_timers_fired_total) and reach the sink.
//
//   bench_serve --journey BIN --generate BIN --welcome FILE --wait FILE [options]   (see --help)
#include <signal.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "bench_support.hpp"
#include "support/daemon_process.hpp"

namespace fs = std::filesystem;
using namespace journey::bench;
using journey::test::Memory;

namespace {

struct Options {
  std::string journey_bin;
  std::string generate_bin;
  std::string welcome_journey;
  std::string wait_journey;
  std::string work_dir = fs::temp_directory_path().string();
  std::set<std::string> phases = {"ingest", "latency", "waits"};
  int customers = 53'000;        // ingest data: about 19 events a customer
  int anonymous = 0;             // percent of them anonymous for their first half of events
  std::size_t batch = 500;       // events per /v1/batch request
  int connections = 8;           // ingest: concurrent keep-alive connections
  double latency_rate = 10'000;  // latency: events/s offered
  double latency_seconds = 20;   // latency: how long
  int latency_connections = 4;
  std::size_t waits = 1'000'000;  // waits: customers waiting for the same instant
  double wait_margin = 20;        // waits: seconds between the expected end of ingest and D
  double wait_ingest_rate = 0;    // waits: assumed ingest rate; 0 = half the measured one
  int shards = 0;                 // 0: the daemon's default
  int threads = 0;
  std::string extra_toml;  // appended to journey.toml (e.g. "[timers]\nmax_in_memory = 5")
  bool keep = false;
};

constexpr const char* kUsage =
    R"(usage: bench_serve --journey BIN --generate BIN --welcome FILE --wait FILE [options]
  --phases LIST            ingest,latency,waits (default: all three)
  --customers N            generated customers for ingest and latency (53000: about 1M events)
  --anonymous P            P% of them anonymous (anonymousId only) for their first half of
                           events, the middle one with both ids: a login, a merge (default 0)
  --batch N                events per /v1/batch request (500)
  --connections N          ingest connections (8)
  --latency-rate R         events/s offered in the latency phase (10000)
  --latency-seconds S      length of the latency phase (20)
  --waits N                customers whose waits come due at one instant (1000000)
  --wait-margin S          seconds between the expected end of the wait ingest and the instant (20)
  --wait-ingest-rate R     events/s assumed to place the instant (default: half the measured ingest)
  --shards N, --threads N  daemon settings (default: the daemon's)
  --extra-toml TEXT        lines appended to the daemon's journey.toml
  --work DIR               where the temp folders go (default: the system temp dir)
  --keep                   keep the temp folders
)";

[[noreturn]] void die(const std::string& message) {
  std::cerr << "bench_serve: " << message << "\n";
  std::exit(2);
}

// --- the daemon process ---------------------------------------------------------------------

/// A fresh folder for one daemon, removed at the end unless --keep.
class WorkDir {
 public:
  WorkDir(const Options& options, const std::string& name)
      : folder_("bench-serve-" + name + "-", options.work_dir), keep_(options.keep) {
    if (keep_) folder_.keep();
  }
  ~WorkDir() {
    if (keep_) std::cerr << "bench_serve: kept " << folder_.path() << "\n";
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const fs::path& path() const { return folder_.path(); }

 private:
  journey::test::TempFolder folder_;
  bool keep_;
};

/// Writes journey.toml and the journey for a phase.
void prepare(const Options& options, const WorkDir& dir, const std::string& journey_file,
             bool assume_consent) {
  fs::copy_file(journey_file, dir.path() / "journeys" / fs::path(journey_file).filename(),
                fs::copy_options::overwrite_existing);
  std::ofstream toml(dir.path() / "journey.toml");
  toml << "journeys = \"journeys\"\n"
       << "db = \"journey.db\"\n";
  if (options.shards > 0) toml << "shards = " << options.shards << "\n";
  if (options.threads > 0) toml << "threads = " << options.threads << "\n";
  toml << "[sink]\ndefault = \"file:actions.ndjson\"\n";
  if (assume_consent) toml << "[engine]\nconsent = \"assumed\"\n";
  toml << "[limits]\nrequests_per_connection = 100000000\nmax_queue = 10000000\n";
  toml << options.extra_toml << "\n";
}

/// The real `journey serve` for one phase, on an ephemeral loopback port in `dir`; ends the
/// bench when it does not start.
class Daemon : public journey::test::DaemonProcess {
 public:
  Daemon(const Options& options, const WorkDir& dir)
      : DaemonProcess(options.journey_bin, dir.path(),
                      {"serve", "--config", "journey.toml", "--listen", "127.0.0.1:0"},
                      std::chrono::seconds(30)) {
    if (!started()) {
      die("the daemon did not start (first line: `" + first_line() + "`); see " +
          (dir.path() / "daemon.log").string());
    }
  }
};

/// Generated customer data: NDJSON lines from examples/generate, starting now.
std::vector<std::string> generate(const Options& options) {
  auto start = journey::engine::format_timestamp(wall_ms() / 60'000 * 60'000);
  start = start.substr(0, 19) + "Z";
  std::string command = options.generate_bin + " --customers " + std::to_string(options.customers) +
                        " --seed 1 --start " + start + " --anonymous " +
                        std::to_string(options.anonymous);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) die("cannot run " + command);
  std::vector<std::string> lines;
  std::string line;
  char chunk[65536];
  std::size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) {
    for (std::size_t i = 0; i < n; ++i) {
      if (chunk[i] == '\n') {
        if (!line.empty()) lines.push_back(std::move(line));
        line.clear();
      } else {
        line += chunk[i];
      }
    }
  }
  if (pclose(pipe) != 0 || lines.empty()) die("`" + command + "` failed");
  return lines;
}

/// Rows in a table of the daemon's database (opened after the daemon is gone).
long count_rows(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) die("cannot open " + db_path.string());
  sqlite3_stmt* st = nullptr;
  long count = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    count = static_cast<long>(sqlite3_column_int64(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return count;
}

// --- phases -------------------------------------------------------------------------------

/// The ingest rate measured by the ingest phase (events/s), for placing the wait instant.
double g_measured_ingest = 0;

void ingest_phase(const Options& options, const std::vector<std::string>& lines) {
  WorkDir dir(options, "ingest");
  prepare(options, dir, options.welcome_journey, false);
  auto requests = batch_requests(lines, options.batch);
  Daemon daemon(options, dir);
  auto cpu_before = daemon.cpu_seconds();
  auto result = drive({daemon.port()}, requests, options.connections, 0);
  auto cpu = daemon.cpu_seconds() - cpu_before;
  auto memory = daemon.memory();
  double rate = static_cast<double>(result.accepted + result.duplicates) / result.seconds;
  g_measured_ingest = rate;
  figure("ingest /v1/batch (" + std::to_string(options.batch) + "/batch, " +
             std::to_string(options.connections) + " conn)",
         grouped(rate) + " events/s (" + grouped(static_cast<double>(lines.size())) + " events, " +
             fixed(result.seconds, 1) + " s)",
         ">= 50,000 events/s", rate >= 50'000 && result.failed == 0);
  note("requests ok " + std::to_string(result.requests_ok) + ", failed " +
       std::to_string(result.failed) +
       (result.first_error.empty() ? "" : " (" + result.first_error.substr(0, 200) + ")") +
       "; accepted " + grouped(static_cast<double>(result.accepted)) + ", duplicates " +
       grouped(static_cast<double>(result.duplicates)));
  note("ack latency under full load: p50 " + fixed(percentile(result.latencies, 0.5) * 1000, 1) +
       " ms, p99 " + fixed(percentile(result.latencies, 0.99) * 1000, 1) + " ms; daemon VmHWM " +
       grouped(static_cast<double>(memory.hwm_kb) / 1024) + " MB; daemon CPU " + fixed(cpu, 1) +
       " s (" + fixed(cpu * 1e6 / static_cast<double>(lines.size()), 1) + " us/event)");
  // Durability: kill at once after the last answer; every acknowledged event must be stored.
  daemon.stop(SIGKILL);
  auto stored = count_rows(dir.path() / "journey.db", "SELECT COUNT(*) FROM events");
  figure(
      "acknowledged events stored after SIGKILL",
      grouped(static_cast<double>(stored)) + " of " + grouped(static_cast<double>(result.accepted)),
      "all", stored >= static_cast<long>(result.accepted));
}

void latency_phase(const Options& options, const std::vector<std::string>& lines) {
  WorkDir dir(options, "latency");
  prepare(options, dir, options.welcome_journey, false);
  auto events = static_cast<std::size_t>(options.latency_rate * options.latency_seconds);
  if (events > lines.size()) {
    die("the latency phase needs " + std::to_string(events) + " events; raise --customers");
  }
  auto requests = batch_requests(lines, options.batch, events);
  Daemon daemon(options, dir);
  double interval = static_cast<double>(options.batch) / options.latency_rate;
  auto result = drive({daemon.port()}, requests, options.latency_connections, interval);
  auto p99 = percentile(result.latencies, 0.99);
  figure("ack latency p99 at " + grouped(options.latency_rate) + " events/s",
         fixed(p99 * 1000, 1) + " ms (p50 " + fixed(percentile(result.latencies, 0.5) * 1000, 1) +
             ", max " + fixed(percentile(result.latencies, 1.0) * 1000, 1) + ", " +
             std::to_string(requests.size()) + " batches)",
         "< 50 ms", p99 < 0.050 && result.failed == 0);
  note("offered " + grouped(static_cast<double>(events) / result.seconds) + " events/s for " +
       fixed(result.seconds, 1) + " s; latest send " + fixed(result.max_send_lag * 1000, 1) +
       " ms after its slot; failed " + std::to_string(result.failed) +
       (result.first_error.empty() ? "" : " (" + result.first_error.substr(0, 200) + ")"));
}

void waits_phase(const Options& options) {
  WorkDir dir(options, "waits");
  prepare(options, dir, options.wait_journey, true);
  const auto n = options.waits;
  double assumed = options.wait_ingest_rate > 0
                       ? options.wait_ingest_rate
                       : (g_measured_ingest > 0 ? 0.5 * g_measured_ingest : 15'000);
  // The instant every wait comes due, and the signups stamped one hour (the wait) before it.
  Millis due = (wall_ms() + static_cast<Millis>(
                                (static_cast<double>(n) / assumed + options.wait_margin) * 1000)) /
                   1000 * 1000 +
               1000;
  auto stamp = journey::engine::format_timestamp(due - 3'600'000);
  std::vector<std::string> lines;
  lines.reserve(n);
  char id[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(id, sizeof id, "w%07zu", i + 1);
    lines.push_back(std::string("{\"type\":\"track\",\"event\":\"signup\",\"userId\":\"") + id +
                    "\",\"timestamp\":\"" + stamp + "\",\"messageId\":\"" + id + "-1\"}");
  }
  auto requests = batch_requests(lines, options.batch);
  lines.clear();
  lines.shrink_to_fit();

  Memory baseline;
  {
    Daemon first(options, dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    baseline = first.memory();
    auto result = drive({first.port()}, requests, options.connections, 0);
    double rate = static_cast<double>(result.accepted + result.duplicates) / result.seconds;
    note("waits: " + grouped(static_cast<double>(result.accepted)) + " signups ingested at " +
         grouped(rate) + " events/s (failed requests " + std::to_string(result.failed) +
         "); fresh daemon VmRSS " + fixed(static_cast<double>(baseline.rss_kb) / 1024, 1) +
         " MB, after ingest VmRSS " + fixed(static_cast<double>(first.memory().rss_kb) / 1024, 1) +
         " MB");
    first.stop(SIGKILL);
  }
  requests.clear();
  requests.shrink_to_fit();
  if (wall_ms() > due - 3000) {
    figure("waits", "the waits came due during the ingest", "n/a", false);
    note("raise --wait-margin or lower --wait-ingest-rate");
    return;
  }

  // Restart after SIGKILL with every wait pending: until an event is acknowledged again.
  Daemon daemon(options, dir);
  Connection probe(daemon.port());
  double ready = -1;
  for (int i = 0; i < 3000 && ready < 0; ++i) {
    auto answer = probe.call(post_request(
        "/v1/track", R"({"event":"ping","userId":"restart-probe","messageId":"probe-)" +
                         std::to_string(i) + "\"}"));
    if (answer.status == 200)
      ready = since(daemon.started_at());
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto pending = metric(probe, "journey_timers_pending");
  figure("restart (SIGKILL) with " + grouped(static_cast<double>(n)) + " pending waits",
         fixed(ready, 2) + " s to the first acknowledged event (listening after " +
             fixed(daemon.listening_after(), 2) + " s)",
         "< 5 s", ready >= 0 && ready < 5);
  note("journey_timers_pending after restart: " + grouped(pending));

  // Memory per pending wait: the restarted daemon just before the instant, the window loaded.
  while (wall_ms() < due - 1500) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto in_memory = metric(probe, "journey_timers_in_memory");
  auto before = daemon.memory();
  double per_wait =
      static_cast<double>(before.rss_kb - baseline.rss_kb) * 1024 / static_cast<double>(n);
  figure("memory per pending wait",
         fixed(per_wait, 0) + " B (VmRSS " + fixed(static_cast<double>(before.rss_kb) / 1024, 1) +
             " MB - fresh " + fixed(static_cast<double>(baseline.rss_kb) / 1024, 1) + " MB, / " +
             grouped(static_cast<double>(n)) + ")",
         "<= 200 B", per_wait <= 200);
  note("wake-ups held in memory just before the instant: " + grouped(in_memory));

  // The instant: watch the fired counter and the sink.
  const auto sink = dir.path() / "actions.ndjson";
  std::size_t delivered = 0;
  std::uintmax_t offset = 0;
  double all_fired = -1;
  double all_delivered = -1;
  double fired = 0;
  Millis deadline =
      due + static_cast<Millis>(std::max(120.0, static_cast<double>(n) / 2000) * 1000);
  while (wall_ms() < due) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  long peak_rss = 0;
  auto cpu_before = daemon.cpu_seconds();
  double cpu_fired = -1;
  while (wall_ms() < deadline && (all_fired < 0 || all_delivered < 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    double at = static_cast<double>(wall_ms() - due) / 1000;
    if (all_fired < 0) {
      fired = metric(probe, "journey_timers_fired_total");
      if (fired >= static_cast<double>(n)) {
        all_fired = at;
        cpu_fired = daemon.cpu_seconds() - cpu_before;
      }
    }
    std::ifstream in(sink, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    delivered += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    offset += chunk.size();
    if (all_delivered < 0 && delivered >= n) all_delivered = at;
    peak_rss = std::max(peak_rss, daemon.memory().rss_kb);
  }
  double fire_rate = all_fired > 0 ? static_cast<double>(n) / all_fired : 0;
  figure(grouped(static_cast<double>(n)) + " waits due at one instant: fired",
         all_fired > 0 ? grouped(fire_rate) + " waits/s (all fired " + fixed(all_fired, 1) +
                             " s after the instant)"
                       : "only " + grouped(fired) + " fired before the time limit",
         ">= 50,000 waits/s", fire_rate >= 50'000);
  note(all_delivered > 0
           ? "every send in the sink " + fixed(all_delivered, 1) + " s after the instant (" +
                 grouped(static_cast<double>(n) / all_delivered) + " sends/s end to end)"
           : "only " + grouped(static_cast<double>(delivered)) + " sends reached the sink in time");
  if (cpu_fired >= 0) {
    note("daemon CPU until all fired " + fixed(cpu_fired, 1) + " s (" +
         fixed(cpu_fired * 1e6 / static_cast<double>(n), 1) + " us/wake-up)");
  }
  note("daemon VmRSS peak while firing " + fixed(static_cast<double>(peak_rss) / 1024, 1) +
       " MB, VmHWM " + fixed(static_cast<double>(daemon.memory().hwm_kb) / 1024, 1) + " MB");
  int code = daemon.stop(SIGTERM);
  // Exactly one send per customer in the sink.
  std::ifstream in(sink);
  std::string line;
  std::set<std::string> ids;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    ++count;
    auto at = line.find("\"action_id\":\"");
    if (at != std::string::npos)
      ids.insert(line.substr(at + 13, line.find('"', at + 13) - at - 13));
  }
  figure("sends in the sink after SIGTERM (exit " + std::to_string(code) + ")",
         grouped(static_cast<double>(count)) + " lines, " +
             grouped(static_cast<double>(ids.size())) + " distinct action ids",
         grouped(static_cast<double>(n)) + " each", count == n && ids.size() == n);
}

Options parse(int argc, char** argv) {
  Options options;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) die(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto number = [&](int& i) -> double {
    auto text = value(i);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || v < 0)
      die(std::string(argv[i - 1]) + ": not a number: " + text);
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--journey")
      options.journey_bin = value(i);
    else if (arg == "--generate")
      options.generate_bin = value(i);
    else if (arg == "--welcome")
      options.welcome_journey = value(i);
    else if (arg == "--wait")
      options.wait_journey = value(i);
    else if (arg == "--work")
      options.work_dir = value(i);
    else if (arg == "--phases") {
      options.phases.clear();
      std::stringstream list(value(i));
      std::string phase;
      while (std::getline(list, phase, ',')) {
        if (phase != "ingest" && phase != "latency" && phase != "waits")
          die("unknown phase `" + phase + "`");
        options.phases.insert(phase);
      }
    } else if (arg == "--customers")
      options.customers = static_cast<int>(number(i));
    else if (arg == "--anonymous")
      options.anonymous = static_cast<int>(number(i));
    else if (arg == "--batch")
      options.batch = static_cast<std::size_t>(number(i));
    else if (arg == "--connections")
      options.connections = static_cast<int>(number(i));
    else if (arg == "--latency-rate")
      options.latency_rate = number(i);
    else if (arg == "--latency-seconds")
      options.latency_seconds = number(i);
    else if (arg == "--waits")
      options.waits = static_cast<std::size_t>(number(i));
    else if (arg == "--wait-margin")
      options.wait_margin = number(i);
    else if (arg == "--wait-ingest-rate")
      options.wait_ingest_rate = number(i);
    else if (arg == "--shards")
      options.shards = static_cast<int>(number(i));
    else if (arg == "--threads")
      options.threads = static_cast<int>(number(i));
    else if (arg == "--extra-toml")
      options.extra_toml = value(i);
    else if (arg == "--keep")
      options.keep = true;
    else
      die("unknown option `" + arg + "`\n" + kUsage);
  }
  if (options.journey_bin.empty() || options.generate_bin.empty() ||
      options.welcome_journey.empty() || options.wait_journey.empty()) {
    die(std::string("--journey, --generate, --welcome and --wait are required\n") + kUsage);
  }
  // The daemon runs in its own folder: paths given relative to here must still find things.
  for (auto* path : {&options.journey_bin, &options.generate_bin, &options.welcome_journey,
                     &options.wait_journey}) {
    std::error_code ec;
    if (!fs::exists(*path, ec)) die("no such file: " + *path);
    *path = fs::absolute(*path).string();
  }
  if (options.batch == 0 || options.connections <= 0 || options.latency_connections <= 0 ||
      options.latency_rate <= 0 || options.waits == 0 || options.customers <= 0) {
    die("sizes, rates and counts must be positive");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) try {
  auto options = parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> lines;
  if (options.phases.count("ingest") || options.phases.count("latency")) {
    lines = generate(options);
    std::cout << "data: " << grouped(options.customers) << " generated customers, "
              << grouped(static_cast<double>(lines.size())) << " events" << std::endl;
  }
  if (options.phases.count("ingest")) ingest_phase(options, lines);
  if (options.phases.count("latency")) latency_phase(options, lines);
  if (options.phases.count("waits")) waits_phase(options);
  return 0;
} catch (const std::exception& e) {
  die(e.what());
}

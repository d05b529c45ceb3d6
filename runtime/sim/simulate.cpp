#include "runtime/sim/simulate.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <mutex>
#include <ostream>
#include <queue>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/hash.hpp"
#include "engine/state.hpp"
#include "runtime/common/config.hpp"
#include "runtime/common/json_guard.hpp"
#include "runtime/sim/event_scan.hpp"
#include "runtime/sim/spill.hpp"

namespace journey::runtime {
namespace {

constexpr std::size_t kStreamPartitions = 64;  // when the input size is unknown
constexpr std::size_t kMaxPartitions = 256;
constexpr std::size_t kMaxRanges = 4;  // reading threads (each has a file per partition)
constexpr std::size_t kBlock = std::size_t{4} << 20;  // input read size
constexpr std::size_t kMergeBlock = std::size_t{256} << 10;

// ---- Records --------------------------------------------------------------------------------

enum class Kind : std::uint8_t { Track, Identify, Profile };

// The fixed head of a partition record; the customer id, event name, messageId and properties
// JSON text follow it.
struct Head {
  engine::Millis at = 0;
  std::uint64_t seq = 0;  // input order: the line's byte offset (profiles: their line number)
  std::uint32_t customer = 0;
  std::uint32_t name = 0;
  std::uint32_t message = 0;
  std::uint32_t properties = 0;
  Kind kind = Kind::Track;
};

// One record, read back: its sort key and where its bytes are (32 bytes, many are held).
struct Ref {
  std::uint64_t hash = 0;  // of the customer id
  engine::Millis at = 0;
  std::uint64_t seq = 0;
  const char* bytes = nullptr;
};

// A record's fields, as views into its bytes.
struct Fields {
  Kind kind = Kind::Track;
  std::string_view customer;
  std::string_view name;
  std::string_view message;
  std::string_view properties;
};

std::uint64_t customer_hash(std::string_view customer) {
  return engine::stable_hash(customer, 0);
}

void put_record(Spill& spill, std::string& scratch, Head head, std::string_view customer,
                std::string_view name, std::string_view message, std::string_view properties) {
  head.customer = static_cast<std::uint32_t>(customer.size());
  head.name = static_cast<std::uint32_t>(name.size());
  head.message = static_cast<std::uint32_t>(message.size());
  head.properties = static_cast<std::uint32_t>(properties.size());
  scratch.clear();
  scratch.append(reinterpret_cast<const char*>(&head), sizeof head);
  scratch.append(customer).append(name).append(message).append(properties);
  spill.add(scratch);
}

Fields fields_of(const char* bytes) {
  Head head;
  std::memcpy(&head, bytes, sizeof head);
  const char* p = bytes + sizeof head;
  Fields f;
  f.kind = head.kind;
  f.customer = std::string_view(p, head.customer);
  p += head.customer;
  f.name = std::string_view(p, head.name);
  p += head.name;
  f.message = std::string_view(p, head.message);
  p += head.message;
  f.properties = std::string_view(p, head.properties);
  return f;
}

Ref ref_of(std::string_view bytes) {
  Head head;
  std::memcpy(&head, bytes.data(), sizeof head);
  return Ref{customer_hash(bytes.substr(sizeof head, head.customer)), head.at, head.seq,
             bytes.data()};
}

// ---- Pass 1: reading ------------------------------------------------------------------------

// The parser's message without nlohmann's "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const std::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const auto close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
  }
  return "invalid JSON: " + what;
}

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

struct LineError {
  std::uint64_t line = 0;
  std::string message;
};

// What one reading thread produced: its records by partition, and its malformed lines.
struct Reading {
  std::vector<Spill> parts;
  std::vector<LineError> errors;  // line numbers within the thread's range, from 1
  std::uint64_t lines = 0;
  std::size_t events = 0;
  std::optional<engine::Millis> last_at;
  std::string scratch;
};

class Reader {
 public:
  Reader(const engine::Engine& engine, const SimulateOptions& options, std::size_t partitions)
      : engine_(engine), options_(options), partitions_(partitions) {}

  // One event line: checked, then written to its customer's partition. `seq` orders lines.
  void event_line(std::string_view text, std::uint64_t seq, Reading& out) const {
    const std::uint64_t number = ++out.lines;
    if (blank(text)) return;
    std::optional<ScannedEvent> scanned = scan_event(text);
    engine::Event slow;  // the slow path's event, which the views point into
    std::string slow_properties;
    if (!scanned) {
      std::string problem;
      if (auto limit = check_json_limits(text, Limits{}.json_depth)) {
        out.errors.push_back({number, limit->path + ": " + limit->message});
        return;
      }
      try {
        auto parsed = engine::parse_event(nlohmann::json::parse(text.begin(), text.end()));
        if (const auto* e = std::get_if<engine::EventError>(&parsed)) {
          problem = e->path + ": " + e->message;
        } else {
          slow = std::move(std::get<engine::Event>(parsed));
        }
      } catch (const nlohmann::json::exception& e) {
        problem = json_error_text(e);
      }
      if (!problem.empty()) {
        out.errors.push_back({number, std::move(problem)});
        return;
      }
      slow_properties = slow.properties.dump();
      scanned = ScannedEvent{slow.type, slow.customer_id, slow.name,
                             slow.at,   slow.message_id,  slow_properties};
    }
    const ScannedEvent& ev = *scanned;
    ++out.events;
    if (!out.last_at || ev.at > *out.last_at) out.last_at = ev.at;
    if (options_.only_customer && ev.customer_id != *options_.only_customer) return;
    // Properties of events no journey reads are never looked at: they are not kept.
    const bool keep = ev.type == engine::Event::Type::Identify || engine_.reads_event(ev.name) ||
                      (options_.trace_customer && ev.customer_id == *options_.trace_customer);
    Head head;
    head.at = ev.at;
    head.seq = seq;
    head.kind = ev.type == engine::Event::Type::Identify ? Kind::Identify : Kind::Track;
    put_record(out.parts[customer_hash(ev.customer_id) % partitions_], out.scratch, head,
               ev.customer_id, ev.name, ev.message_id, keep ? ev.properties : std::string_view());
  }

  // One profile line; the problem, or empty when it was taken.
  std::string profile_line(std::string_view text, std::uint64_t seq, Reading& out) const {
    nlohmann::json j;
    if (auto limit = check_json_limits(text, Limits{}.json_depth))
      return limit->path + ": " + limit->message;
    try {
      j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
      return json_error_text(e);
    }
    if (!j.is_object()) return "$: expected a JSON object";
    const auto user = j.find("userId");
    if (user == j.end() || user->is_null()) return "$.userId: missing userId";
    if (!user->is_string() || user->get<std::string>().empty())
      return "$.userId: expected a non-empty string";
    const auto traits = j.find("traits");
    if (traits == j.end() || traits->is_null()) return "$.traits: missing traits";
    if (!traits->is_object()) return "$.traits: expected an object";
    const std::string customer = user->get<std::string>();
    if (options_.only_customer && customer != *options_.only_customer) return {};
    Head head;
    head.seq = seq;
    head.kind = Kind::Profile;
    put_record(out.parts[customer_hash(customer) % partitions_], out.scratch, head, customer, {},
               {}, traits->dump());
    return {};
  }

 private:
  const engine::Engine& engine_;
  const SimulateOptions& options_;
  std::size_t partitions_;
};

// Reads [begin, end) of a file (or the whole stream when !positional) in blocks and calls
// `line(text, offset)` for each line, without its newline.
template <typename Line>
void read_lines(int fd, bool positional, std::uint64_t begin, std::uint64_t end, Line line) {
  std::string buf(kBlock, '\0');
  std::size_t have = 0;
  std::uint64_t pos = begin;         // next file offset to read
  std::uint64_t buf_offset = begin;  // file offset of buf[0]
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than a block
    std::size_t want = buf.size() - have;
    if (positional) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, end - pos));
    ssize_t got = 0;
    if (want > 0) {
      got = positional ? ::pread(fd, buf.data() + have, want, static_cast<off_t>(pos))
                       : ::read(fd, buf.data() + have, want);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw std::runtime_error(std::string("read error: ") + std::strerror(errno));
    }
    pos += static_cast<std::uint64_t>(got);
    have += static_cast<std::size_t>(got);
    const bool done = got == 0;
    std::size_t start = 0;
    for (;;) {
      const void* nl = std::memchr(buf.data() + start, '\n', have - start);
      if (nl == nullptr) break;
      const auto stop = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
      line(std::string_view(buf.data() + start, stop - start), buf_offset + start);
      start = stop + 1;
    }
    if (done) {
      if (start < have)
        line(std::string_view(buf.data() + start, have - start), buf_offset + start);
      return;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
    buf_offset += start;
  }
}

// Where to cut a file into `n` ranges of whole lines.
std::vector<std::uint64_t> cut_points(int fd, std::uint64_t size, std::size_t n) {
  std::vector<std::uint64_t> cuts{0};
  std::string window(1 << 16, '\0');
  for (std::size_t i = 1; i < n; ++i) {
    std::uint64_t at = std::max(cuts.back(), size * i / n);
    // The cut goes just after the first newline at or after at - 1.
    std::uint64_t from = at == 0 ? 0 : at - 1;
    std::uint64_t cut = size;
    while (from < size) {
      const ssize_t got = ::pread(fd, window.data(), window.size(), static_cast<off_t>(from));
      if (got <= 0) break;
      if (const void* nl = std::memchr(window.data(), '\n', static_cast<std::size_t>(got))) {
        cut = from + static_cast<std::uint64_t>(static_cast<const char*>(nl) - window.data()) + 1;
        break;
      }
      from += static_cast<std::uint64_t>(got);
    }
    cuts.push_back(cut);
  }
  cuts.push_back(size);
  return cuts;
}

// Each partition may keep a temporary file per reading thread and one for its actions: raise
// the soft limit on open files towards the hard one when that needs more than it allows.
void allow_open_files(std::size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, needed);
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

class FileHandle {
 public:
  explicit FileHandle(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Runs `work(i)` for i in [0, n) on up to `threads` threads; rethrows the first failure.
template <typename Work>
void run_parallel(std::size_t n, unsigned threads, Work work) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex lock;
  const auto loop = [&] {
    try {
      for (std::size_t i; (i = next++) < n;) work(i);
    } catch (...) {
      const std::lock_guard<std::mutex> guard(lock);
      if (!failure) failure = std::current_exception();
      next = n;
    }
  };
  const std::size_t count = std::min<std::size_t>(std::max(1U, threads), n);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < count; ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

// ---- Pass 2: running ------------------------------------------------------------------------

// What one partition produced.
struct PartitionOutput {
  explicit PartitionOutput(std::size_t memory) : actions(memory) {}
  Spill actions;  // [at][customer length][customer][line], in output order
  FunnelReport report;
  std::vector<engine::Record> errors;
  std::vector<engine::TraceLine> trace;
  std::size_t customers = 0;
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::size_t>> in_flight;
};

struct PendingAction {
  engine::Millis at = 0;
  std::string_view customer;
  std::size_t order = 0;  // production order: a customer's actions in engine order
  std::string line;
};

class Runner {
 public:
  Runner(const engine::Engine& engine, const SimulateOptions& options, engine::Millis horizon,
         engine::Millis recurring_until)
      : engine_(engine), options_(options), horizon_(horizon), recurring_until_(recurring_until) {}

  void run(std::vector<Reading>& readings, std::size_t partition, PartitionOutput& out) const {
    std::size_t bytes = 0;
    for (const auto& r : readings) bytes += r.parts[partition].bytes();
    std::string arena;
    arena.reserve(bytes);
    for (auto& r : readings) r.parts[partition].take_all(arena);
    std::vector<Ref> refs;
    Spill::for_each(arena, [&refs](std::string_view rec) { refs.push_back(ref_of(rec)); });
    // Customers in hash order (any fixed order will do: the output is sorted later), each
    // customer's profiles first, then events by time, ties in input order.
    std::sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
      if (a.hash != b.hash) return a.hash < b.hash;
      const Fields fa = fields_of(a.bytes);
      const Fields fb = fields_of(b.bytes);
      if (fa.customer != fb.customer) return fa.customer < fb.customer;
      const bool a_event = fa.kind != Kind::Profile;
      const bool b_event = fb.kind != Kind::Profile;
      if (a_event != b_event) return b_event;
      if (a.at != b.at) return a.at < b.at;
      return a.seq < b.seq;
    });
    std::vector<PendingAction> actions;
    std::vector<engine::Record> records;
    for (std::size_t i = 0; i < refs.size();) {
      std::size_t j = i + 1;
      const std::string_view customer = fields_of(refs[i].bytes).customer;
      while (j < refs.size() && refs[j].hash == refs[i].hash &&
             fields_of(refs[j].bytes).customer == customer)
        ++j;
      run_customer(refs.data() + i, refs.data() + j, actions, records, out);
      i = j;
    }
    std::sort(actions.begin(), actions.end(), [](const PendingAction& a, const PendingAction& b) {
      if (a.at != b.at) return a.at < b.at;
      if (a.customer != b.customer) return a.customer < b.customer;
      return a.order < b.order;
    });
    std::string scratch;
    for (const auto& a : actions) {
      const auto length = static_cast<std::uint32_t>(a.customer.size());
      scratch.clear();
      scratch.append(reinterpret_cast<const char*>(&a.at), sizeof a.at);
      scratch.append(reinterpret_cast<const char*>(&length), sizeof length);
      scratch.append(a.customer).append(a.line);
      out.actions.add(scratch);
    }
  }

 private:
  // One customer from a fresh state: profile, events in order, then timers up to the horizon.
  void run_customer(const Ref* first, const Ref* last, std::vector<PendingAction>& actions,
                    std::vector<engine::Record>& records, PartitionOutput& out) const {
    const std::string_view customer = fields_of(first->bytes).customer;
    ++out.customers;
    const bool tracing = options_.trace_customer && *options_.trace_customer == customer;
    auto state = engine::new_customer(std::string(customer));
    if (fields_of(first->bytes).kind == Kind::Profile) {
      nlohmann::json profile = nlohmann::json::object();
      for (; first != last && fields_of(first->bytes).kind == Kind::Profile; ++first) {
        const std::string_view text = fields_of(first->bytes).properties;
        const auto traits = nlohmann::json::parse(text.begin(), text.end());
        for (const auto& [key, value] : traits.items()) profile[key] = value;
      }
      engine::seed_profile(*state, profile);
    }
    records.clear();
    const auto take = [&](engine::Outcome&& outcome) {
      for (auto& a : outcome.actions) {
        if (options_.actions)
          actions.push_back({a.at, customer, actions.size(), engine::to_json_line(a)});
      }
      for (auto& r : outcome.records) records.push_back(std::move(r));
      if (tracing) {
        for (auto& t : outcome.trace) out.trace.push_back(std::move(t));
      }
    };
    engine::Event ev;
    ev.customer_id = std::string(customer);
    bool has_properties = false;
    for (; first != last; ++first) {
      if (first->at > horizon_) break;
      const Fields f = fields_of(first->bytes);
      ev.type =
          f.kind == Kind::Identify ? engine::Event::Type::Identify : engine::Event::Type::Track;
      ev.name.assign(f.name);
      ev.at = first->at;
      ev.message_id.assign(f.message);
      if (!f.properties.empty()) {
        ev.properties = nlohmann::json::parse(f.properties.begin(), f.properties.end());
        has_properties = true;
      } else if (has_properties) {
        ev.properties = nlohmann::json::object();
        has_properties = false;
      }
      take(engine_.on_event(*state, ev, tracing));
    }
    if (state->known) take(engine_.advance(*state, horizon_, recurring_until_, tracing));
    for (const auto& [name, run] : state->runs) ++out.in_flight[{name, run.version}][run.step];
    if (options_.report) out.report.add_customer(records, *state);
    for (const auto& r : records) {
      if (r.kind == engine::Record::Kind::Error) out.errors.push_back(r);
    }
  }

  const engine::Engine& engine_;
  const SimulateOptions& options_;
  engine::Millis horizon_;
  engine::Millis recurring_until_;
};

// Merges the partitions' sorted actions into one stream ordered by (time, customer id).
void merge_actions(const std::vector<PartitionOutput>& parts, const ActionSink& on_action) {
  struct Head {
    engine::Millis at;
    std::string_view customer;
    std::string_view line;
    std::size_t part;
  };
  const auto decode = [](std::string_view rec, std::size_t part) {
    Head h{};
    std::uint32_t length = 0;
    std::memcpy(&h.at, rec.data(), sizeof h.at);
    std::memcpy(&length, rec.data() + sizeof h.at, sizeof length);
    const std::size_t skip = sizeof h.at + sizeof length;
    h.customer = rec.substr(skip, length);
    h.line = rec.substr(skip + length);
    h.part = part;
    return h;
  };
  const auto later = [](const Head& a, const Head& b) {
    if (a.at != b.at) return a.at > b.at;
    return a.customer > b.customer;
  };
  std::vector<Spill::Cursor> cursors;
  cursors.reserve(parts.size());
  std::priority_queue<Head, std::vector<Head>, decltype(later)> heap(later);
  for (std::size_t p = 0; p < parts.size(); ++p) {
    cursors.emplace_back(parts[p].actions, kMergeBlock);
    std::string_view rec;
    if (cursors.back().next(rec)) heap.push(decode(rec, p));
  }
  while (!heap.empty()) {
    const Head top = heap.top();
    heap.pop();
    on_action(top.line);
    std::string_view rec;
    if (cursors[top.part].next(rec)) heap.push(decode(rec, top.part));
  }
}

// Reads the profiles file (one thread) into `reading`; false when it cannot be read or
// (strict) a line is malformed.
bool read_profiles(const Reader& reader, const SimulateOptions& options, Reading& reading,
                   SimulationResult& result, std::ostream& err) {
  std::ifstream in(options.profiles, std::ios::binary);
  if (!in) {
    err << options.profiles << ": cannot read the file\n";
    return false;
  }
  std::string line;
  std::uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (blank(line)) continue;
    const std::string problem = reader.profile_line(line, number, reading);
    if (problem.empty()) continue;
    err << options.profiles << ":" << number << ": " << problem << "\n";
    if (options.strict) return false;
    ++result.skipped;
  }
  return true;
}

}  // namespace

SimulationResult simulate(const engine::Engine& engine, const SimulateOptions& options,
                          const ActionSink& on_action, std::ostream& err) {
  SimulationResult result;
  try {
    const FileHandle file(options.events);
    struct stat info {};
    if (file.fd() < 0 || ::fstat(file.fd(), &info) != 0 || S_ISDIR(info.st_mode)) {
      err << options.events << ": cannot read the file\n";
      return result;
    }
    const bool regular = S_ISREG(info.st_mode);
    const auto size = static_cast<std::uint64_t>(info.st_size);
    const unsigned threads = std::max(1U, options.threads);
    std::size_t partitions =
        regular ? static_cast<std::size_t>(size / std::max<std::size_t>(options.partition_bytes, 1))
                : kStreamPartitions;
    partitions = std::clamp<std::size_t>(
        std::max<std::size_t>(partitions, threads > 1 ? threads * 4 : 1), 1, kMaxPartitions);
    // Cut a file into one range per thread; a stream is read by one.
    const std::vector<std::uint64_t> cuts =
        regular && threads > 1
            ? cut_points(file.fd(), size, std::min<std::size_t>(threads, kMaxRanges))
            : std::vector<std::uint64_t>{0, size};
    const std::size_t ranges = cuts.size() - 1;
    const std::size_t spill_memory = options.memory_budget / (partitions * ranges);
    allow_open_files(partitions * (ranges + 1) + 64);
    std::vector<Reading> readings(ranges);
    for (auto& r : readings) {
      r.parts.reserve(partitions);
      for (std::size_t p = 0; p < partitions; ++p) r.parts.emplace_back(spill_memory);
    }
    const Reader reader(engine, options, partitions);

    // Pass 1: read.
    if (!options.profiles.empty() && !read_profiles(reader, options, readings[0], result, err))
      return result;
    run_parallel(ranges, threads, [&](std::size_t i) {
      read_lines(file.fd(), regular, cuts[i], cuts[i + 1],
                 [&](std::string_view text, std::uint64_t offset) {
                   reader.event_line(text, offset, readings[i]);
                 });
    });
    std::uint64_t lines_before = 0;
    std::optional<engine::Millis> last_event_at;
    for (auto& r : readings) {
      for (const auto& e : r.errors) {
        err << options.events << ":" << lines_before + e.line << ": " << e.message << "\n";
        if (options.strict) return result;
        ++result.skipped;
      }
      lines_before += r.lines;
      result.events += r.events;
      if (r.last_at && (!last_event_at || *r.last_at > *last_event_at)) last_event_at = r.last_at;
      r.errors = {};
    }

    // Pass 2: run, partition by partition.
    const engine::Millis horizon =
        options.until ? *options.until
        : options.until_last_event
            ? last_event_at.value_or(std::numeric_limits<engine::Millis>::min())
            : std::numeric_limits<engine::Millis>::max();
    const engine::Millis recurring_until =
        options.until ? *options.until
                      : last_event_at.value_or(std::numeric_limits<engine::Millis>::min());
    const Runner runner(engine, options, horizon, recurring_until);
    std::vector<PartitionOutput> outputs;
    outputs.reserve(partitions);
    for (std::size_t p = 0; p < partitions; ++p)
      outputs.emplace_back(options.memory_budget / 4 / partitions);
    run_parallel(partitions, threads, [&](std::size_t p) { runner.run(readings, p, outputs[p]); });
    readings.clear();

    if (options.actions) merge_actions(outputs, on_action);
    for (auto& out : outputs) {
      result.report.merge(out.report);
      result.customers += out.customers;
      for (auto& r : out.errors) result.errors.push_back(std::move(r));
      for (auto& t : out.trace) result.trace.push_back(std::move(t));
      for (const auto& [key, steps] : out.in_flight) {
        for (const auto& [step, n] : steps) result.in_flight[key][step] += n;
      }
    }
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const engine::Record& a, const engine::Record& b) {
                       return a.customer_id < b.customer_id;
                     });
    result.ok = true;
  } catch (const std::exception& e) {
    err << options.events << ": " << e.what() << "\n";
    result.ok = false;
  }
  return result;
}

std::string render_trace(const std::vector<engine::TraceLine>& trace,
                         const std::optional<std::string>& journey) {
  std::string out;
  for (const auto& t : trace) {
    if (journey && !t.journey.empty() && t.journey != *journey) continue;
    out += engine::format_timestamp(t.at) + "  " + (t.journey.empty() ? "" : t.journey + ": ") +
           t.message + "\n";
  }
  return out;
}

}  // namespace journey::runtime

#include "runtime/sim/simulate.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <mutex>
#include <ostream>
#include <queue>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

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
  bool anonymous = false;  // the customer id is an anonymousId
};

// One record, read back: its sort key and where its bytes are (40 bytes, many are held).
struct Ref {
  std::uint64_t hash = 0;  // of the customer id (of the person's representative, in a person)
  engine::Millis at = 0;
  std::uint64_t seq = 0;
  const char* bytes = nullptr;
  std::uint32_t person = UINT32_MAX;  // its person's representative, if linked (IdentityPlan)
};

// A record's fields, as views into its bytes.
struct Fields {
  Kind kind = Kind::Track;
  bool anonymous = false;
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
  f.anonymous = head.anonymous;
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

// A line's statement that two ids are one person: a userId with an anonymousId (`a`, `b`), an
// alias (userId, previousId), or an identify's identity key (customer, "KEY=VALUE").
struct LinkFact {
  engine::Millis at = 0;
  std::uint64_t seq = 0;  // input order, as Head::seq
  std::uint32_t sub = 0;  // order within the line
  enum class Kind : std::uint8_t { AnonymousId, Alias, Key } kind = Kind::AnonymousId;
  std::string a;
  std::string b;
};

bool fact_before(const LinkFact& x, const LinkFact& y) {
  return std::tie(x.at, x.seq, x.sub) < std::tie(y.at, y.seq, y.sub);
}

// The links a reading found. A link its lines repeat (every event after a login may carry both
// ids) is kept once, at its first place in input order: a repeat would change nothing.
struct LinkFacts {
  std::vector<LinkFact> facts;
  std::unordered_map<std::uint64_t, std::uint32_t> index;  // hash of (a, b, kind) -> fact

  void add(LinkFact fact) {
    const std::uint64_t key = engine::stable_hash(fact.b, engine::stable_hash(fact.a, 0)) ^
                              static_cast<std::uint64_t>(fact.kind);
    const auto [it, fresh] = index.try_emplace(key, static_cast<std::uint32_t>(facts.size()));
    if (!fresh) {
      LinkFact& kept = facts[it->second];
      if (kept.a == fact.a && kept.b == fact.b && kept.kind == fact.kind) {
        if (fact_before(fact, kept)) kept = std::move(fact);
        return;
      }
    }
    facts.push_back(std::move(fact));  // new, or a hash shared by another link: both are kept
  }
};

// What one reading thread produced: its records by partition, and its malformed lines.
struct Reading {
  LinkFacts links;
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
      : engine_(engine), options_(options), partitions_(partitions) {
    link_fields_ = {"\"anonymousId\"", "\"previousId\""};
    for (const auto& key : options.identity.keys) link_fields_.push_back("\"" + key + "\"");
  }

  // One event line: checked, then written to its customer's partition. `seq` orders lines.
  void event_line(std::string_view text, std::uint64_t seq, Reading& out) const {
    const std::uint64_t number = ++out.lines;
    if (blank(text) || (links_only_ && !may_link(text))) return;
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
      scanned = scanned_from(slow, slow_properties);
    }
    const ScannedEvent& ev = *scanned;
    ++out.events;
    if (!out.last_at || ev.at > *out.last_at) out.last_at = ev.at;
    gather_links(ev, seq, out);
    if (links_only_ || ev.type == engine::Event::Type::Alias) return;  // a link only
    if (only_ids_ != nullptr && only_ids_->count(std::string(ev.customer_id)) == 0) return;
    // Properties of events no journey reads are never looked at: they are not kept.
    const bool keep = ev.type == engine::Event::Type::Identify || engine_.reads_event(ev.name) ||
                      (options_.trace_customer &&
                       (only_ids_ != nullptr || ev.customer_id == *options_.trace_customer));
    Head head;
    head.at = ev.at;
    head.seq = seq;
    head.kind = ev.type == engine::Event::Type::Identify ? Kind::Identify : Kind::Track;
    head.anonymous = ev.anonymous;
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
    if (only_ids_ != nullptr && only_ids_->count(customer) == 0) return {};
    Head head;
    head.seq = seq;
    head.kind = Kind::Profile;
    put_record(out.parts[customer_hash(customer) % partitions_], out.scratch, head, customer, {},
               {}, traits->dump());
    return {};
  }

  /// Keeps only the records of these ids (explain: the ids of one person).
  void keep_only(const std::unordered_set<std::string>* ids) { only_ids_ = ids; }
  /// Gathers links and keeps no records (explain's first pass: who is the same person).
  void links_only(bool on) { links_only_ = on; }

 private:
  // Whether a line may state a link: the others are not read in a links-only pass.
  bool may_link(std::string_view text) const {
    return std::any_of(link_fields_.begin(), link_fields_.end(), [text](const std::string& field) {
      return text.find(field) != std::string_view::npos;
    });
  }

  // The links a line states (identity.hpp).
  void gather_links(const ScannedEvent& ev, std::uint64_t seq, Reading& out) const {
    const auto fact = [&](LinkFact::Kind kind, std::string_view a, std::string_view b,
                          std::uint32_t sub) {
      out.links.add({ev.at, seq, sub, kind, std::string(a), std::string(b)});
    };
    if (ev.type == engine::Event::Type::Alias) {
      if (ev.previous_id != ev.customer_id)
        fact(LinkFact::Kind::Alias, ev.customer_id, ev.previous_id, 0);
      return;
    }
    if (!ev.anonymous && !ev.anonymous_id.empty() && ev.anonymous_id != ev.customer_id)
      fact(LinkFact::Kind::AnonymousId, ev.customer_id, ev.anonymous_id, 0);
    if (ev.type != engine::Event::Type::Identify || options_.identity.keys.empty() ||
        ev.properties.empty())
      return;
    const auto traits = nlohmann::json::parse(ev.properties.begin(), ev.properties.end());
    std::uint32_t sub = 0;
    for (const auto& claim : engine::key_claims(options_.identity, traits))
      fact(LinkFact::Kind::Key, ev.customer_id, claim, ++sub);
  }

  const engine::Engine& engine_;
  const SimulateOptions& options_;
  std::size_t partitions_;
  const std::unordered_set<std::string>* only_ids_ = nullptr;
  bool links_only_ = false;
  std::vector<std::string> link_fields_;  // "anonymousId", "previousId", the identity keys, quoted
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

// ---- Identity: from links to persons ---------------------------------------------------------

// A link as resolved: taken (the two customers merge at its time) or refused by the bound. Ids
// are numbers into IdentityPlan::ids.
struct PlannedLink {
  engine::Millis at = 0;
  std::uint64_t seq = 0;
  std::uint32_t sub = 0;
  std::uint32_t person = 0;  // the representative of the person it is run with
  std::uint32_t a = 0;       // the linking side (the userId, or the identify's customer)
  std::uint32_t b = 0;       // the id linked to it (a key: the id that gave the value first)
  std::uint32_t ids = 0;     // refused: the ids the person would have had
  LinkFact::Kind kind = LinkFact::Kind::AnonymousId;
  std::uint16_t key = 0;  // Key: which of the identity keys
  bool refused = false;
};

// Which ids are one person, and the links each person's ids go through, in input order. Held
// through pass 2, so it keeps to numbers and sorted vectors: about 40 bytes an id and 40 a link.
struct IdentityPlan {
  static constexpr std::uint32_t kNone = UINT32_MAX;  // as Ref::person
  // Every id a link names, by number, sorted by (customer_hash, id): the bytes of all in one
  // string, id i in names[offsets[i], offsets[i + 1]).
  std::string names;
  std::vector<std::uint32_t> offsets{0};
  std::vector<std::uint64_t> hashes;  // customer_hash of each id
  std::vector<std::uint32_t> root;    // id -> its person's representative
  std::vector<bool> linked;           // id -> in a person of two or more ids, or a refused link
  std::size_t linked_ids = 0;
  std::vector<PlannedLink> links;  // by person, then input order
  std::size_t merges = 0;
  std::size_t refused = 0;

  std::uint32_t size() const { return static_cast<std::uint32_t>(hashes.size()); }
  std::string_view id(std::uint32_t i) const {
    return std::string_view(names).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  // The number of an id, or kNone; `hash` is customer_hash(id).
  std::uint32_t number(std::string_view id, std::uint64_t hash) const {
    auto it = std::lower_bound(hashes.begin(), hashes.end(), hash);
    for (; it != hashes.end() && *it == hash; ++it) {
      const auto i = static_cast<std::uint32_t>(it - hashes.begin());
      if (this->id(i) == id) return i;
    }
    return kNone;
  }
  // The representative of a linked id's person, or kNone.
  std::uint32_t person_of(std::string_view id, std::uint64_t hash) const {
    const std::uint32_t i = number(id, hash);
    return i != kNone && linked[i] ? root[i] : kNone;
  }
  // A person's links, in input order.
  std::pair<const PlannedLink*, const PlannedLink*> links_of(std::uint32_t person) const {
    const auto from = std::partition_point(
        links.begin(), links.end(), [person](const PlannedLink& l) { return l.person < person; });
    const auto to = std::partition_point(
        from, links.end(), [person](const PlannedLink& l) { return l.person == person; });
    return {links.data() + (from - links.begin()), links.data() + (to - links.begin())};
  }
};

std::string cause_of(const PlannedLink& link, const engine::IdentityConfig& config) {
  switch (link.kind) {
    case LinkFact::Kind::AnonymousId: return "anonymousId";
    case LinkFact::Kind::Alias: return "alias";
    case LinkFact::Kind::Key: return "key " + config.keys.at(link.key);
  }
  return {};
}

IdentityPlan plan_identity(std::vector<Reading>& readings, const engine::IdentityConfig& config) {
  std::vector<LinkFact> facts;
  for (auto& r : readings) {
    for (auto& f : r.links.facts) facts.push_back(std::move(f));
    r.links = {};
  }
  IdentityPlan plan;
  if (facts.empty()) return plan;
  {
    std::vector<std::pair<std::uint64_t, std::string_view>> all;  // into `facts`, not moved yet
    for (const auto& f : facts) {
      all.emplace_back(customer_hash(f.a), f.a);
      if (f.kind != LinkFact::Kind::Key) all.emplace_back(customer_hash(f.b), f.b);
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (const auto& [hash, id] : all) {
      plan.names.append(id);
      plan.offsets.push_back(static_cast<std::uint32_t>(plan.names.size()));
      plan.hashes.push_back(hash);
    }
  }
  const auto number = [&plan](const std::string& id) { return plan.number(id, customer_hash(id)); };
  std::sort(facts.begin(), facts.end(), fact_before);
  engine::IdentityGraph graph(plan.size(), config.max_ids);
  std::unordered_map<std::string, std::uint32_t> claims;  // "KEY=VALUE" -> the first id
  for (const auto& f : facts) {
    const std::uint32_t a = number(f.a);
    const std::uint32_t b =
        f.kind == LinkFact::Kind::Key ? claims.emplace(f.b, a).first->second : number(f.b);
    if (b == a) continue;
    const auto result = graph.link(a, b);
    if (result.linked == engine::IdentityGraph::Linked::Already) continue;
    PlannedLink link{f.at, f.seq, f.sub, 0, a, b, static_cast<std::uint32_t>(result.ids), f.kind};
    if (f.kind == LinkFact::Kind::Key) {
      const auto name = f.b.substr(0, f.b.find('='));
      link.key = static_cast<std::uint16_t>(
          std::find(config.keys.begin(), config.keys.end(), name) - config.keys.begin());
    }
    link.refused = result.linked == engine::IdentityGraph::Linked::Refused;
    ++(link.refused ? plan.refused : plan.merges);
    plan.links.push_back(link);
  }
  facts = {};
  claims = {};
  plan.root.resize(plan.size());
  plan.linked.assign(plan.size(), false);
  for (std::uint32_t i = 0; i < plan.size(); ++i) plan.root[i] = graph.find(i);
  // A refused link is told to both persons; an id only in refused links is a person of one.
  const std::size_t taken = plan.links.size();
  for (std::size_t i = 0; i < taken; ++i) {
    PlannedLink& link = plan.links[i];
    link.person = plan.root[link.a];
    plan.linked[link.a] = plan.linked[link.b] = true;
    if (link.refused) {
      PlannedLink other = link;
      other.person = plan.root[link.b];
      plan.links.push_back(other);
    }
  }
  for (std::uint32_t i = 0; i < plan.size(); ++i) {
    if (plan.linked[i]) plan.linked[plan.root[i]] = true;
  }
  for (std::uint32_t i = 0; i < plan.size(); ++i) {
    plan.linked[i] = plan.linked[i] || plan.linked[plan.root[i]];
    plan.linked_ids += plan.linked[i] ? 1 : 0;
  }
  std::sort(plan.links.begin(), plan.links.end(), [](const PlannedLink& x, const PlannedLink& y) {
    return std::tie(x.person, x.at, x.seq, x.sub) < std::tie(y.person, y.at, y.seq, y.sub);
  });
  return plan;
}

// Copies the records of linked ids that sit in another partition than their person's
// representative into `inbound` of that partition; the run of their own partition skips them.
void move_linked(const IdentityPlan& plan, std::vector<Reading>& readings,
                 std::vector<Spill>& inbound) {
  const std::size_t partitions = inbound.size();
  std::vector<bool> sources(partitions, false);
  for (std::uint32_t i = 0; i < plan.size(); ++i) {
    if (plan.linked[i] && plan.hashes[plan.root[i]] % partitions != plan.hashes[i] % partitions)
      sources[plan.hashes[i] % partitions] = true;
  }
  for (std::size_t p = 0; p < partitions; ++p) {
    if (!sources[p]) continue;
    for (const auto& r : readings) {
      r.parts[p].read([&](std::string_view rec) {
        const std::string_view customer = fields_of(rec.data()).customer;
        const std::uint32_t person = plan.person_of(customer, customer_hash(customer));
        if (person == IdentityPlan::kNone) return;
        const std::size_t home = plan.hashes[person] % partitions;
        if (home != p) inbound[home].add(rec);
      });
    }
  }
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
  std::string customer;
  std::size_t order = 0;  // production order: a customer's actions in engine order
  std::string line;
};

class Runner {
 public:
  Runner(const engine::Engine& engine, const SimulateOptions& options, engine::Millis horizon,
         engine::Millis recurring_until, const IdentityPlan& plan, std::vector<Spill>& inbound)
      : engine_(engine),
        options_(options),
        horizon_(horizon),
        recurring_until_(recurring_until),
        plan_(plan),
        inbound_(inbound) {}

  void run(std::vector<Reading>& readings, std::size_t partition, PartitionOutput& out) const {
    std::size_t bytes = inbound_[partition].bytes();
    for (const auto& r : readings) bytes += r.parts[partition].bytes();
    std::string arena;
    arena.reserve(bytes);
    for (auto& r : readings) r.parts[partition].take_all(arena);
    inbound_[partition].take_all(arena);
    std::vector<Ref> refs;
    Spill::for_each(arena, [&](std::string_view rec) {
      Ref ref = ref_of(rec);
      if (plan_.linked_ids > 0) {
        ref.person = plan_.person_of(fields_of(ref.bytes).customer, ref.hash);
        if (ref.person != IdentityPlan::kNone) {
          ref.hash = plan_.hashes[ref.person];
          if (ref.hash % inbound_.size() != partition) return;  // run with its person elsewhere
        }
      }
      refs.push_back(ref);
    });
    const auto key = [this](const Ref& r) {
      return r.person != IdentityPlan::kNone ? plan_.id(r.person) : fields_of(r.bytes).customer;
    };
    // Customers (persons) in hash order (any fixed order will do: the output is sorted later),
    // each one's profiles first, then events by time, ties in input order.
    std::sort(refs.begin(), refs.end(), [&key](const Ref& a, const Ref& b) {
      if (a.hash != b.hash) return a.hash < b.hash;
      const std::string_view ka = key(a);
      const std::string_view kb = key(b);
      if (ka != kb) return ka < kb;
      const bool a_event = fields_of(a.bytes).kind != Kind::Profile;
      const bool b_event = fields_of(b.bytes).kind != Kind::Profile;
      if (a_event != b_event) return b_event;
      if (a.at != b.at) return a.at < b.at;
      return a.seq < b.seq;
    });
    std::vector<PendingAction> actions;
    std::vector<engine::Record> records;
    for (std::size_t i = 0; i < refs.size();) {
      std::size_t j = i + 1;
      const std::string_view customer = key(refs[i]);
      while (j < refs.size() && refs[j].hash == refs[i].hash && key(refs[j]) == customer) ++j;
      if (refs[i].person != IdentityPlan::kNone) {
        const std::uint32_t person = refs[i].person;
        run_person(refs.data() + i, refs.data() + j, plan_.links_of(person), actions, records, out);
      } else {
        run_customer(refs.data() + i, refs.data() + j, actions, records, out);
      }
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
  // Where one customer's (or person's) outcomes go.
  struct Take {
    const Runner& runner;
    std::vector<PendingAction>& actions;
    std::vector<engine::Record>& records;
    PartitionOutput& out;
    bool tracing;
    void operator()(engine::Outcome&& outcome) const {
      for (auto& a : outcome.actions) {
        if (runner.options_.actions)
          actions.push_back({a.at, a.customer_id, actions.size(), engine::to_json_line(a)});
      }
      for (auto& r : outcome.records) records.push_back(std::move(r));
      if (tracing) {
        for (auto& t : outcome.trace) out.trace.push_back(std::move(t));
      }
    }
  };

  // Seeds a fresh state with the profile records at [first, last) (the leading ones of its id);
  // returns the first record after them.
  static const Ref* seed(engine::CustomerState& state, const Ref* first, const Ref* last,
                         std::string_view customer) {
    nlohmann::json profile = nlohmann::json::object();
    bool any = false;
    for (; first != last && fields_of(first->bytes).kind == Kind::Profile; ++first) {
      const Fields f = fields_of(first->bytes);
      if (f.customer != customer) continue;
      const auto traits = nlohmann::json::parse(f.properties.begin(), f.properties.end());
      for (const auto& [key, value] : traits.items()) profile[key] = value;
      any = true;
    }
    if (any) engine::seed_profile(state, profile);
    return first;
  }

  // Reads a record into `ev` (its properties stay as they were when the record has none and
  // `has_properties` says they are already empty).
  static void decode(const Ref& ref, engine::Event& ev, bool& has_properties) {
    const Fields f = fields_of(ref.bytes);
    ev.type = f.kind == Kind::Identify ? engine::Event::Type::Identify : engine::Event::Type::Track;
    ev.customer_id.assign(f.customer);
    ev.anonymous = f.anonymous;
    ev.name.assign(f.name);
    ev.at = ref.at;
    ev.message_id.assign(f.message);
    if (!f.properties.empty()) {
      ev.properties = nlohmann::json::parse(f.properties.begin(), f.properties.end());
      has_properties = true;
    } else if (has_properties) {
      ev.properties = nlohmann::json::object();
      has_properties = false;
    }
  }

  void finish(const engine::CustomerState& state, const std::vector<engine::Record>& records,
              PartitionOutput& out) const {
    for (const auto& [name, run] : state.runs) ++out.in_flight[{name, run.version}][run.step];
    if (options_.report) out.report.add_customer(records, state);
    for (const auto& r : records) {
      if (r.kind == engine::Record::Kind::Error) out.errors.push_back(r);
    }
  }

  // One customer from a fresh state: profile, events in order, then timers up to the horizon.
  void run_customer(const Ref* first, const Ref* last, std::vector<PendingAction>& actions,
                    std::vector<engine::Record>& records, PartitionOutput& out) const {
    const std::string_view customer = fields_of(first->bytes).customer;
    ++out.customers;
    const bool tracing = options_.trace_customer && *options_.trace_customer == customer;
    auto state = engine::new_customer(std::string(customer));
    first = seed(*state, first, last, customer);
    records.clear();
    const Take take{*this, actions, records, out, tracing};
    engine::Event ev;
    bool has_properties = false;
    for (; first != last; ++first) {
      if (first->at > horizon_) break;
      decode(*first, ev, has_properties);
      take(engine_.on_event(*state, ev, tracing));
    }
    if (state->known) take(engine_.advance(*state, horizon_, recurring_until_, tracing));
    finish(*state, records, out);
  }

  // The ids of one person: each from its own fresh state until a link joins two of them at its
  // time (Engine::merge; the survivor by engine::survives), then as one. A refused link is said
  // in the trace.
  void run_person(const Ref* first, const Ref* last,
                  std::pair<const PlannedLink*, const PlannedLink*> links,
                  std::vector<PendingAction>& actions, std::vector<engine::Record>& records,
                  PartitionOutput& out) const {
    bool tracing = false;
    std::map<std::string, std::unique_ptr<engine::CustomerState>, std::less<>> states;
    std::map<std::string, std::string, std::less<>> holder;  // id -> key of its state in `states`
    const auto state_of = [&](std::string_view id) -> engine::CustomerState& {
      const auto h = holder.find(id);
      if (h != holder.end()) return *states.at(h->second);
      holder.emplace(id, id);
      return *states.emplace(id, engine::new_customer(std::string(id))).first->second;
    };
    for (const PlannedLink* link = links.first; link != links.second; ++link) {
      for (const std::uint32_t id : {link->a, link->b}) {
        if (options_.trace_customer && *options_.trace_customer == plan_.id(id)) tracing = true;
      }
    }
    for (const Ref* r = first; r != last; ++r) {
      const std::string_view id = fields_of(r->bytes).customer;
      if (options_.trace_customer && *options_.trace_customer == id) tracing = true;
    }
    // Profiles, id by id (sorted by id within the person's leading profile records).
    const Ref* events = first;
    while (events != last && fields_of(events->bytes).kind == Kind::Profile) ++events;
    for (const Ref* r = first; r != events; ++r) {
      const std::string_view id = fields_of(r->bytes).customer;
      if (holder.count(id) == 0) seed(state_of(id), first, events, id);
    }
    records.clear();
    const Take take{*this, actions, records, out, tracing};
    const PlannedLink* next_link = links.first;
    const auto link_due = [&](const Ref* r) {
      if (next_link == links.second || next_link->at > horizon_) return false;
      if (r == last) return true;
      return std::tie(next_link->at, next_link->seq) <= std::tie(r->at, r->seq);
    };
    engine::Event ev;
    bool has_properties = false;
    for (const Ref* r = events;; ++r) {
      for (; link_due(r); ++next_link) apply_link(*next_link, state_of, states, holder, take);
      if (r == last || r->at > horizon_) break;
      decode(*r, ev, has_properties);
      take(engine_.on_event(state_of(ev.customer_id), ev, tracing));
    }
    bool first_state = true;
    for (auto& [key, state] : states) {
      ++out.customers;
      if (state->known) take(engine_.advance(*state, horizon_, recurring_until_, tracing));
      finish(*state, first_state ? records : std::vector<engine::Record>{}, out);
      first_state = false;
    }
  }

  template <typename StateOf, typename States, typename Holder>
  void apply_link(const PlannedLink& link, StateOf& state_of, States& states, Holder& holder,
                  const Take& take) const {
    const std::string id_a(plan_.id(link.a));
    const std::string id_b(plan_.id(link.b));
    const std::string cause = cause_of(link, options_.identity);
    if (link.refused) {
      if (take.tracing) {
        take.out.trace.push_back({link.at,
                                  "",
                                  "merge of " + id_b + " and " + id_a + " (" + cause +
                                      ") refused: " + std::to_string(link.ids) +
                                      " ids would exceed the bound of " +
                                      std::to_string(options_.identity.max_ids) + " per customer",
                                  {{"ids", {id_a, id_b}}, {"cause", cause}, {"refused", true}}});
      }
      return;
    }
    engine::CustomerState& a = state_of(id_a);
    engine::CustomerState& b = state_of(id_b);
    const bool a_survives = engine::survives(a, b);
    engine::CustomerState& survivor = a_survives ? a : b;
    engine::CustomerState& absorbed = a_survives ? b : a;
    const std::string from_key = holder.at(absorbed.customer_id);
    const std::string to_key = holder.at(survivor.customer_id);
    take(engine_.merge(survivor, absorbed, link.at, cause, take.tracing));
    for (auto& [id, key] : holder) {
      if (key == from_key) key = to_key;
    }
    states.erase(from_key);
  }

  const engine::Engine& engine_;
  const SimulateOptions& options_;
  engine::Millis horizon_;
  engine::Millis recurring_until_;
  const IdentityPlan& plan_;
  std::vector<Spill>& inbound_;
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
    Reader reader(engine, options, partitions);
    const auto read_events = [&] {
      run_parallel(ranges, threads, [&](std::size_t i) {
        read_lines(file.fd(), regular, cuts[i], cuts[i + 1],
                   [&](std::string_view text, std::uint64_t offset) {
                     reader.event_line(text, offset, readings[i]);
                   });
      });
    };
    // Explain runs one person: a first pass finds its ids (a stream, read once, runs the
    // customer's own id).
    std::unordered_set<std::string> only_ids;
    if (options.only_customer) {
      only_ids.insert(*options.only_customer);
      if (regular) {
        reader.links_only(true);
        read_events();
        const IdentityPlan plan = plan_identity(readings, options.identity);
        const std::string& asked = *options.only_customer;
        const std::uint32_t person = plan.person_of(asked, customer_hash(asked));
        for (std::uint32_t i = 0; person != IdentityPlan::kNone && i < plan.size(); ++i) {
          if (plan.linked[i] && plan.root[i] == person) only_ids.insert(std::string(plan.id(i)));
        }
        reader.links_only(false);
        readings = std::vector<Reading>(ranges);
      }
      reader.keep_only(&only_ids);
    }
    for (auto& r : readings) {
      r.parts.reserve(partitions);
      for (std::size_t p = 0; p < partitions; ++p) r.parts.emplace_back(spill_memory);
    }

    // Pass 1: read.
    if (!options.profiles.empty() && !read_profiles(reader, options, readings[0], result, err))
      return result;
    read_events();
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
    // Identity: persons from links, their records brought together.
    const IdentityPlan plan = plan_identity(readings, options.identity);
    result.merges = plan.merges;
    result.merges_refused = plan.refused;
    // The records moved to their person's partition get a sixteenth of the memory budget.
    std::vector<Spill> inbound;
    inbound.reserve(partitions);
    for (std::size_t p = 0; p < partitions; ++p)
      inbound.emplace_back(options.memory_budget / 16 / partitions);
    if (plan.linked_ids > 0) move_linked(plan, readings, inbound);
    const Runner runner(engine, options, horizon, recurring_until, plan, inbound);
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

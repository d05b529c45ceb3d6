// generate: seeded, streaming synthetic customer data for `journey simulate` and the daemon.
//
// Writes Segment-shaped NDJSON (spec section 7) on stdout: for each customer an `identify`
// (timezone, consent per channel, birthday, email, loyalty balance), then over --days days
// sign-ups, product views, cart adds, checkouts, orders with amounts, loyalty points, reviews,
// email opens and unsubscribes, at realistic local times of day. Each customer's events are in
// timestamp order. Customers are generated one at a time from their own random stream, so memory
// stays constant however many there are, and the same flags give the same bytes.
//
//   generate --customers 1000 --seed 1 --days 30 --start 2026-01-01T00:00:00Z > events.ndjson
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>

#include "engine/time.hpp"

namespace {

using journey::engine::Millis;

constexpr Millis kSecond = 1000;
constexpr Millis kMinute = 60 * kSecond;
constexpr Millis kHour = 60 * kMinute;
constexpr Millis kDay = 24 * kHour;

/// A price in cents, written as a JSON number with at most two decimals (12950 -> 129.5).
struct Money {
  int cents = 0;
};

/// One JSON value of a generated event, already rendered.
class Value {
 public:
  Value(const char* text) { quote(text); }              // NOLINT(google-explicit-constructor)
  Value(const std::string& text) { quote(text); }       // NOLINT(google-explicit-constructor)
  Value(int number) : text_(std::to_string(number)) {}  // NOLINT(google-explicit-constructor)
  Value(bool flag) : text_(flag ? "true" : "false") {}  // NOLINT(google-explicit-constructor)
  Value(Money money) {                                  // NOLINT(google-explicit-constructor)
    text_ = std::to_string(money.cents / 100);
    const int rest = money.cents % 100;
    if (rest != 0) {
      text_ += '.';
      text_ += static_cast<char>('0' + rest / 10);
      if (rest % 10 != 0) text_ += static_cast<char>('0' + rest % 10);
    }
  }
  const std::string& text() const { return text_; }

  /// A value rendered elsewhere (a nested object).
  static Value raw(std::string json) {
    Value v(0);
    v.text_ = std::move(json);
    return v;
  }

 private:
  void quote(std::string_view text) {
    text_ = "\"";
    for (const char c : text) {
      if (c == '"' || c == '\\') text_ += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        text_ += buf;
        continue;
      }
      text_ += c;
    }
    text_ += '"';
  }
  std::string text_;
};

/// A JSON object written field by field, in insertion order, with no intermediate tree: the
/// generator's output is all objects of a few flat fields.
class Object {
 public:
  Object() = default;
  Object(std::initializer_list<std::pair<const char*, Value>> fields) {
    for (const auto& [key, value] : fields) set(key, value);
  }
  void set(const char* key, const Value& value) {
    text_ += text_.empty() ? "{\"" : ",\"";
    text_ += key;
    text_ += "\":";
    text_ += value.text();
  }
  /// The object without its closing brace, so that more fields can follow.
  const std::string& open_text() const { return text_; }
  std::string str() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

/// What the command line asked for.
struct Options {
  std::uint64_t customers = 1000;
  std::uint64_t seed = 1;
  int days = 30;
  Millis start = 0;
  std::uint64_t anonymous = 0;  // percent of customers anonymous for their first half of events
};

/// splitmix64: a small, fast generator whose output is fixed by its seed on every platform.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return uniform() < p; }
  /// Exponentially distributed with the given mean.
  double exponential(double mean) { return -std::log(1.0 - uniform()) * mean; }
  /// Picks an index by weight.
  template <std::size_t N>
  std::size_t weighted(const std::array<int, N>& weights) {
    int total = 0;
    for (int w : weights) total += w;
    auto r = static_cast<int>(below(static_cast<std::uint64_t>(total)));
    for (std::size_t i = 0; i < N; ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return N - 1;
  }

 private:
  std::uint64_t state_;
};

/// Time zones weighted roughly by where an international online shop's customers live.
struct ZoneShare {
  const char* name;
  int weight;
};
constexpr std::array<ZoneShare, 20> kZones = {{
    {"America/New_York", 18},   {"America/Chicago", 9},   {"America/Denver", 3},
    {"America/Los_Angeles", 9}, {"America/Sao_Paulo", 4}, {"America/Mexico_City", 3},
    {"America/Toronto", 3},     {"Europe/London", 9},     {"Europe/Berlin", 7},
    {"Europe/Paris", 5},        {"Europe/Madrid", 3},     {"Europe/Warsaw", 2},
    {"Asia/Shanghai", 5},       {"Asia/Tokyo", 3},        {"Asia/Kolkata", 4},
    {"Asia/Singapore", 2},      {"Australia/Sydney", 3},  {"Africa/Lagos", 2},
    {"Africa/Johannesburg", 1}, {"Pacific/Auckland", 1},
}};

/// How likely a shopping session starts in each local hour (0..23).
constexpr std::array<int, 24> kSessionHours = {3,  2,  1,  1,  1,  2,  4,  7,  9,  10, 11, 12,
                                               14, 12, 11, 11, 12, 14, 17, 20, 21, 19, 13, 6};

constexpr std::array<const char*, 24> kFirstNames = {
    "Alex",   "Maria", "Wei",  "Priya",  "James", "Sofia", "Kenji", "Amara",
    "Lucas",  "Emma",  "Omar", "Chloe",  "Noah",  "Ana",   "Mei",   "Daniel",
    "Fatima", "Liam",  "Yuki", "Olivia", "Mateo", "Zoe",   "Ivan",  "Grace"};

constexpr std::array<const char*, 8> kCategories = {"shoes",       "outerwear", "tops",   "bags",
                                                    "accessories", "home",      "beauty", "sport"};

constexpr int kProducts = 120;

/// One product of the shop's catalogue.
struct Product {
  std::string id;
  const char* category;
  int price_cents;
};

/// A fixed catalogue: the same for every seed, so product ids mean the same thing in every file.
std::vector<Product> make_catalogue() {
  std::vector<Product> products;
  Random random(0xCA7A106ULL);
  for (int i = 0; i < kProducts; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "p%03d", i + 1);
    const char* category = kCategories[random.below(kCategories.size())];
    // Prices from 9.99 to about 250, most under 80, always ending in .99 or .00.
    const int dollars = 9 + static_cast<int>(random.exponential(45.0));
    const int cents = random.chance(0.7) ? 99 : 0;
    products.push_back({id, category, std::min(dollars, 249) * 100 + cents});
  }
  return products;
}

Money money(int cents) {
  return Money{cents};
}

std::string iso_date(int year, unsigned month, unsigned day) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year, month, day);
  return buf;
}

/// One generated event before output: its time, its order of creation (ties) and its body.
struct Pending {
  Millis at = 0;
  std::uint32_t seq = 0;
  Object body;  // without timestamp and messageId, added once the order is known
};

/// Generates one customer's whole timeline into a reusable buffer.
class CustomerGenerator {
 public:
  CustomerGenerator(const Options& options, const std::vector<Product>& catalogue)
      : options_(options), catalogue_(catalogue) {
    // Local midnights and dates per zone and day, computed once: the time zone rules are the
    // slow part, and every customer of a zone shares them.
    for (const auto& share : kZones) {
      const date::time_zone* zone = date::locate_zone(share.name);
      const auto first = date::floor<date::days>(zone->to_local(
          date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(options.start))));
      std::vector<Millis> midnights;
      std::vector<date::year_month_day> dates;
      for (int d = 0; d <= options.days; ++d) {
        const auto local = date::local_days{first} + date::days{d};
        const auto sys = zone->to_sys(local, date::choose::earliest);
        midnights.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count());
        dates.emplace_back(date::year_month_day{date::sys_days{local.time_since_epoch()}});
      }
      midnights_.push_back(std::move(midnights));
      dates_.push_back(std::move(dates));
    }
  }

  /// Appends customer number `index` to `out`, one NDJSON line per event.
  void write(std::uint64_t index, std::string& out) {
    events_.clear();
    Random random(options_.seed * 0x100000001B3ULL ^ (index + 1) * 0x9E3779B97F4A7C15ULL);
    char id[24];
    std::snprintf(id, sizeof id, "c%07llu", static_cast<unsigned long long>(index + 1));
    customer_id_ = id;

    std::array<int, kZones.size()> zone_weights{};
    for (std::size_t i = 0; i < kZones.size(); ++i) zone_weights[i] = kZones[i].weight;
    const std::size_t zone_index = random.weighted(zone_weights);
    zone_index_ = zone_index;

    const Millis end = options_.start + options_.days * kDay;
    // A third of the customers sign up during the period; the others are known already.
    const bool signs_up = random.chance(0.35);
    const Millis first_seen = signs_up
                                  ? local_time(random, random.below(options_.days))
                                  : options_.start + static_cast<Millis>(random.below(6 * kHour));

    // Profile traits.
    const char* first_name = kFirstNames[random.below(kFirstNames.size())];
    const int birth_year = 1955 + static_cast<int>(random.below(50));
    const auto birth_month = static_cast<unsigned>(1 + random.below(12));
    const auto birth_day = static_cast<unsigned>(1 + random.below(28));
    const bool email_consent = random.chance(0.82);
    const bool sms_consent = random.chance(0.35);
    const bool push_consent = random.chance(0.45);
    const bool loyalty = random.chance(0.4);
    int points = loyalty ? static_cast<int>(random.below(2500)) : 0;
    // Known customers gave email consent up to three years ago; new ones at sign-up.
    Millis consent_at =
        signs_up ? first_seen : first_seen - static_cast<Millis>(30 + random.below(1065)) * kDay;
    consent_at -= consent_at % kSecond;

    Object traits;
    std::string email = first_name;
    std::transform(email.begin(), email.end(), email.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    traits.set("email", email + "." + customer_id_ + "@example.com");
    traits.set("first_name", first_name);
    traits.set("timezone", kZones[zone_index].name);
    traits.set("birthday", iso_date(birth_year, birth_month, birth_day));
    traits.set("birthday_today", false);  // kept up to date by the pipeline, see birthday_traits()
    traits.set(
        "consent",
        Value::raw(
            Object{{"email", email_consent}, {"sms", sms_consent}, {"push", push_consent}}.str()));
    if (email_consent)
      traits.set("email_consent_at", journey::engine::format_timestamp(consent_at));
    if (loyalty) traits.set("points_balance", points);
    add(first_seen, identify(traits));
    if (signs_up) {
      static constexpr std::array<const char*, 3> kMethods = {"email", "google", "apple"};
      add(first_seen,
          track("signup",
                Object{{"method", kMethods[random.weighted(std::array<int, 3>{6, 3, 1})]}}));
    }

    birthday_traits(birth_month, birth_day, first_seen, end);

    // Shopping sessions: a Poisson number of them, by engagement tier.
    static constexpr std::array<double, 3> kSessionsPerDay = {0.06, 0.2, 0.5};
    const double rate = kSessionsPerDay[random.weighted(std::array<int, 3>{30, 50, 20})];
    const double active_days = static_cast<double>(end - first_seen) / kDay;
    std::vector<Millis> starts;
    for (double t = random.exponential(1.0 / rate); t < active_days;
         t += random.exponential(1.0 / rate)) {
      const auto day = static_cast<std::uint64_t>((first_seen - options_.start) / kDay + t);
      if (day >= static_cast<std::uint64_t>(options_.days)) break;
      const Millis at = local_time(random, day);
      if (at > first_seen && at < end) starts.push_back(at);
    }
    std::sort(starts.begin(), starts.end());
    int orders = 0;
    for (Millis at : starts) session(random, at, end, loyalty, points, orders);

    // Marketing email: campaigns go out on Tuesdays and Fridays at 10:00 local time.
    const double open_rate = email_consent ? 0.6 * random.uniform() * random.uniform() : 0;
    for (int day = 0; day < options_.days; ++day) {
      const Millis midnight = local_midnight(static_cast<std::uint64_t>(day));
      const date::weekday weekday{date::sys_days{local_date(static_cast<std::uint64_t>(day))}};
      if (weekday != date::Tuesday && weekday != date::Friday) continue;
      const Millis sent = midnight + 10 * kHour;
      if (sent <= first_seen || !random.chance(open_rate)) continue;
      const Millis opened = sent + static_cast<Millis>(random.exponential(3.0 * kHour));
      if (opened >= end) continue;
      char campaign[16];
      std::snprintf(campaign, sizeof campaign, "cmp-%03d", day + 1);
      add(opened, track("email_open", Object{{"campaign", campaign}}));
      if (random.chance(0.03)) {
        add(opened + 40 * kSecond,
            track("unsubscribe", Object{{"channel", "email"}, {"campaign", campaign}}));
        break;  // no more opens after unsubscribing
      }
    }

    std::stable_sort(events_.begin(), events_.end(),
                     [](const Pending& a, const Pending& b) { return a.at < b.at; });
    // --anonymous: the first half of the customer's events carry an anonymousId instead of the
    // userId, the one in the middle both (the login).
    const bool anonymous_first = index % 100 < options_.anonymous;
    const std::size_t half = (events_.size() + 1) / 2;
    const std::string user = "\"userId\":\"" + customer_id_ + "\"";
    const std::string visitor = "\"anonymousId\":\"anon-" + customer_id_ + "\"";
    std::uint32_t n = 0;
    for (const auto& event : events_) {
      std::string text = event.body.open_text();
      if (anonymous_first && n + 1 <= half) {
        const auto at = text.find(user);
        text.replace(at, user.size(), n + 1 < half ? visitor : user + "," + visitor);
      }
      out += text;
      out += ",\"timestamp\":\"";
      out += journey::engine::format_timestamp(event.at);
      out += "\",\"messageId\":\"";
      out += customer_id_;
      out += '-';
      out += std::to_string(++n);
      out += "\"}\n";
    }
  }

 private:
  Object identify(const Object& traits) {
    return Object{
        {"type", "identify"}, {"userId", customer_id_}, {"traits", Value::raw(traits.str())}};
  }
  Object track(const char* name, const Object& properties) {
    return Object{{"type", "track"},
                  {"event", name},
                  {"userId", customer_id_},
                  {"properties", Value::raw(properties.str())}};
  }
  /// Queues an event, at a whole second like most trackers send.
  void add(Millis at, Object body) {
    at -= at % kSecond;
    events_.push_back({at, static_cast<std::uint32_t>(events_.size()), std::move(body)});
  }

  /// Midnight of day `day` of the period (0..days) in the customer's zone, as UTC.
  Millis local_midnight(std::uint64_t day) const { return midnights_[zone_index_][day]; }

  /// The local date of day `day` of the period in the customer's zone.
  const date::year_month_day& local_date(std::uint64_t day) const {
    return dates_[zone_index_][day];
  }

  /// A random moment of day `day`, at a local hour weighted like real shopping traffic.
  Millis local_time(Random& random, std::uint64_t day) const {
    const auto hour = static_cast<Millis>(random.weighted(kSessionHours));
    const auto second = static_cast<Millis>(random.below(3600));
    return std::max(options_.start, local_midnight(day) + hour * kHour + second * kSecond);
  }

  /// While the birthday falls in the period, the pipeline keeps `birthday_today` true: set at
  /// local midnight, cleared at the next one (the birthday journey reads it).
  void birthday_traits(unsigned month, unsigned day, Millis first_seen, Millis end) {
    for (int d = 0; d < options_.days; ++d) {
      const Millis midnight = local_midnight(static_cast<std::uint64_t>(d));
      const date::year_month_day& ymd = local_date(static_cast<std::uint64_t>(d));
      if (static_cast<unsigned>(ymd.month()) != month || static_cast<unsigned>(ymd.day()) != day)
        continue;
      if (midnight <= first_seen) return;
      add(midnight, identify(Object{{"birthday_today", true}}));
      const Millis next = local_midnight(static_cast<std::uint64_t>(d + 1));
      if (next < end) add(next, identify(Object{{"birthday_today", false}}));
      return;
    }
  }

  /// One visit: product views, maybe a cart, a checkout and an order.
  void session(Random& random, Millis at, Millis end, bool loyalty, int& points, int& orders) {
    const auto& catalogue = catalogue_;
    auto pick = [&] {
      // Popular products are viewed far more often (a squared uniform skews toward the front).
      const double u = random.uniform();
      return static_cast<std::size_t>(u * u * static_cast<double>(catalogue.size()));
    };
    std::vector<std::size_t> cart;
    std::size_t product = pick();
    const int views = 1 + static_cast<int>(random.exponential(2.2));
    for (int i = 0; i < views && at < end; ++i) {
      if (i > 0 && !random.chance(0.35)) product = pick();  // 35%: back to the same product
      const Product& p = catalogue[product];
      add(at, track("view_product", Object{{"product_id", p.id},
                                           {"category", p.category},
                                           {"price", money(p.price_cents)}}));
      at += 20 * kSecond + static_cast<Millis>(random.exponential(90.0 * kSecond));
      if (random.chance(0.09)) {
        cart.push_back(product);
        int value = 0;
        for (std::size_t item : cart) value += catalogue[item].price_cents;
        add(at, track("add_to_cart", Object{{"product_id", p.id},
                                            {"price", money(p.price_cents)},
                                            {"quantity", 1},
                                            {"cart_value", money(value)}}));
        at += 10 * kSecond + static_cast<Millis>(random.exponential(60.0 * kSecond));
      }
    }
    if (cart.empty() || at >= end || !random.chance(0.45)) return;
    int value = 0;
    for (std::size_t item : cart) value += catalogue[item].price_cents;
    add(at, track("checkout_started",
                  Object{{"cart_value", money(value)}, {"items", static_cast<int>(cart.size())}}));
    at += kMinute + static_cast<Millis>(random.exponential(3.0 * kMinute));
    if (at >= end || !random.chance(0.8)) return;
    ++orders;
    char order_id[40];
    std::snprintf(order_id, sizeof order_id, "o-%s-%d", customer_id_.c_str(), orders);
    add(at, track("order_completed", Object{{"order_id", order_id},
                                            {"amount", money(value)},
                                            {"currency", "USD"},
                                            {"items", static_cast<int>(cart.size())},
                                            {"product_id", catalogue[cart.front()].id}}));
    if (loyalty) {
      const int earned = value / 100;
      points += earned;
      add(at + 5 * kSecond,
          track("points_earned", Object{{"points", earned}, {"order_id", order_id}}));
      add(at + 5 * kSecond, identify(Object{{"points_balance", points}}));
    }
    if (random.chance(0.12)) {
      const Millis reviewed = at + static_cast<Millis>(5 + random.below(10)) * kDay +
                              static_cast<Millis>(random.below(12 * 3600)) * kSecond;
      if (reviewed < end) {
        add(reviewed,
            track("review_submitted", Object{{"order_id", order_id},
                                             {"product_id", catalogue[cart.front()].id},
                                             {"rating", 3 + static_cast<int>(random.below(3))}}));
      }
    }
  }

  const Options& options_;
  const std::vector<Product>& catalogue_;
  std::vector<std::vector<Millis>> midnights_;            // per zone, per day of the period
  std::vector<std::vector<date::year_month_day>> dates_;  // per zone, per day of the period
  std::size_t zone_index_ = 0;
  std::string customer_id_;
  std::vector<Pending> events_;
};

constexpr std::string_view kUsage =
    "usage: generate [--customers N] [--seed S] [--days D] [--start TIMESTAMP] [--anonymous P]\n"
    "  --customers N   how many customers (default 1000)\n"
    "  --seed S        random seed; the same seed gives the same output (default 1)\n"
    "  --days D        length of the period in days (default 30)\n"
    "  --start T       start of the period, ISO-8601 (default 2026-01-01T00:00:00Z)\n"
    "  --anonymous P   P% of the customers (the first P of every 100) send the first half of\n"
    "                  their events under an anonymousId (anon-ID), the one in the middle with\n"
    "                  both ids (the login); default 0\n";

std::optional<std::uint64_t> read_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), last, value);
  if (ec != std::errc{} || ptr != last || text.empty()) return std::nullopt;
  return value;
}

/// Reads the flags; prints a message naming the bad flag and returns nothing on an error.
std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  options.start = *journey::engine::parse_timestamp("2026-01-01T00:00:00Z");
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::cerr << "generate: " << flag << " needs a value\n" << kUsage;
      return std::nullopt;
    }
    const std::string_view value = argv[++i];
    if (flag == "--customers" || flag == "--seed" || flag == "--days" || flag == "--anonymous") {
      const auto number = read_number(value);
      if (!number) {
        std::cerr << "generate: " << flag << ": not a whole number: `" << value << "`\n";
        return std::nullopt;
      }
      if (flag == "--days" && (*number == 0 || *number > 3660)) {
        std::cerr << "generate: --days: expected 1 to 3660, got " << *number << "\n";
        return std::nullopt;
      }
      if (flag == "--anonymous" && *number > 100) {
        std::cerr << "generate: --anonymous: expected a percent, 0 to 100, got " << *number << "\n";
        return std::nullopt;
      }
      if (flag == "--anonymous") options.anonymous = *number;
      if (flag == "--customers") options.customers = *number;
      if (flag == "--seed") options.seed = *number;
      if (flag == "--days") options.days = static_cast<int>(*number);
    } else if (flag == "--start") {
      const auto start = journey::engine::parse_timestamp(value);
      if (!start) {
        std::cerr << "generate: --start: not an ISO-8601 timestamp: `" << value << "`\n";
        return std::nullopt;
      }
      options.start = *start;
    } else {
      std::cerr << "generate: unknown flag `" << flag << "`\n" << kUsage;
      return std::nullopt;
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  if (!options) return 2;
  try {
    const auto catalogue = make_catalogue();
    CustomerGenerator generator(*options, catalogue);
    std::string buffer;
    for (std::uint64_t i = 0; i < options->customers; ++i) {
      generator.write(i, buffer);
      if (buffer.size() > (1U << 16)) {
        std::fwrite(buffer.data(), 1, buffer.size(), stdout);
        buffer.clear();
      }
    }
    std::fwrite(buffer.data(), 1, buffer.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "generate: " << e.what() << '\n';
    return 1;
  }
}

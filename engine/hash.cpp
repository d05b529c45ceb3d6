#include "engine/hash.hpp"

#include <cstdio>

namespace journey::engine {

std::uint64_t stable_hash(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

std::string hex16(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string hash_key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (const auto part : parts) {
    key.append(part);
    key.push_back('\x1f');
  }
  return key;
}

}  // namespace journey::engine

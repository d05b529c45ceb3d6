// A small fixed hash, stable across builds and machines (unlike std::hash): versions, action ids
// and split variants depend on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace journey::engine {

/// 64-bit FNV-1a over `data` starting from `seed`, finished with a splitmix64 mix.
std::uint64_t stable_hash(std::string_view data, std::uint64_t seed);

/// 16 lowercase hex digits.
std::string hex16(std::uint64_t value);

/// Joins parts with a 0x1f separator (so ("ab","c") and ("a","bc") hash differently).
std::string hash_key(std::initializer_list<std::string_view> parts);

}  // namespace journey::engine

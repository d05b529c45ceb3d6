// "Did you mean" suggestions for misspelled keywords and names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace journey::dsl {

/// The number of single-character insertions, deletions, substitutions and swaps of two
/// adjacent characters that turn `a` into `b` (optimal string alignment distance).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, if it is close enough to be a plausible misspelling
/// (distance at most 1 for words up to 4 characters, 2 up to 8, else 3, and less than the
/// word's length). Ties go to the candidate listed first; an exact match is not a suggestion.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace journey::dsl

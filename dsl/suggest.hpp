// "Did you mean" suggestions for misspelled keywords and names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/diagnostic.hpp"

namespace journey::dsl {

/// The number of single-character insertions, deletions, substitutions and swaps of two
/// adjacent characters that turn `a` into `b` (optimal string alignment distance).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, if it is close enough to be a plausible misspelling
/// (distance at most 1 for words up to 4 characters, 2 up to 8, else 3, and less than the
/// word's length). Ties go to the candidate listed first; an exact match is not a suggestion.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string>& candidates);

/// Adds "did you mean `WORD`?" to a finding, with the fix that writes `replacement` (the word as
/// it is written in the source, quoted when it must be) in place of `span`.
void did_you_mean(Diagnostic& d, const std::string& word, Span span, std::string replacement);

/// As above, when the word is written as it is.
inline void did_you_mean(Diagnostic& d, const std::string& word, Span span) {
  did_you_mean(d, word, span, word);
}

}  // namespace journey::dsl

// The language reference (docs/language.md), built into the program, and what it says about each
// word of the language: the text an editor shows on hover, so that it is the reference's own.
#pragma once

#include <string>
#include <string_view>

namespace journey::dsl {

/// The whole language reference, as docs/language.md was when the program was built.
std::string_view language_reference();

/// What the reference says about a word of the language, in Markdown: the opening paragraph and
/// first example of each construct of sections 3 to 5 whose syntax starts with the word (else
/// that mentions it), and the rows of the tables of sections 2 and 6 that name it. Empty for a
/// word the reference does not describe.
std::string word_help(std::string_view word);

}  // namespace journey::dsl

// What the grammar expects at a place in a file, for editors: the words that may come next and
// the kind of name that fits there. Found by running the parser itself over the text before the
// place, so it follows the grammar exactly, in a file with errors too. Also the language's
// words, for checks of new names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/ast.hpp"
#include "dsl/source.hpp"

namespace journey::dsl {

/// Where a property path starts, when a place is inside one.
enum class PathRoot : std::uint8_t {
  None,
  Customer,  // `customer.` (and `set customer.`, `has(customer.`)
  Event,     // `event.`: a property of the event in scope
  Trigger,   // `trigger.`: a property of the entry event
  Named,     // `last(EVENT).` or `sum(EVENT.`: a property of the named event
};

/// What may be written at one place.
struct Expected {
  std::vector<std::string> words;        // keywords and function words that may come next, sorted
  bool channel = false;                  // a channel (`send CHANNEL`)
  bool label = false;                    // a label of `journey` (`goto LABEL`)
  bool segment = false;                  // a segment (`customer is SEGMENT`)
  bool event = false;                    // an event name (`entry on`, `count(`, `emit`, `on` ...)
  PathRoot path = PathRoot::None;        // a property name after this root
  std::vector<std::string> path_prefix;  // the path written after the root before the place
  /// The events whose properties fit a path: for `event.` the event in scope (the innermost
  /// `where`, wait branch or aggregate around the place, else the journey's `entry on` events),
  /// for `trigger.` the journey's `entry on` events, for Named the event named.
  std::vector<std::string> path_events;
  std::string journey;  // the journey around the place; empty outside one
  Span word;            // the word written up to the place, which a completion replaces
};

/// What may be written at byte `offset` of `file`. The word that ends at `offset` is set aside,
/// and the parser runs over the text before it, recording what it tries at that place.
Expected expected_at(const SourceFile& file, std::uint32_t offset);

/// The reserved words (spec section 2), which cannot name anything.
const std::vector<std::string>& reserved_words();

/// Words with a meaning only where they appear: `where`, the functions (`count` ... `has`),
/// `day` and the weekdays.
const std::vector<std::string>& contextual_words();

/// Whether `word` is a reserved word.
bool is_keyword(std::string_view word);

/// Whether `word` can name a journey, segment, label or unquoted event: an identifier that is not
/// a reserved word.
bool is_name(std::string_view word);

}  // namespace journey::dsl

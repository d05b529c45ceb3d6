// Every name written in a file, where it is written and what it names: the index behind an
// editor's go to definition, find references, rename, and what a workspace uses (its events,
// channels and customer attributes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dsl/ast.hpp"

namespace journey::dsl {

/// What a name names.
enum class SymbolKind : std::uint8_t {
  Journey,    // declared by `journey NAME`
  Segment,    // declared by `segment NAME`, used by `customer is NAME`
  Label,      // declared by `LABEL:` on a step, used by `goto LABEL`; local to a journey
  Goal,       // declared by `goal NAME:`
  Variant,    // declared by `P% NAME { ... }` in a split
  Event,      // an event name (entry, exit, goal, wait branch, emit, aggregates)
  Channel,    // `send CHANNEL`
  Attribute,  // `customer.PATH` (name: the path after `customer.`, such as `consent.email`)
};

/// One place where a name is written.
struct Symbol {
  SymbolKind kind = SymbolKind::Journey;
  std::string name;  // for an event, its name without quotes
  Span span;         // the name as written (an attribute: the whole `customer.PATH`)
  bool declaration = false;
  std::string journey;  // the journey it is written in; empty in a segment
};

/// Every name written in `module`, sorted by position.
std::vector<Symbol> symbols(const Module& module);

/// The symbol whose span holds `offset` (its end included, so that a cursor just after a name
/// finds it), or null.
const Symbol* symbol_at(const std::vector<Symbol>& symbols, std::uint32_t offset);

/// Whether two symbols name the same thing: same kind and name, and for a label, goal or variant
/// the same journey (in the same file, which the caller knows).
bool same_target(const Symbol& a, const Symbol& b);

}  // namespace journey::dsl

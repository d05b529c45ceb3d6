// How the compiler names unlabelled steps: a choice recorded with each stored deployment, so that
// a version compiled again after an upgrade keeps its hash, its step ids and so its action ids.
#pragma once

#include <cstdint>

namespace journey::engine {

/// How the steps of a journey are named: the naming its version was compiled with.
enum class StepNaming : std::uint8_t {
  /// Before issue 17: an unlabelled step is "L<line>:<col>" of its source, so a comment above it
  /// changed its id and the version. Only deployments stored by older builds are compiled so.
  Positions = 1,
  /// An unlabelled step is named by its place in the step tree (program.hpp, Step::id).
  Tree = 2,
};

}  // namespace journey::engine

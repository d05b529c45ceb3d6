// The daemon's one clock: wall time in engine milliseconds, injected where time is read so that
// the parts can be driven by another clock in tests.
#pragma once

#include <chrono>
#include <functional>

#include "engine/time.hpp"

namespace journey::runtime {

/// Returns the current time.
using Clock = std::function<engine::Millis()>;

/// The system's wall clock, in milliseconds since the Unix epoch.
inline engine::Millis system_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace journey::runtime

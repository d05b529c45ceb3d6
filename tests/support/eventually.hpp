// A bounded wait on a condition, for the tests that drive real processes.
#pragma once

#include <chrono>
#include <thread>

namespace journey::test {

/// Polls `condition` every 50 ms for at most `seconds`; whether it held.
template <typename F>
bool eventually(F condition, double seconds = 15) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace journey::test

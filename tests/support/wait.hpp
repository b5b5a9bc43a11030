#pragma once

#include <chrono>
#include <functional>

namespace herald::test {

// A liveness cap, not a performance expectation: long enough that only a hang reaches it.
inline constexpr std::chrono::milliseconds kGenerousWait{60000};

// Calls `predicate` until it returns true or `cap` has passed, sleeping `interval` between calls.
// Returns the last result. Runs on the caller's thread.
bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds cap = kGenerousWait,
                std::chrono::milliseconds interval = std::chrono::milliseconds{50});

}  // namespace herald::test

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace herald::delivery {

// Draws a uniformly distributed integer in [low, high] (both inclusive; low <= high). Injected so
// tests can pin the jitter; the dispatcher's default is a std::mt19937_64 used on its own thread.
using UniformRandom = std::function<std::int64_t(std::int64_t low, std::int64_t high)>;

struct BackoffPolicy {
    std::chrono::milliseconds base{1000};   // the ceiling of the first retry's delay
    std::chrono::milliseconds max{300000};  // no ceiling grows past this
    // A provider's Retry-After is honoured up to this long; longer requests are cut to it.
    std::chrono::milliseconds retry_after_max{3600000};
};

// The ceiling of the delay after attempt `attempt` (1 = the first attempt failed):
// min(max, base * 2^(attempt-1)), computed without overflow. Non-positive inputs give 0.
std::chrono::milliseconds backoff_ceiling(int attempt, const BackoffPolicy& policy);

// The delay before the next attempt after attempt `attempt` failed: "full jitter", a uniform
// draw in [0, backoff_ceiling(attempt)], but never less than the provider's Retry-After (itself
// capped at policy.retry_after_max) when one was given. Pure apart from `random`.
std::chrono::milliseconds retry_delay(int attempt,
                                      const BackoffPolicy& policy,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      const UniformRandom& random);

}  // namespace herald::delivery

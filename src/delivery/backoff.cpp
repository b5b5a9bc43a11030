#include "delivery/backoff.hpp"

#include <algorithm>
#include <limits>

namespace herald::delivery {

std::chrono::milliseconds backoff_ceiling(int attempt, const BackoffPolicy& policy) {
    const std::int64_t base = policy.base.count();
    const std::int64_t max = policy.max.count();
    if (attempt < 1 || base <= 0 || max <= 0) {
        return std::chrono::milliseconds{0};
    }

    // Doubling stops as soon as the cap is reached, so the shift never overflows.
    std::int64_t ceiling = std::min(base, max);
    for (int i = 1; i < attempt && ceiling < max; ++i) {
        ceiling = ceiling > max / 2 ? max : ceiling * 2;
    }
    return std::chrono::milliseconds{std::min(ceiling, max)};
}

std::chrono::milliseconds retry_delay(int attempt,
                                      const BackoffPolicy& policy,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      const UniformRandom& random) {
    const std::int64_t ceiling = backoff_ceiling(attempt, policy).count();
    std::int64_t delay = ceiling > 0 ? std::clamp(random(0, ceiling), std::int64_t{0}, ceiling) : 0;

    if (retry_after) {
        const std::int64_t cap = std::max<std::int64_t>(policy.retry_after_max.count(), 0);
        const std::int64_t floor = std::clamp<std::int64_t>(retry_after->count(), 0, cap);
        delay = std::max(delay, floor);
    }
    return std::chrono::milliseconds{delay};
}

}  // namespace herald::delivery

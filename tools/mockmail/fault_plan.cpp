#include "fault_plan.hpp"

#include <algorithm>
#include <cmath>

namespace herald::mockmail {

FaultPlan::FaultPlan(FaultOptions options) : options_(std::move(options)) {
    options_.rate_burst = std::max(options_.rate_burst, 1.0);
    reset(Clock::now());
}

void FaultPlan::reset(Clock::time_point now) {
    sends_ = 0;
    started_ = now;
    refilled_ = now;
    tokens_ = options_.rate_burst;
}

Decision FaultPlan::next(Clock::time_point now) {
    const long long index = sends_++;
    Decision decision;
    if (options_.latency_count < 0 || index < options_.latency_count) {
        decision.latency = options_.latency;
    }
    if (index < options_.drop_count) {
        decision.action = Decision::Action::drop;
        return decision;
    }
    if (index < static_cast<long long>(options_.drop_count) + options_.fail_count ||
        now - started_ < options_.fail_for) {
        decision.action = Decision::Action::fail;
        return decision;
    }
    if (options_.rate_limit <= 0) {
        return decision;
    }
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    tokens_ = std::min(options_.rate_burst, tokens_ + elapsed * options_.rate_limit);
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return decision;
    }
    decision.action = Decision::Action::rate_limited;
    const double wait_s = (1.0 - tokens_) / options_.rate_limit;
    decision.retry_after_s = std::max(1, static_cast<int>(std::ceil(wait_s)));
    return decision;
}

}  // namespace herald::mockmail

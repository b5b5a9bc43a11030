#include "fault_plan.hpp"

namespace herald::mockmail {

Decision FaultPlan::next() {
    const long long index = sends_++;
    Decision decision;
    if (options_.latency_count < 0 || index < options_.latency_count) {
        decision.latency = options_.latency;
    }
    if (index < options_.drop_count) {
        decision.action = Decision::Action::drop;
    } else if (index < static_cast<long long>(options_.drop_count) + options_.fail_count) {
        decision.action = Decision::Action::fail;
    }
    return decision;
}

}  // namespace herald::mockmail

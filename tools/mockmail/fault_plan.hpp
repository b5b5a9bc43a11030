#pragma once

#include <chrono>
#include <string>
#include <utility>

namespace herald::mockmail {

// The misbehaviour configured on the command line.
struct FaultOptions {
    std::chrono::milliseconds latency{0};  // added before the answer to a send
    int latency_count = -1;                // how many of the first sends wait `latency`; -1: all
    int fail_status = 503;                 // the status of a failed send
    int fail_count = 0;                    // how many sends fail (after the drops)
    std::string retry_after;               // Retry-After on failed sends; "" for none
    int drop_count = 0;                    // how many of the first sends are dropped unanswered
};

// What to do with one send.
struct Decision {
    enum class Action { accept, fail, drop };
    Action action = Action::accept;
    std::chrono::milliseconds latency{0};
};

// Decides, send by send, what the mock does: the first drop_count sends are dropped, the next
// fail_count fail with fail_status, the rest are accepted; the first latency_count (all, when it
// is negative) wait `latency` first. New kinds of fault (rate limits, outages, …) belong here.
class FaultPlan {
public:
    explicit FaultPlan(FaultOptions options) : options_(std::move(options)) {}

    Decision next();
    void reset() { sends_ = 0; }
    const FaultOptions& options() const { return options_; }

private:
    FaultOptions options_;
    long long sends_ = 0;
};

}  // namespace herald::mockmail

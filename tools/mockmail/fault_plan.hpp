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
    // An outage: every send arriving within this long of the start (or of a reset) fails with
    // fail_status, after the counted drops and failures are used up. 0: none.
    std::chrono::milliseconds fail_for{0};
    // A provider's rate limit: sends beyond `rate_limit` a second (with bursts of `rate_burst`)
    // get 429 with a Retry-After in whole seconds (at least 1). 0: unlimited.
    double rate_limit = 0;
    double rate_burst = 1;
};

// What to do with one send.
struct Decision {
    enum class Action { accept, fail, drop, rate_limited };
    Action action = Action::accept;
    std::chrono::milliseconds latency{0};
    int retry_after_s = 0;  // rate_limited: the Retry-After to send
};

// Decides, send by send, what the mock does: the first drop_count sends are dropped, the next
// fail_count fail with fail_status, then those inside the fail_for window fail too; the rest are
// accepted unless the rate limit refuses them. The first latency_count (all, when it is
// negative) wait `latency` first. `now` is a steady clock reading; the plan's time starts at its
// construction or its last reset.
class FaultPlan {
public:
    using Clock = std::chrono::steady_clock;

    explicit FaultPlan(FaultOptions options);

    Decision next(Clock::time_point now);
    void reset(Clock::time_point now);
    const FaultOptions& options() const { return options_; }

private:
    FaultOptions options_;
    long long sends_ = 0;
    Clock::time_point started_;
    double tokens_ = 0;
    Clock::time_point refilled_;
};

}  // namespace herald::mockmail

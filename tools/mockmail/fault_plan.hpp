#pragma once

#include <chrono>
#include <string>
#include <utility>

namespace herald::mockmail {

// The misbehaviour configured on the command line.
struct FaultOptions {
    std::chrono::milliseconds latency{0};  // added before every answer to a send
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
// fail_count fail with fail_status, the rest are accepted; all wait `latency` first. New kinds of
// fault (rate limits, outages, …) belong here.
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

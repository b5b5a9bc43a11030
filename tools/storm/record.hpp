#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::storm {

// How one attempt ended, as the client saw it.
enum class AttemptResult {
    ok,             // a 2xx answer
    http_error,     // any other status (see Attempt::status)
    timeout,        // the per-attempt timeout passed first: the client gave up and closed
    connect_error,  // the connection could not be made (refused, reset during connect)
    io_error,       // the connection broke after it was made (reset, closed without an answer)
    local_limit,    // not sent: the storm already had max_open attempts in flight
};

const char* to_string(AttemptResult result);

struct Attempt {
    std::int64_t start_ms = 0;    // wall clock (Unix ms), comparable with the provider's log
    std::int64_t latency_us = 0;  // steady clock, start to end (the timeout, for a timeout)
    AttemptResult result = AttemptResult::ok;
    int status = 0;  // the HTTP status; 0 when none arrived
    std::int64_t end_ms() const { return start_ms + latency_us / 1000; }
};

// How a logical notification ended.
enum class Outcome {
    ok,        // an attempt got a 2xx
    rejected,  // an answer not worth retrying (4xx other than 408 and 429)
    gave_up,   // the retry window or the attempt limit ran out
    cut_off,   // still retrying when the storm's hard stop came
};

const char* to_string(Outcome outcome);

// Everything the storm knows about one logical notification. `id` is in its body (subject and
// text) on every attempt, so a provider's log can be matched back to it.
struct NotificationRecord {
    std::string id;
    std::int64_t arrival_ms = 0;  // wall clock
    std::vector<Attempt> attempts;
    Outcome outcome = Outcome::cut_off;
    std::int64_t done_ms = 0;     // wall clock of the last attempt's end (0 while running)
    std::int64_t latency_us = 0;  // arrival to the end of the successful attempt (ok only)

    // One JSON line: {"id","arrival_ms","outcome","done_ms","latency_ms","attempts":[…]}.
    boost::json::object to_json() const;
};

}  // namespace herald::storm

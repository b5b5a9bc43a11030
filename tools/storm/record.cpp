#include "record.hpp"

#include <boost/json/array.hpp>

namespace herald::storm {

const char* to_string(AttemptResult result) {
    switch (result) {
        case AttemptResult::ok:
            return "ok";
        case AttemptResult::http_error:
            return "http_error";
        case AttemptResult::timeout:
            return "timeout";
        case AttemptResult::connect_error:
            return "connect_error";
        case AttemptResult::io_error:
            return "io_error";
        case AttemptResult::local_limit:
            return "local_limit";
    }
    return "unknown";
}

const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::ok:
            return "ok";
        case Outcome::rejected:
            return "rejected";
        case Outcome::gave_up:
            return "gave_up";
        case Outcome::cut_off:
            return "cut_off";
    }
    return "unknown";
}

boost::json::object NotificationRecord::to_json() const {
    boost::json::array attempt_list;
    for (const Attempt& attempt : attempts) {
        attempt_list.push_back(boost::json::object{
            {"start_ms", attempt.start_ms},
            {"end_ms", attempt.end_ms()},
            {"latency_ms", static_cast<double>(attempt.latency_us) / 1000.0},
            {"result", to_string(attempt.result)},
            {"status", attempt.status},
        });
    }
    boost::json::object line{
        {"id", id},
        {"arrival_ms", arrival_ms},
        {"outcome", to_string(outcome)},
        {"done_ms", done_ms},
        {"attempts", std::move(attempt_list)},
    };
    if (outcome == Outcome::ok) {
        line["latency_ms"] = static_cast<double>(latency_us) / 1000.0;
    }
    return line;
}

}  // namespace herald::storm

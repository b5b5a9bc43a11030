#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace herald::storm {

using Millis = std::chrono::milliseconds;

// How notifications arrive: at a fixed interval (1/rate), or as a Poisson process (exponential
// gaps with mean 1/rate), which is how independent clients arrive in production.
enum class Arrivals { fixed, poisson };

// Where the storm sends: an http:// URL whose host is a loopback address.
struct Target {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host;  // the Host header: "127.0.0.1:8080"
    std::string path;  // "/v1/notifications"
};

// Parses "http://HOST:PORT/PATH". HOST must be a loopback address (127.0.0.0/8, ::1) or
// "localhost"; anything else, https, or a missing port throws std::invalid_argument: the storm
// is a load generator and must never be pointed at a machine it does not run on.
Target parse_target(const std::string& url);

// One storm, as the command line configured it. Every duration is bounded by main.
struct StormConfig {
    Target target;
    double rate = 20;  // new notifications per second
    Arrivals arrivals = Arrivals::fixed;
    Millis duration{60000};           // how long new notifications arrive
    std::uint64_t max_notifications;  // a hard cap on their count, whatever rate × duration says

    Millis attempt_timeout{10000};  // connect + write + read of one attempt
    Millis backoff_base{1000};      // cap of the first retry delay; doubles per attempt
    Millis backoff_max{30000};      // the largest retry delay cap
    Millis retry_window{600000};    // no attempt starts later than this after arrival
    int max_attempts = 100;
    bool honor_retry_after = true;  // wait at least a 429/503's Retry-After (seconds)

    bool idempotency_key = false;  // send Idempotency-Key: <notification id> on every attempt
    int prefer_wait = 0;           // > 0: send Prefer: wait=N
    bool deadline_header = false;  // send X-Request-Timeout-Ms: <attempt timeout>
    bool keep_alive = false;       // reuse connections between attempts; else one per attempt
    std::string api_key;           // Authorization: Bearer KEY when not empty
    std::size_t max_open = 15000;  // attempts in flight at once; beyond it: local_limit
    std::uint64_t seed = 1;        // arrivals and jitter
    std::string run_id;            // part of every notification id, unique per run
};

}  // namespace herald::storm

#pragma once

#include "record.hpp"
#include "storm_config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace herald::storm {

// An open-loop storm of notifications, each retried the way the incident's clients retried.
//
// Arrivals do not wait for answers: notification i starts at its arrival time whatever the
// server is doing, so a slow server faces a growing number of concurrent clients, as in
// production. Each notification then runs its own loop: an attempt bounded by attempt_timeout
// (connect, write and read together; on timeout the connection is closed, as a client that gives
// up does), and after a retryable failure (timeout, connection error, 408, 429, 5xx) a sleep of
// full jitter, uniform in [0, min(backoff_max, backoff_base × 2^(n-1))], at least the
// Retry-After when honoured, unless that would start the next attempt past the retry window.
//
// Everything runs on the one io_context given (one thread); run() ends when the last
// notification has finished, which is bounded by duration + retry_window + attempt_timeout.
// Records stay valid for the Storm's lifetime.
class Storm {
public:
    Storm(boost::asio::io_context& io, StormConfig config);

    boost::asio::awaitable<void> run();

    // Every notification started so far, in arrival order.
    const std::deque<NotificationRecord>& records() const { return records_; }
    const StormConfig& config() const { return config_; }
    std::size_t running() const { return running_; }

private:
    using Stream = boost::beast::tcp_stream;
    using Request = boost::beast::http::request<boost::beast::http::string_body>;

    struct AttemptAnswer {
        Attempt attempt;
        std::optional<Millis> retry_after;
    };

    boost::asio::awaitable<void> notify(NotificationRecord& record);
    boost::asio::awaitable<AttemptAnswer> attempt(const Request& request);
    boost::asio::awaitable<void> sleep(Millis delay);
    Request make_request(const std::string& id) const;
    std::chrono::nanoseconds next_gap();
    Millis backoff(int failed_attempts);
    std::unique_ptr<Stream> take_idle();
    void finish_one();

    boost::asio::io_context& io_;
    StormConfig config_;
    std::mt19937_64 random_;
    std::deque<NotificationRecord> records_;
    std::vector<std::unique_ptr<Stream>> idle_;  // kept-alive connections, when keep_alive
    std::size_t running_ = 0;                    // notifications not finished yet
    std::size_t open_ = 0;                       // attempts in flight
    bool arrivals_done_ = false;
    boost::asio::steady_timer all_done_;
};

}  // namespace herald::storm

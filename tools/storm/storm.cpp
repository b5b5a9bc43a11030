#include "storm.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <iostream>

namespace herald::storm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseBytes = 1024 * 1024;
constexpr std::int64_t kMaxRetryAfterSeconds = 60;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t micros_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

bool retryable(const Attempt& attempt) {
    if (attempt.result != AttemptResult::http_error) {
        return attempt.result != AttemptResult::ok;
    }
    return attempt.status == 408 || attempt.status == 429 || attempt.status >= 500;
}

// Retry-After in whole seconds (the form herald and the mock send); an HTTP-date is ignored.
std::optional<Millis> parse_retry_after(std::string_view value) {
    std::int64_t seconds = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error != std::errc() || end != value.data() + value.size() || seconds < 0) {
        return std::nullopt;
    }
    return Millis{std::min(seconds, kMaxRetryAfterSeconds) * 1000};
}

// A notification coroutine that escapes with an exception is a bug in the storm: say so.
void report_escape(std::exception_ptr error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::cerr << "herald-storm: coroutine failed: " << e.what() << '\n';
    }
}

}  // namespace

Storm::Storm(asio::io_context& io, StormConfig config)
    : io_(io), config_(std::move(config)), random_(config_.seed), all_done_(io) {}

asio::awaitable<void> Storm::run() {
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + config_.duration;
    auto next = start;
    asio::steady_timer pace(io_);
    for (std::uint64_t index = 0; index < config_.max_notifications; ++index) {
        pace.expires_at(next);
        co_await pace.async_wait(kNoThrow);
        if (std::chrono::steady_clock::now() >= end) {
            break;
        }
        NotificationRecord& record = records_.emplace_back();
        record.id = "storm-" + config_.run_id + "-" + std::to_string(index + 1);
        record.arrival_ms = wall_ms();
        ++running_;
        asio::co_spawn(io_, notify(record), report_escape);
        next += next_gap();
    }

    arrivals_done_ = true;
    if (running_ > 0) {
        all_done_.expires_at(std::chrono::steady_clock::time_point::max());
        co_await all_done_.async_wait(kNoThrow);
    }
    idle_.clear();
}

void Storm::finish_one() {
    --running_;
    if (running_ == 0 && arrivals_done_) {
        all_done_.cancel();
    }
}

asio::awaitable<void> Storm::notify(NotificationRecord& record) {
    const Request request = make_request(record.id);
    const auto arrival = std::chrono::steady_clock::now();
    const auto window_end = arrival + config_.retry_window;
    for (int number = 1;; ++number) {
        AttemptAnswer answer = co_await attempt(request);
        record.attempts.push_back(answer.attempt);
        record.done_ms = answer.attempt.end_ms();
        if (answer.attempt.result == AttemptResult::ok) {
            record.outcome = Outcome::ok;
            record.latency_us = micros_since(arrival);
            break;
        }
        if (!retryable(answer.attempt)) {
            record.outcome = Outcome::rejected;
            break;
        }
        Millis delay = backoff(number);
        if (config_.honor_retry_after && answer.retry_after) {
            delay = std::max(delay, *answer.retry_after);
        }
        if (number >= config_.max_attempts ||
            std::chrono::steady_clock::now() + delay >= window_end) {
            record.outcome = Outcome::gave_up;
            break;
        }
        co_await sleep(delay);
    }
    finish_one();
}

asio::awaitable<Storm::AttemptAnswer> Storm::attempt(const Request& request) {
    AttemptAnswer answer;
    answer.attempt.start_ms = wall_ms();
    const auto start = std::chrono::steady_clock::now();
    if (open_ >= config_.max_open) {
        answer.attempt.result = AttemptResult::local_limit;
        co_return answer;
    }
    ++open_;
    struct Open {
        std::size_t& count;
        ~Open() { --count; }
    } const open{open_};

    std::unique_ptr<Stream> stream = take_idle();
    const bool fresh = !stream;
    if (fresh) {
        stream = std::make_unique<Stream>(io_);
    }
    // One deadline for the whole attempt: tcp_stream keeps the expiry across operations.
    stream->expires_after(config_.attempt_timeout);
    const auto fail = [&](AttemptResult result) {
        answer.attempt.result = result;
        answer.attempt.latency_us = micros_since(start);
        beast::error_code ignored;
        stream->socket().close(ignored);
        return answer;
    };

    if (fresh) {
        auto [error] = co_await stream->async_connect(config_.target.endpoint, kNoThrow);
        if (error) {
            co_return fail(error == beast::error::timeout ? AttemptResult::timeout
                                                          : AttemptResult::connect_error);
        }
    }
    auto [write_error, written] = co_await http::async_write(*stream, request, kNoThrow);
    if (write_error) {
        co_return fail(write_error == beast::error::timeout ? AttemptResult::timeout
                                                            : AttemptResult::io_error);
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    auto [read_error, read] = co_await http::async_read(*stream, buffer, parser, kNoThrow);
    if (read_error) {
        co_return fail(read_error == beast::error::timeout ? AttemptResult::timeout
                                                           : AttemptResult::io_error);
    }

    const auto& response = parser.get();
    answer.attempt.latency_us = micros_since(start);
    answer.attempt.status = static_cast<int>(response.result_int());
    answer.attempt.result =
        answer.attempt.status / 100 == 2 ? AttemptResult::ok : AttemptResult::http_error;
    if (const auto found = response.find(http::field::retry_after); found != response.end()) {
        answer.retry_after = parse_retry_after(found->value());
    }
    if (config_.keep_alive && response.keep_alive()) {
        stream->expires_never();
        idle_.push_back(std::move(stream));
    } else {
        beast::error_code ignored;
        stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        stream->socket().close(ignored);
    }
    co_return answer;
}

std::unique_ptr<Storm::Stream> Storm::take_idle() {
    if (idle_.empty()) {
        return nullptr;
    }
    auto stream = std::move(idle_.back());
    idle_.pop_back();
    return stream;
}

asio::awaitable<void> Storm::sleep(Millis delay) {
    asio::steady_timer timer(io_, delay);
    co_await timer.async_wait(kNoThrow);
}

Storm::Request Storm::make_request(const std::string& id) const {
    Request request(http::verb::post, config_.target.path, 11);
    request.set(http::field::host, config_.target.host);
    request.set(http::field::user_agent, "herald-storm");
    request.set(http::field::content_type, "application/json");
    if (config_.idempotency_key) {
        request.set("Idempotency-Key", id);
    }
    if (config_.prefer_wait > 0) {
        request.set("Prefer", "wait=" + std::to_string(config_.prefer_wait));
    }
    if (config_.deadline_header) {
        request.set("X-Request-Timeout-Ms", std::to_string(config_.attempt_timeout.count()));
    }
    if (!config_.api_key.empty()) {
        request.set(http::field::authorization, "Bearer " + config_.api_key);
    }
    request.keep_alive(config_.keep_alive);
    request.body() = boost::json::serialize(boost::json::object{
        {"from", "Storm <storm@example.com>"},
        {"to", boost::json::array{"storm-sink@example.com"}},
        {"subject", "storm notification " + id},
        {"text", "notification " + id + "\n"},
    });
    request.prepare_payload();
    return request;
}

std::chrono::nanoseconds Storm::next_gap() {
    const double mean_ns = 1e9 / config_.rate;
    if (config_.arrivals == Arrivals::fixed) {
        return std::chrono::nanoseconds{std::llround(mean_ns)};
    }
    std::exponential_distribution<double> gap(1.0 / mean_ns);
    return std::chrono::nanoseconds{std::llround(gap(random_))};
}

Millis Storm::backoff(int failed_attempts) {
    const int doublings = std::min(failed_attempts - 1, 30);
    const double cap =
        std::min(static_cast<double>(config_.backoff_max.count()),
                 static_cast<double>(config_.backoff_base.count()) * std::ldexp(1.0, doublings));
    std::uniform_real_distribution<double> jitter(0.0, cap);
    return Millis{static_cast<std::int64_t>(jitter(random_))};
}

}  // namespace herald::storm

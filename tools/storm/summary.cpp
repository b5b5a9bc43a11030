#include "summary.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace herald::storm {
namespace {

// Nearest-rank percentiles of microsecond samples, reported in milliseconds.
boost::json::object percentiles(std::vector<std::int64_t> samples) {
    if (samples.empty()) {
        return {{"p50", nullptr}, {"p95", nullptr}, {"p99", nullptr}, {"max", nullptr}};
    }
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double fraction) {
        const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(samples.size()));
        return static_cast<double>(samples[std::min(rank, samples.size() - 1)]) / 1000.0;
    };
    return {{"p50", at(0.50)},
            {"p95", at(0.95)},
            {"p99", at(0.99)},
            {"max", static_cast<double>(samples.back()) / 1000.0}};
}

double percent(std::uint64_t part, std::uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string number(const boost::json::value& value) {
    if (value.is_null()) {
        return "-";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", value.to_number<double>());
    return text;
}

}  // namespace

boost::json::object summarize(const std::deque<NotificationRecord>& records) {
    std::uint64_t ok = 0;
    std::uint64_t attempts = 0;
    std::uint64_t timeouts = 0;
    std::map<std::string, std::uint64_t> results;
    std::map<std::string, std::uint64_t> statuses;
    std::map<std::string, std::uint64_t> outcomes;
    std::vector<std::int64_t> attempt_latencies;
    std::vector<std::int64_t> notification_latencies;
    std::int64_t first_arrival = 0;
    std::int64_t last_done = 0;

    for (const NotificationRecord& record : records) {
        ++outcomes[to_string(record.outcome)];
        if (record.outcome == Outcome::ok) {
            ++ok;
            notification_latencies.push_back(record.latency_us);
        }
        first_arrival = first_arrival == 0 ? record.arrival_ms : first_arrival;
        last_done = std::max(last_done, record.done_ms);
        for (const Attempt& attempt : record.attempts) {
            ++attempts;
            ++results[to_string(attempt.result)];
            timeouts += attempt.result == AttemptResult::timeout ? 1 : 0;
            if (attempt.status != 0) {
                ++statuses[std::to_string(attempt.status)];
            }
            attempt_latencies.push_back(attempt.latency_us);
        }
    }

    const auto to_object = [](const std::map<std::string, std::uint64_t>& counts) {
        boost::json::object out;
        for (const auto& [name, count] : counts) {
            out[name] = count;
        }
        return out;
    };
    const double notifications = static_cast<double>(records.size());
    return {
        {"notifications", records.size()},
        {"ok_pct", percent(ok, records.size())},
        {"attempts", attempts},
        {"attempts_per_notification",
         records.empty() ? 0.0 : static_cast<double>(attempts) / notifications},
        {"attempt_timeout_pct", percent(timeouts, attempts)},
        {"outcomes", to_object(outcomes)},
        {"results", to_object(results)},
        {"statuses", to_object(statuses)},
        {"attempt_latency_ms", percentiles(std::move(attempt_latencies))},
        {"notification_latency_ms", percentiles(std::move(notification_latencies))},
        {"first_arrival_ms", first_arrival},
        {"last_done_ms", last_done},
    };
}

void print_summary(std::ostream& out, const boost::json::object& summary) {
    const auto& attempt = summary.at("attempt_latency_ms").as_object();
    const auto& whole = summary.at("notification_latency_ms").as_object();
    out << "notifications " << summary.at("notifications").as_uint64() << ", ok "
        << number(summary.at("ok_pct")) << " %, attempts " << summary.at("attempts").as_uint64()
        << " (" << number(summary.at("attempts_per_notification"))
        << " per notification), attempt timeouts " << number(summary.at("attempt_timeout_pct"))
        << " %\n";
    out << "attempt latency ms: p50 " << number(attempt.at("p50")) << ", p95 "
        << number(attempt.at("p95")) << ", p99 " << number(attempt.at("p99")) << ", max "
        << number(attempt.at("max")) << "\n";
    out << "notification latency ms (arrival to answer, ok only): p50 " << number(whole.at("p50"))
        << ", p95 " << number(whole.at("p95")) << ", p99 " << number(whole.at("p99")) << "\n";
    out << "outcomes " << boost::json::serialize(summary.at("outcomes")) << ", attempt results "
        << boost::json::serialize(summary.at("results")) << ", statuses "
        << boost::json::serialize(summary.at("statuses")) << "\n";
}

}  // namespace herald::storm

// herald-storm: the incident's clients, as a load generator. Open-loop arrivals of logical
// notifications, each retried with a per-attempt timeout, exponential backoff with full jitter
// and a total retry window, against herald or the reference peer on this machine (loopback
// only). Prints a summary and writes one JSON line per notification. See storm.hpp for the
// retry loop and docs/lab.md for how the lab uses it.

#include "storm.hpp"
#include "summary.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

namespace {

constexpr double kMaxRate = 100000;
constexpr int kMaxDurationS = 3600;
constexpr std::uint64_t kMaxNotifications = 5000000;

std::string random_run_id() {
    std::random_device device;
    char text[9];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(device()));
    return text;
}

bool write_lines(const std::string& path, const herald::storm::Storm& storm) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& record : storm.records()) {
        out << boost::json::serialize(record.to_json()) << '\n';
    }
    return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
    using herald::storm::Millis;
    CLI::App app{"herald-storm: open-loop notification load with the incident's retry behaviour"};
    std::string url;
    std::string arrivals = "fixed";
    double duration_s = 10;
    double attempt_timeout_s = 10;
    double backoff_base_s = 1;
    double backoff_max_s = 30;
    double retry_window_s = 600;
    std::uint64_t max_notifications = 0;
    std::string out_path;
    std::string summary_path;
    herald::storm::StormConfig config;
    config.run_id = random_run_id();

    app.add_option("--url", url, "http://127.0.0.1:PORT/v1/notifications (loopback only)")
        ->required();
    app.add_option("--rate", config.rate, "new notifications per second")
        ->check(CLI::Range(0.001, kMaxRate));
    app.add_option("--arrivals", arrivals, "fixed or poisson")
        ->check(CLI::IsMember({"fixed", "poisson"}));
    app.add_option("--duration", duration_s, "seconds during which notifications arrive")
        ->check(CLI::Range(0.001, static_cast<double>(kMaxDurationS)));
    app.add_option("--max-notifications", max_notifications, "hard cap (default rate × duration)")
        ->check(CLI::Range(std::uint64_t{1}, kMaxNotifications));
    app.add_option("--attempt-timeout", attempt_timeout_s, "seconds per attempt")
        ->check(CLI::Range(0.001, 300.0));
    app.add_option("--backoff-base", backoff_base_s, "seconds: cap of the first retry delay")
        ->check(CLI::Range(0.0, 600.0));
    app.add_option("--backoff-max", backoff_max_s, "seconds: largest retry delay cap")
        ->check(CLI::Range(0.0, 3600.0));
    app.add_option("--retry-window", retry_window_s, "seconds after arrival a retry may start")
        ->check(CLI::Range(0.0, static_cast<double>(kMaxDurationS)));
    app.add_option("--max-attempts", config.max_attempts, "attempts per notification")
        ->check(CLI::Range(1, 1000));
    app.add_flag("--idempotency-key", config.idempotency_key, "send Idempotency-Key: <id>");
    app.add_option("--prefer-wait", config.prefer_wait, "send Prefer: wait=N (seconds)")
        ->check(CLI::Range(0, 3600));
    app.add_flag("--deadline-header",
                 config.deadline_header,
                 "send X-Request-Timeout-Ms with the attempt timeout");
    app.add_flag("--keep-alive", config.keep_alive, "reuse connections (default: one per attempt)");
    app.add_flag(
        "!--ignore-retry-after", config.honor_retry_after, "retry sooner than Retry-After");
    app.add_option("--api-key", config.api_key, "Authorization: Bearer KEY");
    app.add_option("--max-open", config.max_open, "attempts in flight at once")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    app.add_option("--seed", config.seed, "seed of arrivals and jitter");
    app.add_option("--run-id", config.run_id, "part of every notification id (default: random)")
        ->check([](const std::string& id) {
            const bool ok =
                !id.empty() && id.size() <= 32 &&
                id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") == std::string::npos;
            return ok ? std::string{} : std::string{"1 to 32 of [0-9a-z]"};
        });
    app.add_option("--out", out_path, "write one JSON line per notification here");
    app.add_option("--summary-out", summary_path, "write the summary as JSON here");
    CLI11_PARSE(app, argc, argv);

    try {
        config.target = herald::storm::parse_target(url);
    } catch (const std::exception& e) {
        std::cerr << "herald-storm: " << e.what() << '\n';
        return 2;
    }
    config.arrivals =
        arrivals == "poisson" ? herald::storm::Arrivals::poisson : herald::storm::Arrivals::fixed;
    const auto seconds = [](double s) { return Millis{std::llround(s * 1000)}; };
    config.duration = seconds(duration_s);
    config.attempt_timeout = seconds(attempt_timeout_s);
    config.backoff_base = seconds(backoff_base_s);
    config.backoff_max = seconds(backoff_max_s);
    config.retry_window = seconds(retry_window_s);
    const auto planned = static_cast<std::uint64_t>(std::ceil(config.rate * duration_s));
    config.max_notifications =
        max_notifications > 0 ? max_notifications : std::min(planned + 1, kMaxNotifications);

    std::signal(SIGPIPE, SIG_IGN);
    boost::asio::io_context io(1);
    herald::storm::Storm storm(io, config);
    boost::asio::co_spawn(io, storm.run(), [&io](std::exception_ptr error) {
        if (error) {
            std::cerr << "herald-storm: the storm failed\n";
        }
        io.stop();
    });

    // The natural end is bounded by duration + retry window + one attempt; the hard stop is a
    // backstop a little later, after which unfinished notifications are reported as cut_off.
    boost::asio::steady_timer hard_stop(
        io, config.duration + config.retry_window + config.attempt_timeout + Millis{10000});
    hard_stop.async_wait([&io](const boost::system::error_code& error) {
        if (!error) {
            std::cerr << "herald-storm: hard stop reached\n";
            io.stop();
        }
    });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](const boost::system::error_code& error, int) {
        if (!error) {
            io.stop();
        }
    });

    const auto started = std::chrono::steady_clock::now();
    io.run();
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    auto summary = herald::storm::summarize(storm.records());
    summary["run_id"] = config.run_id;
    summary["elapsed_s"] = elapsed_s;
    summary["attempts_per_s"] =
        elapsed_s > 0 ? static_cast<double>(summary.at("attempts").as_uint64()) / elapsed_s : 0.0;
    std::cout << "herald-storm run " << config.run_id << " against " << url << " (" << elapsed_s
              << " s, " << summary.at("attempts_per_s").as_double() << " attempts/s)\n";
    herald::storm::print_summary(std::cout, summary);

    if (!out_path.empty() && !write_lines(out_path, storm)) {
        std::cerr << "herald-storm: cannot write " << out_path << '\n';
        return 1;
    }
    if (!summary_path.empty()) {
        std::ofstream out(summary_path, std::ios::trunc);
        out << boost::json::serialize(summary) << '\n';
        if (!out.flush()) {
            std::cerr << "herald-storm: cannot write " << summary_path << '\n';
            return 1;
        }
    }
    return 0;
}

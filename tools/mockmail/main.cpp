// herald-mockmail: a mock email API that records every send, for tests and the incident lab.
// See mock_server.hpp for the routes and fault_plan.hpp for the faults it can inject.

#include "mock_server.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

namespace {

boost::asio::ip::tcp::endpoint parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        throw std::invalid_argument("--listen must be HOST:PORT");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) {
        throw std::invalid_argument("--listen port out of range");
    }
    return {boost::asio::ip::make_address(host), static_cast<unsigned short>(port)};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"herald-mockmail: a mock email API that records every send"};
    std::string listen = "127.0.0.1:0";
    int latency_ms = 0;
    herald::mockmail::FaultOptions faults;
    app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)");
    app.add_option("--latency-ms", latency_ms, "delay before answering a send")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--latency-count",
                   faults.latency_count,
                   "delay only this many of the first sends (default: every send)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--fail-status", faults.fail_status, "status of the failed sends")
        ->check(CLI::Range(100, 599));
    app.add_option("--fail-count", faults.fail_count, "answer this many sends with --fail-status")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--retry-after", faults.retry_after, "Retry-After value on failed sends");
    app.add_option("--drop-count",
                   faults.drop_count,
                   "read this many sends, then close the connection without answering")
        ->check(CLI::NonNegativeNumber);
    int fail_for_ms = 0;
    app.add_option("--fail-for-ms",
                   fail_for_ms,
                   "an outage: fail every send for this long after the start (or a reset)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--rate-limit",
                   faults.rate_limit,
                   "accept at most this many sends a second; answer the rest 429 with Retry-After")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--rate-burst", faults.rate_burst, "sends the rate limit lets through at once")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);
    faults.latency = std::chrono::milliseconds{latency_ms};
    faults.fail_for = std::chrono::milliseconds{fail_for_ms};

    try {
        std::signal(SIGPIPE, SIG_IGN);
        boost::asio::io_context io(1);
        herald::mockmail::MockServer server(io, parse_listen(listen), faults);
        server.start();

        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });

        const auto endpoint = server.local_endpoint();
        std::cout << "{\"listening\":\"" << endpoint.address().to_string() << ':' << endpoint.port()
                  << "\"}" << std::endl;
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "herald-mockmail: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

#pragma once

#include "http/deadline.hpp"
#include "http/io_pool.hpp"
#include "http/router.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace herald::observe {
class LoopActivity;
}

namespace herald::http {

struct ServerOptions {
    std::size_t max_connections = 1024;
    std::chrono::milliseconds header_timeout{10000};  // from a request's first byte to its headers
    std::chrono::milliseconds body_timeout{30000};
    std::chrono::milliseconds idle_timeout{60000};  // keep-alive wait for the next request
    std::chrono::milliseconds write_timeout{30000};
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;
    DeadlineOptions deadlines;  // each request's deadline, from its arrival
    // Requests being handled at once; one more is answered 503 with Retry-After, unhandled.
    std::size_t max_in_flight = 4096;
    // Where each I/O thread records the request it handles (route pattern and request id), from
    // the moment its handler starts until its response is written, so that the loop watchdog
    // can name the request that held a stalled loop. Indexed like the pool's contexts; it has
    // at least as many slots and outlives the pool. Null: nothing is recorded.
    observe::LoopActivity* activity = nullptr;
    // Route patterns whose requests get no span exported (scrapes and probes); their handlers
    // still get a context.
    std::vector<std::string> untraced_routes;
};

// Called once per answered request, on the I/O thread, after the response was written (or the
// write failed). For access logs and metrics; must not block.
struct RequestSummary {
    std::string request_id;
    std::string method;
    std::string route;  // the route pattern, or "" when none matched
    int status = 0;
    std::chrono::microseconds duration{0};
    bool write_failed = false;
    bool client_gone = false;  // the client left while a watching handler ran: not answered
    std::string trace_id;      // the request span's trace and span, lower-case hex
    std::string span_id;
};
using RequestObserver = std::function<void(const RequestSummary&)>;

// An HTTP/1.1 server: keep-alive, pipelined requests answered in order, limits on header and
// body size and on the time to read them, and a cap on open connections (a connection over the
// cap gets 503 with Retry-After and is closed without its request being read). Each request
// gets a deadline from its timeout headers (deadline.hpp): a malformed one is answered 400
// naming the header, and a request whose deadline has passed by the time it is read is
// answered 504 without its handler running.
//
// Threads: accepting runs on the pool's first context; each connection runs on one context
// for its whole life. The Router must outlive the server and not change once serving starts.
class Server {
public:
    Server(IoPool& pool, ServerOptions options, const Router& router, RequestObserver observer);
    ~Server();

    // Binds and starts accepting. Returns the bound endpoint (the real port when 0 was asked).
    boost::system::result<boost::asio::ip::tcp::endpoint, std::string> listen(
        const std::string& host, unsigned short port);

    // Stops accepting; connections finish the request they are in and then close, idle ones
    // close at once. Thread-safe; does not wait.
    void begin_drain();

    // Blocks the calling thread (never an I/O thread) until no request is being handled or
    // `timeout` passes. Returns true when nothing was left in flight.
    bool wait_idle(std::chrono::milliseconds timeout) const;

    bool draining() const;
    std::size_t open_connections() const;
    std::size_t requests_in_flight() const;

    struct Shared;  // state the connection coroutines share with the server

private:
    IoPool& pool_;
    std::shared_ptr<Shared> shared_;
};

}  // namespace herald::http

#include "http/server.hpp"

#include "core/text.hpp"
#include "observe/log.hpp"
#include "observe/loop_activity.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <list>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

namespace herald::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

// One open connection. Touched only on its own io_context; begin_drain posts there.
struct Connection {
    Connection(tcp::socket socket, std::size_t l) : stream(std::move(socket)), loop(l) {}
    beast::tcp_stream stream;
    const std::size_t loop;  // the index of its io_context in the pool
    bool idle = true;        // waiting for the first byte of a request
};

// Names the request a connection's thread handles in ServerOptions::activity, from begin()
// until the mark is destroyed: after the response is written, or when the connection ends.
class ActivityMark {
public:
    ActivityMark(observe::LoopActivity* activity, std::size_t loop)
        : activity_(activity), loop_(loop) {}
    ~ActivityMark() {
        if (begun_) {
            activity_->end(loop_, token_);
        }
    }
    ActivityMark(const ActivityMark&) = delete;
    ActivityMark& operator=(const ActivityMark&) = delete;

    void begin(std::string_view route, std::string_view request_id) {
        if (activity_ == nullptr) {
            return;
        }
        token_ = activity_->begin(loop_, route, request_id);
        begun_ = true;
    }

private:
    observe::LoopActivity* activity_;
    std::size_t loop_;
    std::uint64_t token_ = 0;
    bool begun_ = false;
};

std::string random_prefix() {
    std::random_device device;
    return fmt::format("{:08x}", device());
}

}  // namespace

struct Server::Shared {
    Shared(ServerOptions o, const Router& r, RequestObserver obs)
        : options(o), router(r), observer(std::move(obs)), id_prefix(random_prefix()) {}

    const ServerOptions options;
    const Router& router;
    const RequestObserver observer;
    const std::string id_prefix;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::uint64_t> request_counter{0};
    std::unique_ptr<tcp::acceptor> acceptor;  // used only on the pool's first context

    std::mutex mutex;  // guards `open`
    std::list<std::weak_ptr<Connection>> open;

    std::string next_request_id() {
        return fmt::format("{}-{}", id_prefix, request_counter.fetch_add(1) + 1);
    }
};

namespace {

using SharedPtr = std::shared_ptr<Server::Shared>;

asio::awaitable<void> write_and_close(Connection& connection, Response response) {
    response.keep_alive(false);
    response.prepare_payload();
    connection.stream.expires_after(std::chrono::seconds(5));
    co_await beast::http::async_write(connection.stream, response, kNoThrow);
    beast::error_code ignored;
    connection.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// The name of the first header field whose line holds a byte no field may hold (a control
// character other than tab: a bare CR or LF included), so that the refusal can name the field;
// "" when no such line is found. `head` is what the parser left of the request head it refused
// (it may have consumed the lines before the bad one); a request line never yields a name, since
// a name holds no space.
std::string offending_field(std::string_view head) {
    constexpr std::size_t kMaxNameBytes = 64;
    while (!head.empty()) {
        const auto end = head.find("\r\n");
        const std::string_view line = head.substr(0, end);
        if (line.empty()) {
            return {};  // the end of the head
        }
        const bool bad = std::any_of(line.begin(), line.end(), [](char c) {
            const auto byte = static_cast<unsigned char>(c);
            return (byte < 0x20 && byte != '\t') || byte == 0x7f;
        });
        const auto colon = line.find(':');
        if (bad && colon != std::string_view::npos && colon > 0) {
            const std::string_view name = line.substr(0, std::min(colon, kMaxNameBytes));
            const bool printable =
                std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
            return printable ? std::string{name} : std::string{};
        }
        if (end == std::string_view::npos) {
            return {};
        }
        head.remove_prefix(end + 2);
    }
    return {};
}

// Answers a request that could not be read completely, then the connection closes. `head` is
// what was read of the request so far, to name a bad header field.
Response read_failure_response(const beast::error_code& ec, std::string_view head = {}) {
    if (ec == beast::http::error::header_limit) {
        return problem_response(Status::request_header_fields_too_large,
                                "headers-too-large",
                                "Request headers too large",
                                "the request headers exceed the server's limit");
    }
    if (ec == beast::http::error::body_limit) {
        return problem_response(Status::payload_too_large,
                                "body-too-large",
                                "Request body too large",
                                "the request body exceeds the server's limit");
    }
    if (const std::string field = offending_field(head); !field.empty()) {
        const std::string detail = "the value holds a control character (CR, LF or another)";
        return problem_response(Status::bad_request,
                                "malformed-request",
                                "Malformed request",
                                "header " + field + ": " + detail,
                                {FieldProblem{{}, detail, field}});
    }
    return problem_response(
        Status::bad_request, "malformed-request", "Malformed request", ec.message());
}

// The peer left, or was too slow (tcp_stream closes the socket on timeout, so nothing can be
// written back).
bool is_silent_close(const beast::error_code& ec) {
    return ec == beast::error::timeout || ec == beast::http::error::end_of_stream ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
}

void log_escape(std::exception_ptr error);

// Reads ahead on a connection while its handler runs, once the handler asks (PeerWatch), to see
// the client leave. Bytes that arrive (a pipelined request) go into the connection's buffer;
// once `kMaxReadAhead` bytes wait there it stops reading, and a later departure goes unseen.
class ConnectionWatch final : public PeerWatch {
public:
    static constexpr std::size_t kMaxReadAhead = 64 * 1024;
    // Reads ahead in pieces this small: usually it only ever sees the end of the connection.
    static constexpr std::size_t kReadAheadChunk = 512;

    // `first_byte_at` is the connection's note of when the first byte waiting in `buffer`
    // arrived; a read into an empty buffer sets it.
    ConnectionWatch(tcp::socket& socket,
                    beast::flat_buffer& buffer,
                    std::chrono::steady_clock::time_point& first_byte_at)
        : socket_(socket),
          buffer_(buffer),
          first_byte_at_(first_byte_at),
          done_(socket.get_executor()) {}

    void watch(std::function<void()> on_gone) override {
        on_gone_ = std::move(on_gone);
        if (gone_) {
            notify();
            return;
        }
        if (started_) {
            return;
        }
        started_ = true;
        running_ = true;
        asio::co_spawn(socket_.get_executor(), read_ahead(), log_escape);
    }

    bool gone() const override { return gone_; }

    // Stops reading ahead and waits until the read has ended. Call when the handler returned.
    asio::awaitable<void> stop() {
        if (!running_) {
            co_return;
        }
        stopping_ = true;
        beast::error_code ignored;
        socket_.cancel(ignored);
        done_.expires_at(std::chrono::steady_clock::time_point::max());
        while (running_) {
            co_await done_.async_wait(kNoThrow);
        }
    }

private:
    asio::awaitable<void> read_ahead() {
        while (!stopping_ && buffer_.size() < kMaxReadAhead) {
            auto [ec, n] =
                co_await socket_.async_read_some(buffer_.prepare(kReadAheadChunk), kNoThrow);
            if (ec) {
                if (!stopping_) {
                    // EOF, reset, or any other end of the connection. A client that only shut
                    // down its sending side (FIN) and would still read the answer is taken as
                    // gone too: HTTP/1.1 clients do not half-close to wait for an answer.
                    gone_ = true;
                    notify();
                }
                break;
            }
            if (buffer_.size() == 0) {
                first_byte_at_ = std::chrono::steady_clock::now();
            }
            buffer_.commit(n);
        }
        running_ = false;
        done_.cancel();
    }

    void notify() {
        if (on_gone_) {
            auto callback = std::exchange(on_gone_, nullptr);
            callback();
        }
    }

    tcp::socket& socket_;
    beast::flat_buffer& buffer_;
    std::chrono::steady_clock::time_point& first_byte_at_;
    asio::steady_timer done_;  // cancelled when read_ahead() ends
    std::function<void()> on_gone_;
    bool started_ = false;
    bool running_ = false;
    bool stopping_ = false;
    bool gone_ = false;
};

// A request no route should see: an HTTP/1.1 request without Host or with more than one (RFC
// 9112, section 3.2, asks for 400), or a method herald does not know at all (501, RFC 9110,
// section 9.1).
std::optional<Response> framing_refusal(const Request& request) {
    if (request.method() == beast::http::verb::unknown) {
        return problem_response(Status::not_implemented,
                                "unknown-method",
                                "Method not implemented",
                                "the server does not know this request method");
    }
    const auto [first_host, end_host] = request.equal_range(beast::http::field::host);
    if (first_host != end_host && std::next(first_host) != end_host) {
        return problem_response(Status::bad_request,
                                "duplicate-host",
                                "Host header repeated",
                                "a request must carry one Host header",
                                {FieldProblem{{}, "sent more than once", "Host"}});
    }
    if (request.version() >= 11 && first_host == end_host) {
        return problem_response(Status::bad_request,
                                "missing-host",
                                "Host header missing",
                                "an HTTP/1.1 request must carry a Host header",
                                {FieldProblem{{}, "required", "Host"}});
    }
    return std::nullopt;
}

// The request's span: a child of its traceparent when that is valid (exactly one header, W3C
// rules), else the root of a new trace; tracestate (several headers join with commas) is kept
// only under a valid traceparent and only when well-formed.
observe::Span request_span(const Request& request,
                           const std::string& method,
                           const std::string& route,
                           bool traced) {
    std::optional<observe::TraceContext> parent;
    const auto [first, last] = request.equal_range("traceparent");
    if (first != last && std::next(first) == last) {
        parent = observe::parse_traceparent(core::trim_blanks(first->value()));
    }
    if (parent) {
        std::string state;
        const auto [state_first, state_last] = request.equal_range("tracestate");
        for (auto field = state_first; field != state_last; ++field) {
            state += (state.empty() ? "" : ",") + std::string{field->value()};
        }
        parent->trace_state = observe::checked_tracestate(state);
    }
    if (!traced) {
        // A context to hand on, in a trace marked unsampled: nothing of it is exported.
        observe::TraceContext unsampled = parent ? *parent : observe::new_trace_context();
        unsampled.flags = 0;
        return observe::start_span({}, observe::SpanKind::server, &unsampled);
    }
    auto span = observe::start_span(route.empty() ? method : method + " " + route,
                                    observe::SpanKind::server,
                                    parent ? &*parent : nullptr);
    span.set("http.request.method", method);
    span.set("http.route", route);
    return span;
}

asio::awaitable<Response> run_handler(const Handler& handler, RequestContext context) {
    std::string failure;
    try {
        co_return co_await handler(std::move(context));
    } catch (const std::exception& e) {
        failure = e.what();
    }
    observe::error("handler threw", {{"error", failure}});
    co_return problem_response(Status::internal_server_error,
                               "internal",
                               "Internal error",
                               "the server failed to handle the request");
}

// Reads requests one after another and answers each before reading the next, so pipelined
// requests are answered in order.
asio::awaitable<void> serve_connection(SharedPtr shared, std::shared_ptr<Connection> connection) {
    const ServerOptions& options = shared->options;
    beast::flat_buffer buffer;
    auto& stream = connection->stream;
    // When the first byte now waiting in `buffer` arrived (meaningful while it is not empty).
    auto first_byte_at = std::chrono::steady_clock::now();

    for (;;) {
        connection->idle = true;
        if (shared->draining.load()) {
            break;
        }
        if (buffer.size() == 0) {
            stream.expires_after(options.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kNoThrow);
            if (ec) {
                break;
            }
            buffer.commit(n);
            first_byte_at = std::chrono::steady_clock::now();
        }
        connection->idle = false;

        beast::http::request_parser<beast::http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
        parser.body_limit(options.max_body_bytes);
        stream.expires_after(options.header_timeout);
        auto [header_ec, header_n] =
            co_await beast::http::async_read_header(stream, buffer, parser, kNoThrow);
        if (header_ec) {
            if (!is_silent_close(header_ec)) {
                const std::string_view head{static_cast<const char*>(buffer.data().data()),
                                            buffer.size()};
                co_await write_and_close(*connection, read_failure_response(header_ec, head));
            }
            break;
        }
        // The request's time starts when its first byte arrived: for a pipelined request that
        // waited behind others in the buffer, long before herald reads its headers.
        const auto received_at = first_byte_at;

        const auto& header = parser.get();
        // A transfer coding other than chunked alone leaves the body's end unknown to herald
        // (RFC 9112, section 6.3: answer 400 and close), and reading on would take the body's
        // bytes for the next request.
        if (header.find(beast::http::field::transfer_encoding) != header.end() &&
            !(parser.chunked() &&
              core::iequals_ascii(core::trim_blanks(header[beast::http::field::transfer_encoding]),
                                  "chunked"))) {
            // Built outside the co_await: GCC 12 miscompiles braced temporaries inside it.
            Response refusal = problem_response(
                Status::bad_request,
                "unsupported-transfer-encoding",
                "Unsupported Transfer-Encoding",
                "only Transfer-Encoding: chunked is accepted",
                std::vector<FieldProblem>{FieldProblem{{}, "only chunked", "Transfer-Encoding"}});
            co_await write_and_close(*connection, std::move(refusal));
            break;
        }
        const auto length = parser.content_length();
        if (length && *length > options.max_body_bytes) {
            co_await write_and_close(*connection,
                                     read_failure_response(beast::http::error::body_limit));
            break;
        }
        if (core::iequals_ascii(header[beast::http::field::expect], "100-continue")) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            co_await asio::async_write(stream, asio::buffer(kContinue), kNoThrow);
        }
        stream.expires_after(options.body_timeout);
        auto [body_ec, body_n] = co_await beast::http::async_read(stream, buffer, parser, kNoThrow);
        if (body_ec) {
            if (!is_silent_close(body_ec)) {
                co_await write_and_close(*connection, read_failure_response(body_ec));
            }
            break;
        }
        stream.expires_never();
        // Bytes left in the buffer (the next pipelined request) came with the reads that just
        // ended; later ones come through the watch below, which notes their time itself.
        first_byte_at = std::chrono::steady_clock::now();

        // A handler may wait long (Prefer: wait) on many connections at once: an empty buffer
        // gives its memory back meanwhile, and the watch reads ahead in small pieces.
        if (buffer.size() == 0) {
            buffer.shrink_to_fit();
        }
        ConnectionWatch watch(stream.socket(), buffer, first_byte_at);
        RequestContext context{
            parser.release(), {}, shared->next_request_id(), received_at, &watch};
        const auto budget = request_budget(context.request, options.deadlines);
        if (budget) {
            context.deadline = received_at + *budget;
        }
        bool keep_alive = context.request.keep_alive();
        const std::string method{context.request.method_string()};
        const std::string request_id = context.request_id;

        auto match = shared->router.match(context.request.method(), context.request.target());
        const bool traced = std::find(options.untraced_routes.begin(),
                                      options.untraced_routes.end(),
                                      match.pattern) == options.untraced_routes.end();
        observe::Span span = request_span(context.request, method, match.pattern, traced);
        context.trace = span.context();
        span.set("herald.request_id", request_id);
        ActivityMark mark(options.activity, connection->loop);
        Response response;
        shared->in_flight.fetch_add(1);
        if (auto refusal = framing_refusal(context.request)) {
            response = std::move(*refusal);
            match.pattern.clear();
        } else if (!budget) {
            response = problem_response(Status::bad_request,
                                        "invalid-timeout",
                                        "Invalid timeout header",
                                        budget.error().header + ": " + budget.error().detail,
                                        {budget.error()});
        } else if (shared->in_flight.load() > options.max_in_flight) {
            response = problem_response(Status::service_unavailable,
                                        "overloaded",
                                        "Too many requests in flight",
                                        "the server is handling as many requests as it takes");
            response.set(beast::http::field::retry_after, "1");
        } else if (std::chrono::steady_clock::now() >= context.deadline) {
            response = problem_response(Status::gateway_timeout,
                                        "deadline-expired",
                                        "Deadline expired",
                                        "the request's deadline passed before it could be handled");
        } else if (match.handler == nullptr) {
            response = std::move(match.error);
        } else {
            context.params = std::move(match.params);
            mark.begin(match.pattern, request_id);
            response = co_await run_handler(*match.handler, std::move(context));
        }
        co_await watch.stop();
        shared->in_flight.fetch_sub(1);

        // A client that left is not answered: it could not read the answer.
        const bool gone = watch.gone();
        beast::error_code write_ec;
        if (!gone) {
            if (shared->draining.load()) {
                keep_alive = false;
            }
            response.version(11);
            response.set("X-Request-Id", request_id);
            response.keep_alive(keep_alive);
            response.prepare_payload();
            stream.expires_after(options.write_timeout);
            std::size_t written = 0;
            std::tie(write_ec, written) =
                co_await beast::http::async_write(stream, response, kNoThrow);
        }

        // 499: the "client closed request" of common proxies' access logs.
        const int status = gone ? 499 : static_cast<int>(response.result_int());
        span.set("http.response.status_code", static_cast<std::int64_t>(status));
        if (status >= 500 || gone) {
            span.set_error(gone ? "client gone" : "HTTP " + std::to_string(status));
        }
        const std::string trace_id = span.context().trace_id_hex();
        const std::string span_id = span.context().span_id_hex();
        span.end();
        if (shared->observer) {
            RequestSummary summary{request_id,
                                   method,
                                   match.pattern,
                                   status,
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - received_at),
                                   static_cast<bool>(write_ec)};
            summary.client_gone = gone;
            summary.trace_id = trace_id;
            summary.span_id = span_id;
            shared->observer(summary);
        }
        if (gone || write_ec || !keep_alive) {
            break;
        }
    }

    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

asio::awaitable<void> refuse_connection(tcp::socket socket) {
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
        "Content-Type: application/problem+json\r\nContent-Length: 112\r\n\r\n"
        "{\"type\":\"/problems/too-many-connections\",\"title\":\"Too many connections\","
        "\"status\":503,\"detail\":\"try again later\"}";
    static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 112);
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(2));
    co_await asio::async_write(stream, asio::buffer(kBusy), kNoThrow);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

void log_escape(std::exception_ptr error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        observe::error("connection coroutine threw", {{"error", e.what()}});
    }
}

asio::awaitable<void> accept_loop(SharedPtr shared, IoPool& pool) {
    for (;;) {
        const std::size_t loop = pool.next_index();
        auto& context = pool.at(loop);
        auto [ec, socket] = co_await shared->acceptor->async_accept(context, kNoThrow);
        if (ec) {
            if (ec == asio::error::operation_aborted || !shared->acceptor->is_open()) {
                co_return;
            }
            // Out of descriptors or a transient network error: pause briefly instead of spinning.
            observe::warn("accept failed", {{"error", ec.message()}});
            asio::steady_timer pause(co_await asio::this_coro::executor,
                                     std::chrono::milliseconds(50));
            co_await pause.async_wait(kNoThrow);
            continue;
        }
        if (shared->connections.load() >= shared->options.max_connections) {
            asio::co_spawn(context, refuse_connection(std::move(socket)), log_escape);
            continue;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);

        auto connection = std::make_shared<Connection>(std::move(socket), loop);
        {
            std::lock_guard lock(shared->mutex);
            shared->open.remove_if([](const auto& weak) { return weak.expired(); });
            shared->open.push_back(connection);
        }
        shared->connections.fetch_add(1);
        asio::co_spawn(context,
                       serve_connection(shared, connection),
                       [shared, connection](std::exception_ptr error) {
                           shared->connections.fetch_sub(1);
                           log_escape(error);
                       });
    }
}

}  // namespace

Server::Server(IoPool& pool, ServerOptions options, const Router& router, RequestObserver observer)
    : pool_(pool), shared_(std::make_shared<Shared>(options, router, std::move(observer))) {}

Server::~Server() = default;

boost::system::result<tcp::endpoint, std::string> Server::listen(const std::string& host,
                                                                 unsigned short port) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
        return fmt::format("cannot listen on '{}': not an IP address", host);
    }
    const tcp::endpoint endpoint{address, port};
    auto acceptor = std::make_unique<tcp::acceptor>(pool_.at(0));
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor->bind(endpoint, ec);
    }
    if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return fmt::format("cannot listen on {}:{}: {}", host, port, ec.message());
    }
    const auto bound = acceptor->local_endpoint(ec);
    shared_->acceptor = std::move(acceptor);
    asio::co_spawn(pool_.at(0), accept_loop(shared_, pool_), log_escape);
    return bound;
}

void Server::begin_drain() {
    if (shared_->draining.exchange(true)) {
        return;
    }
    asio::post(pool_.at(0), [shared = shared_] {
        if (shared->acceptor) {
            beast::error_code ignored;
            shared->acceptor->close(ignored);
        }
    });
    std::lock_guard lock(shared_->mutex);
    for (const auto& weak : shared_->open) {
        auto connection = weak.lock();
        if (!connection) {
            continue;
        }
        asio::post(connection->stream.get_executor(), [connection] {
            if (connection->idle) {
                beast::error_code ignored;
                connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
                connection->stream.socket().close(ignored);
            }
        });
    }
}

bool Server::wait_idle(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (shared_->in_flight.load() > 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

bool Server::draining() const {
    return shared_->draining.load();
}

std::size_t Server::open_connections() const {
    return shared_->connections.load();
}

std::size_t Server::requests_in_flight() const {
    return shared_->in_flight.load();
}

}  // namespace herald::http

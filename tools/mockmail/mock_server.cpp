#include "mock_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace herald::mockmail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds{120};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Response json_response(const Request& request,
                       http::status status,
                       const boost::json::value& body) {
    Response response(status, request.version());
    response.set(http::field::server, "herald-mockmail");
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = boost::json::serialize(body);
    response.prepare_payload();
    return response;
}

std::string header(const Request& request, std::string_view name) {
    const auto found = request.find(name);
    return found == request.end() ? std::string() : std::string(found->value());
}

boost::json::value field(const boost::json::value& body, std::string_view key) {
    if (const auto* object = body.if_object()) {
        if (const auto* value = object->if_contains(key)) {
            return *value;
        }
    }
    return nullptr;
}

// The answer of an accepted send, in the shape of its route: SendGrid's 202 with no body,
// Mailgun's 200 {"id":"<mock-N@domain>","message":"Queued. Thank you."}, herald's {"id"}.
Response accepted_response(const Request& request, const RouteMatch& route, std::uint64_t seq) {
    switch (route.route) {
        case SendRoute::sendgrid: {
            Response response(http::status::accepted, request.version());
            response.set(http::field::server, "herald-mockmail");
            response.keep_alive(request.keep_alive());
            response.prepare_payload();
            return response;
        }
        case SendRoute::mailgun:
            return json_response(request,
                                 http::status::ok,
                                 {{"id", "<mock-" + std::to_string(seq) + "@" + route.domain + ">"},
                                  {"message", "Queued. Thank you."}});
        case SendRoute::herald:
            break;
    }
    return json_response(request, http::status::ok, {{"id", "mock-" + std::to_string(seq)}});
}

// Every coroutine ends here: an exception escaping one is a bug in the mock, reported on stderr
// without taking the server down.
void report_escape(std::exception_ptr error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::cerr << "herald-mockmail: coroutine failed: " << e.what() << '\n';
    } catch (...) {
        std::cerr << "herald-mockmail: coroutine failed\n";
    }
}

}  // namespace

MockServer::MockServer(asio::io_context& io, const tcp::endpoint& endpoint, FaultOptions faults)
    : io_(io), acceptor_(io, endpoint), plan_(std::move(faults)) {}

void MockServer::start() {
    asio::co_spawn(io_, accept_loop(), report_escape);
}

asio::awaitable<void> MockServer::accept_loop() {
    for (;;) {
        auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
        if (error) {
            if (error == asio::error::operation_aborted) {
                co_return;
            }
            continue;  // EMFILE and the like: keep serving the connections we have
        }
        asio::co_spawn(io_, serve(std::move(socket)), report_escape);
    }
}

asio::awaitable<void> MockServer::serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    const std::uint64_t connection = ++connections_;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBodyBytes);
        stream.expires_after(kIdleTimeout);
        auto [read_error, read_bytes] =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (read_error) {
            break;
        }

        Request request = parser.release();
        const bool keep_alive = request.keep_alive();
        std::optional<Response> response = co_await handle(std::move(request), connection);
        if (!response) {
            break;  // drop: close without a word
        }
        stream.expires_after(kIdleTimeout);
        auto [write_error, written] =
            co_await http::async_write(stream, *response, asio::as_tuple(asio::use_awaitable));
        if (write_error || !keep_alive) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
}

asio::awaitable<std::optional<Response>> MockServer::handle(Request request,
                                                            std::uint64_t connection) {
    const std::string_view target(request.target().data(), request.target().size());
    const auto method = request.method();

    if (auto route = match_send_route(target); method == http::verb::post && route) {
        co_return co_await handle_send(std::move(request), connection, std::move(*route));
    }
    if (method == http::verb::get && target == "/calls") {
        co_return json_response(request, http::status::ok, log_.to_json());
    }
    if (method == http::verb::get && target == "/stats") {
        co_return json_response(request, http::status::ok, log_.stats());
    }
    if (method == http::verb::get && target == "/keys") {
        co_return json_response(request, http::status::ok, log_.key_counts());
    }
    if (method == http::verb::delete_ && target == "/calls") {
        log_.reset();
        plan_.reset(std::chrono::steady_clock::now());
        co_return json_response(request, http::status::ok, boost::json::object{{"reset", true}});
    }
    co_return json_response(request, http::status::not_found, {{"error", "no such route"}});
}

asio::awaitable<std::optional<Response>> MockServer::handle_send(Request request,
                                                                 std::uint64_t connection,
                                                                 RouteMatch route) {
    Call call;
    call.seq = log_.next_seq();
    call.connection = connection;
    call.received_at_ms = now_ms();
    call.idempotency_key = header(request, "Idempotency-Key");
    call.authorization = request.find(http::field::authorization) != request.end();
    const std::string authorization = header(request, "Authorization");
    call.authorization_scheme = authorization.substr(0, authorization.find(' '));
    call.authorization_user = basic_auth_user(authorization);
    call.traceparent = header(request, "traceparent");
    call.route = std::string(to_string(route.route));
    call.content_type = header(request, "Content-Type");
    bool parse_error = false;
    if (route.route == SendRoute::herald) {
        boost::system::error_code json_error;
        const boost::json::value body = boost::json::parse(request.body(), json_error);
        parse_error = static_cast<bool>(json_error);
        call.message_id = field(body, "message_id");
        call.subject = field(body, "subject");
        call.from = field(body, "from");
        call.to = field(body, "to");
        call.id = field(body, "id");
    } else {
        ParsedSend parsed = route.route == SendRoute::sendgrid
                                ? parse_sendgrid(request.body())
                                : parse_mailgun(request.body(), call.content_type);
        parse_error = !parsed.error.empty();
        call.message_id = parsed.message_id;
        call.subject = parsed.fields["subject"];
        call.from = parsed.fields["from"];
        call.to = parsed.fields["to"];
        call.fields = std::move(parsed.fields);
    }
    call.body = request.body();

    const Decision decision = plan_.next(std::chrono::steady_clock::now());
    const int fail_status = plan_.options().fail_status;
    const int accepted = route.route == SendRoute::sendgrid ? 202 : 200;
    call.answer = decision.action == Decision::Action::drop           ? 0
                  : decision.action == Decision::Action::fail         ? fail_status
                  : decision.action == Decision::Action::rate_limited ? 429
                  : parse_error                                       ? 400
                                                                      : accepted;
    const std::uint64_t seq = log_.add(std::move(call)).seq;
    // Counts this send as in flight until the coroutine ends, whichever way it answers.
    struct InFlight {
        CallLog& log;
        ~InFlight() { log.end_send(); }
    };
    log_.begin_send();
    const InFlight in_flight{log_};

    if (decision.latency.count() > 0) {
        asio::steady_timer timer(io_, decision.latency);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    switch (decision.action) {
        case Decision::Action::drop:
            co_return std::nullopt;
        case Decision::Action::fail: {
            Response response = json_response(
                request, static_cast<http::status>(fail_status), {{"error", "mock failure"}});
            if (!plan_.options().retry_after.empty()) {
                response.set(http::field::retry_after, plan_.options().retry_after);
            }
            co_return response;
        }
        case Decision::Action::rate_limited: {
            Response response = json_response(
                request, http::status::too_many_requests, {{"error", "rate limit exceeded"}});
            response.set(http::field::retry_after, std::to_string(decision.retry_after_s));
            co_return response;
        }
        case Decision::Action::accept:
            break;
    }
    if (parse_error) {
        co_return json_response(
            request, http::status::bad_request, {{"error", "body is not the route's shape"}});
    }
    co_return accepted_response(request, route, seq);
}

}  // namespace herald::mockmail

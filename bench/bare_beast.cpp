// A bare Beast HTTP/1.1 server on one thread: reads each request (body included) and answers a
// fixed 202 with a small JSON body. It does what any server must do and nothing herald adds, so
// herald's intake rate divided by this one's shows herald's own cost.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
        beast::http::request<beast::http::string_body> request;
        auto [read_ec, n] = co_await beast::http::async_read(socket, buffer, request, kNoThrow);
        if (read_ec) {
            co_return;
        }
        beast::http::response<beast::http::string_body> response{beast::http::status::accepted, 11};
        response.set(beast::http::field::content_type, "application/json");
        response.body() = R"({"id":"018f0000-0000-7000-8000-000000000000","status":"queued",)"
                          R"("created_at":"2026-01-01T00:00:00.000Z"})";
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        auto [write_ec, m] = co_await beast::http::async_write(socket, response, kNoThrow);
        if (write_ec || !request.keep_alive()) {
            co_return;
        }
    }
}

asio::awaitable<void> accept(tcp::acceptor acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
        if (ec) {
            co_return;
        }
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: herald-bench-bare-beast PORT\n";
        return 2;
    }
    asio::io_context context(1);
    tcp::acceptor acceptor(context,
                           tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(std::atoi(argv[1]))));
    asio::signal_set signals(context, SIGINT, SIGTERM);
    signals.async_wait([&](auto, auto) { context.stop(); });
    asio::co_spawn(context, accept(std::move(acceptor)), asio::detached);
    context.run();
    return 0;
}

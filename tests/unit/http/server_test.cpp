#include "http/server.hpp"

#include "observe/loop_activity.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace herald::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

boost::asio::awaitable<Response> echo_target(RequestContext context) {
    co_return json_response(Status::ok,
                            boost::json::object{{"target", std::string{context.request.target()}},
                                                {"body", context.request.body()}});
}

boost::asio::awaitable<Response> slow(RequestContext) {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
    co_await timer.async_wait(asio::use_awaitable);
    co_return json_response(Status::ok, boost::json::object{{"slow", true}});
}

// What the activity slot of I/O thread 0 holds while this handler runs.
boost::asio::awaitable<Response> report_activity(const observe::LoopActivity* activity) {
    const auto current = activity->current(0);
    co_return json_response(
        Status::ok,
        boost::json::object{{"route", current.route}, {"request_id", current.request_id}});
}

// A server on 127.0.0.1 with an ephemeral port, one I/O thread.
class ServerFixture : public ::testing::Test {
protected:
    void start(ServerOptions options = {}) {
        router_.add(Verb::get, "/echo/{x}", echo_target);
        router_.add(Verb::post, "/echo/{x}", echo_target);
        router_.add(Verb::get, "/slow", slow);
        router_.add(Verb::get, "/activity/{x}", [this](RequestContext) {
            return report_activity(&activity_);
        });
        options.activity = &activity_;
        server_ = std::make_unique<Server>(pool_, options, router_, nullptr);
        auto bound = server_->listen("127.0.0.1", 0);
        ASSERT_TRUE(bound) << bound.error();
        port_ = bound->port();
        pool_.start();
    }
    void TearDown() override {
        pool_.stop();
        pool_.join();
    }

    tcp::socket connect() {
        tcp::socket socket(client_context_);
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
        return socket;
    }

    // Reads until the peer closes or `responses` complete responses have arrived.
    static std::string read_responses(tcp::socket& socket, int responses) {
        std::string data;
        char chunk[4096];
        for (;;) {
            int complete = 0;
            std::size_t pos = 0;
            while ((pos = data.find("\r\n\r\n", pos)) != std::string::npos) {
                const auto header_start = data.rfind("HTTP/1.1", pos);
                const auto cl = data.find("Content-Length: ", header_start);
                std::size_t length = 0;
                if (cl != std::string::npos && cl < pos) {
                    length = std::stoul(data.substr(cl + 16));
                }
                if (data.size() < pos + 4 + length) {
                    break;
                }
                ++complete;
                pos += 4 + length;
            }
            if (complete >= responses) {
                return data;
            }
            boost::system::error_code ec;
            const auto n = socket.read_some(asio::buffer(chunk), ec);
            if (ec) {
                return data;
            }
            data.append(chunk, n);
        }
    }

    static int count(const std::string& haystack, const std::string& needle) {
        int n = 0;
        for (auto pos = haystack.find(needle); pos != std::string::npos;
             pos = haystack.find(needle, pos + 1)) {
            ++n;
        }
        return n;
    }

    observe::LoopActivity activity_{1};  // before the pool: connections clear their slots
    IoPool pool_{1};
    Router router_;
    std::unique_ptr<Server> server_;
    unsigned short port_ = 0;
    asio::io_context client_context_;
};

TEST_F(ServerFixture, AnswersPipelinedRequestsInOrder) {
    start();
    auto socket = connect();
    const std::string requests =
        "GET /echo/first HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /echo/third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    asio::write(socket, asio::buffer(requests));
    const std::string replies = read_responses(socket, 3);
    const auto first = replies.find("/echo/first");
    const auto second = replies.find("/echo/second");
    const auto third = replies.find("/echo/third");
    ASSERT_NE(first, std::string::npos);
    ASSERT_NE(second, std::string::npos);
    ASSERT_NE(third, std::string::npos);
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
    EXPECT_EQ(count(replies, "HTTP/1.1 200 OK"), 3);
}

TEST_F(ServerFixture, KeepsTheConnectionOpenBetweenRequests) {
    start();
    auto socket = connect();
    for (int i = 0; i < 3; ++i) {
        asio::write(socket, asio::buffer(std::string{"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"}));
        EXPECT_EQ(count(read_responses(socket, 1), "HTTP/1.1 200 OK"), 1);
    }
}

TEST_F(ServerFixture, RefusesABodyOverTheLimitWith413) {
    ServerOptions options;
    options.max_body_bytes = 1024;
    start(options);
    auto socket = connect();
    const std::string body(2048, 'x');
    asio::write(
        socket,
        asio::buffer("POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + body));
    const std::string reply = read_responses(socket, 1);
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos);
    EXPECT_NE(reply.find("application/problem+json"), std::string::npos);
}

TEST_F(ServerFixture, RefusesOversizedHeadersWith431) {
    ServerOptions options;
    options.max_header_bytes = 1024;
    start(options);
    auto socket = connect();
    const std::string big(4000, 'a');
    asio::write(socket,
                asio::buffer("GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n"));
    EXPECT_NE(read_responses(socket, 1).find("HTTP/1.1 431"), std::string::npos);
}

TEST_F(ServerFixture, AnswersMalformedRequestsWith400) {
    start();
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string{"NOT HTTP AT ALL\r\n\r\n"}));
    EXPECT_NE(read_responses(socket, 1).find("HTTP/1.1 400"), std::string::npos);
}

TEST_F(ServerFixture, ClosesAConnectionThatSendsHeadersTooSlowly) {
    ServerOptions options;
    options.header_timeout = std::chrono::milliseconds(200);
    start(options);
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string{"GET /echo/a HTTP/1.1\r\n"}));
    // read_responses returns when the server closes the connection, with nothing written.
    EXPECT_EQ(read_responses(socket, 1), "");
}

TEST_F(ServerFixture, RefusesConnectionsOverTheCapWith503) {
    ServerOptions options;
    options.max_connections = 1;
    start(options);
    auto held = connect();
    asio::write(held, asio::buffer(std::string{"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"}));
    read_responses(held, 1);
    auto refused = connect();
    const std::string reply = read_responses(refused, 1);
    EXPECT_NE(reply.find("HTTP/1.1 503"), std::string::npos);
    EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos);
}

TEST_F(ServerFixture, AnswersContinueBeforeReadingAnExpectedBody) {
    start();
    auto socket = connect();
    asio::write(socket,
                asio::buffer(std::string{"POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                         "Expect: 100-continue\r\n\r\n"}));
    char buffer[64];
    const auto n = socket.read_some(asio::buffer(buffer));
    EXPECT_EQ(std::string(buffer, n).find("HTTP/1.1 100 Continue"), 0u);
    asio::write(socket, asio::buffer(std::string{"hi"}));
    EXPECT_NE(read_responses(socket, 1).find("\"body\":\"hi\""), std::string::npos);
}

TEST_F(ServerFixture, DrainFinishesTheRequestInFlightAndClosesIdleConnections) {
    start();
    auto idle = connect();
    asio::write(idle, asio::buffer(std::string{"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"}));
    read_responses(idle, 1);

    auto busy = connect();
    asio::write(busy, asio::buffer(std::string{"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"}));
    while (server_->requests_in_flight() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server_->begin_drain();
    EXPECT_TRUE(server_->wait_idle(std::chrono::seconds(10)));

    const std::string reply = read_responses(busy, 1);
    EXPECT_NE(reply.find("\"slow\":true"), std::string::npos);
    EXPECT_NE(reply.find("Connection: close"), std::string::npos);
    // The idle connection is closed by the server: a read ends with EOF and no data.
    EXPECT_EQ(read_responses(idle, 1), "");
}

TEST_F(ServerFixture, RefusesAnHttp11RequestWithoutHostWith400NamingHost) {
    start();
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string{"GET /echo/a HTTP/1.1\r\n\r\n"}));
    const std::string reply = read_responses(socket, 1);
    EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
    EXPECT_NE(reply.find("\"header\":\"Host\""), std::string::npos) << reply;
}

TEST_F(ServerFixture, AnswersAnUnknownMethodWith501) {
    start();
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string{"get /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"}));
    const std::string reply = read_responses(socket, 1);
    EXPECT_NE(reply.find("HTTP/1.1 501"), std::string::npos) << reply;
}

TEST_F(ServerFixture, NamesTheHeaderWhoseValueHoldsAControlCharacter) {
    start();
    for (const std::string& value : {std::string{"ab\x01"
                                                 "cd"},
                                     std::string{"ab\rcd"},
                                     std::string{"ab\ncd"}}) {
        auto socket = connect();
        asio::write(
            socket,
            asio::buffer("GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Trace: " + value + "\r\n\r\n"));
        const std::string reply = read_responses(socket, 1);
        EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
        EXPECT_NE(reply.find("\"header\":\"X-Trace\""), std::string::npos) << reply;
    }
}

TEST_F(ServerFixture, ActivityNamesTheRouteAndRequestIdWhileTheHandlerRuns) {
    start();
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string{"GET /activity/a HTTP/1.1\r\nHost: x\r\n\r\n"}));
    const std::string reply = read_responses(socket, 1);

    EXPECT_NE(reply.find("\"route\":\"/activity/{x}\""), std::string::npos) << reply;
    const auto id_at = reply.find("X-Request-Id: ");
    ASSERT_NE(id_at, std::string::npos) << reply;
    const std::string id = reply.substr(id_at + 14, reply.find("\r\n", id_at) - id_at - 14);
    EXPECT_NE(reply.find("\"request_id\":\"" + id + "\""), std::string::npos) << reply;
    // Cleared once the response is written; the server may still be finishing that step.
    for (int i = 0; i < 1000 && !activity_.current(0).route.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(activity_.current(0).route, "");
}

TEST_F(ServerFixture, RefusesATransferCodingOtherThanChunkedAndClosesBeforeReadingOn) {
    start();
    for (const std::string coding : {"gzip", "identity", "chunked, gzip", "gzip, chunked"}) {
        auto socket = connect();
        // What follows the headers would be read as a second request if herald went on.
        asio::write(
            socket,
            asio::buffer("POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                         "\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"));
        const std::string reply = read_responses(socket, 2);
        EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << coding << ": " << reply;
        EXPECT_EQ(reply.find("smuggled"), std::string::npos) << coding << ": " << reply;
        EXPECT_EQ(reply.find("HTTP/1.1 200"), std::string::npos) << coding << ": " << reply;
    }
}

TEST_F(ServerFixture, AcceptsAChunkedBody) {
    start();
    auto socket = connect();
    asio::write(
        socket,
        asio::buffer(std::string{"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                 "chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"}));
    const std::string reply = read_responses(socket, 1);
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
    EXPECT_NE(reply.find("\"body\":\"abc\""), std::string::npos) << reply;
}

}  // namespace
}  // namespace herald::http

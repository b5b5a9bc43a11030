#include "delivery/http_transport.hpp"

#include "mockmail_process.hpp"
#include "sample_message.hpp"

#include "delivery/retry_after.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>

namespace herald::delivery {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;
using testing::MockMailProcess;
using testing::outbound;
using testing::sample_message;
using testing::send_and_wait;

HttpTransport transport_for(const MockMailProcess& mock, std::string token = "") {
    HttpTransportOptions options;
    options.url = mock.url("/v1/send");
    options.token = std::move(token);
    return HttpTransport(std::move(options));
}

boost::json::array calls(const MockMailProcess& mock) {
    return mock.get("/calls").as_array();
}

// A minimal HTTP/1.1 server on 127.0.0.1 (port 0) answering every request 200. The first
// `late_answers` requests are answered only when the next request arrives on the same connection
// (a provider slower than the client's deadline); a client that closed the connection never gets
// the answer. Records which connection (1, 2, … in accept order) carried each request.
class LateAnswerServer {
public:
    explicit LateAnswerServer(int late_answers)
        : late_answers_(late_answers), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~LateAnswerServer() {
        io_.stop();
        thread_.join();
    }

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v1/send";
    }
    std::vector<int> request_connections() {
        std::lock_guard lock(mutex_);
        return request_connections_;
    }

private:
    static constexpr std::string_view kAnswer =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

    asio::awaitable<void> accept_loop() {
        for (int connection = 1;; ++connection) {
            auto [error, socket] =
                co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (error) {
                co_return;
            }
            asio::co_spawn(io_, serve(std::move(socket), connection), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket, int connection) {
        std::string buffer;
        bool withheld = false;  // an answer owed to the previous request on this connection
        for (;;) {
            auto [error, n] = co_await asio::async_read_until(socket,
                                                              asio::dynamic_buffer(buffer),
                                                              "\r\n\r\n",
                                                              asio::as_tuple(asio::use_awaitable));
            if (error) {
                co_return;
            }
            if (std::exchange(withheld, false) && !co_await answer(socket)) {
                co_return;
            }
            const std::size_t length = content_length(buffer.substr(0, n));
            buffer.erase(0, n);
            if (buffer.size() < length) {
                auto [body_error, m] =
                    co_await asio::async_read(socket,
                                              asio::dynamic_buffer(buffer),
                                              asio::transfer_exactly(length - buffer.size()),
                                              asio::as_tuple(asio::use_awaitable));
                if (body_error) {
                    co_return;
                }
            }
            buffer.erase(0, length);
            if (record(connection)) {
                withheld = true;
                continue;
            }
            if (!co_await answer(socket)) {
                co_return;
            }
        }
    }

    static asio::awaitable<bool> answer(tcp::socket& socket) {
        auto [error, n] = co_await asio::async_write(
            socket, asio::buffer(kAnswer), asio::as_tuple(asio::use_awaitable));
        co_return !error;
    }

    static std::size_t content_length(std::string head) {
        std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        const auto at = head.find("\r\ncontent-length:");
        return at == std::string::npos ? 0 : std::stoul(head.substr(at + 17));
    }

    // Records a request; true when its answer is to come late.
    bool record(int connection) {
        std::lock_guard lock(mutex_);
        request_connections_.push_back(connection);
        return static_cast<int>(request_connections_.size()) <= late_answers_;
    }

    const int late_answers_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<int> request_connections_;
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

TEST(HttpTransport, PostsTheMessageWithIdempotencyKeyAndBearerToken) {
    MockMailProcess mock;
    HttpTransportOptions options;
    options.url = mock.url("/v1/send");
    options.token = "secret-token-123";
    HttpTransport transport(options);
    const mail::Message message = sample_message();

    const SendResult result = send_and_wait(transport, outbound(message, "n-42"));

    EXPECT_EQ(result.outcome, AttemptOutcome::sent) << result.detail;
    EXPECT_EQ(result.status_code, 200);
    const auto recorded = calls(mock);
    ASSERT_EQ(recorded.size(), 1u);
    const auto& call = recorded[0].as_object();
    EXPECT_EQ(call.at("idempotency_key"), "n-42");
    EXPECT_EQ(call.at("authorization"), true);
    const auto body = boost::json::parse(call.at("body").as_string()).as_object();
    EXPECT_EQ(body.at("id"), "n-42");
    EXPECT_EQ(body.at("message_id"), boost::json::value("<" + message.message_id + ">"));
    const auto fields = mail::to_json(message);
    for (const char* key :
         {"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "headers"}) {
        EXPECT_EQ(body.at(key), fields.at(key)) << key;
    }
    EXPECT_EQ(body.size(), 11u);
    EXPECT_EQ(call.at("body").as_string().find("secret-token"), std::string::npos);
}

TEST(HttpTransport, SendsNoAuthorizationWithoutAToken) {
    MockMailProcess mock;
    HttpTransport transport = transport_for(mock);

    EXPECT_EQ(send_and_wait(transport, outbound(sample_message())).outcome, AttemptOutcome::sent);

    EXPECT_EQ(calls(mock)[0].as_object().at("authorization"), false);
}

TEST(HttpTransport, SendsUtf8SubjectsUnencoded) {
    MockMailProcess mock;
    HttpTransport transport = transport_for(mock);
    mail::Message message = sample_message();
    message.subject = "Résumé — Zürich → Kraków, 東京 🎉";

    EXPECT_EQ(send_and_wait(transport, outbound(message)).outcome, AttemptOutcome::sent);

    EXPECT_EQ(calls(mock)[0].as_object().at("subject"), "Résumé — Zürich → Kraków, 東京 🎉");
}

TEST(HttpTransport, ReusesOneConnectionForSuccessiveSends) {
    MockMailProcess mock;
    HttpTransport transport = transport_for(mock);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(send_and_wait(transport, outbound(sample_message())).outcome,
                  AttemptOutcome::sent);
    }
    const auto recorded = calls(mock);
    ASSERT_EQ(recorded.size(), 3u);
    for (const auto& call : recorded) {
        EXPECT_EQ(call.as_object().at("connection"), 1);
    }
}

TEST(HttpTransport, Maps503WithRetryAfterToThrottledWithTheWait) {
    MockMailProcess mock({"--fail-status", "503", "--fail-count", "1", "--retry-after", "7"});
    HttpTransport transport = transport_for(mock);

    const SendResult first = send_and_wait(transport, outbound(sample_message(), "n-1"));
    const SendResult second = send_and_wait(transport, outbound(sample_message(), "n-1"));

    EXPECT_EQ(first.outcome, AttemptOutcome::throttled);
    EXPECT_EQ(first.status_code, 503);
    EXPECT_EQ(first.retry_after, milliseconds{7000});
    EXPECT_EQ(second.outcome, AttemptOutcome::sent);
    const auto stats = mock.get("/stats").as_object();
    EXPECT_EQ(stats.at("calls"), 2);
    EXPECT_EQ(stats.at("distinct_keys"), 1);
}

TEST(HttpTransport, Maps429WithAFarHttpDateToACappedWait) {
    MockMailProcess mock({"--fail-status",
                          "429",
                          "--fail-count",
                          "1",
                          "--retry-after",
                          "Fri, 31 Dec 9999 23:59:59 GMT"});
    HttpTransport transport = transport_for(mock);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::throttled);
    EXPECT_EQ(result.retry_after, kRetryAfterLimit);
}

TEST(HttpTransport, IgnoresAGarbageRetryAfter) {
    MockMailProcess mock({"--fail-status", "503", "--fail-count", "1", "--retry-after", "abc"});
    HttpTransport transport = transport_for(mock);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::throttled);
    EXPECT_EQ(result.retry_after, std::nullopt);
}

TEST(HttpTransport, Maps400ToPermanent) {
    MockMailProcess mock({"--fail-status", "400", "--fail-count", "1"});
    HttpTransport transport = transport_for(mock);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::permanent);
    EXPECT_EQ(result.status_code, 400);
}

TEST(HttpTransport, MapsADroppedConnectionToAmbiguous) {
    MockMailProcess mock({"--drop-count", "1"});
    HttpTransport transport = transport_for(mock);

    const SendResult result = send_and_wait(transport, outbound(sample_message(), "n-7"));

    EXPECT_EQ(result.outcome, AttemptOutcome::ambiguous) << result.detail;
    EXPECT_EQ(calls(mock).size(), 1u);  // the provider did get it
    // The retry carries the same key, so a deduplicating provider sees one email.
    EXPECT_EQ(send_and_wait(transport, outbound(sample_message(), "n-7")).outcome,
              AttemptOutcome::sent);
    EXPECT_EQ(mock.get("/stats").as_object().at("distinct_keys"), 1);
}

TEST(HttpTransport, MapsATimeoutAfterSendingToAmbiguous) {
    MockMailProcess mock({"--latency-ms", "30000"});
    HttpTransport transport = transport_for(mock);

    const SendResult result =
        send_and_wait(transport, outbound(sample_message(), "n-1", milliseconds{300}));

    EXPECT_EQ(result.outcome, AttemptOutcome::ambiguous) << result.detail;
}

TEST(HttpTransport, OpensANewConnectionAfterAnAttemptThatTimedOut) {
    LateAnswerServer server(1);
    HttpTransportOptions options;
    options.url = server.url();
    HttpTransport transport(options);

    // The provider answers the first request only after the attempt's deadline.
    const SendResult first =
        send_and_wait(transport, outbound(sample_message(), "n-1", milliseconds{300}));
    const SendResult second = send_and_wait(transport, outbound(sample_message(), "n-1"));

    EXPECT_EQ(first.outcome, AttemptOutcome::ambiguous) << first.detail;
    EXPECT_EQ(second.outcome, AttemptOutcome::sent) << second.detail;
    EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 2}));
}

TEST(HttpTransport, MapsARefusedConnectionToTransient) {
    HttpTransportOptions options;
    options.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/send";
    HttpTransport transport(options);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient) << result.detail;
    EXPECT_EQ(result.status_code, 0);
}

TEST(HttpTransport, StopEndsSendsInFlight) {
    MockMailProcess mock({"--latency-ms", "60000"});
    HttpTransport transport = transport_for(mock);
    std::promise<SendResult> promise;
    transport.send(outbound(sample_message()), [&](SendResult r) { promise.set_value(r); });
    for (int i = 0; i < 3000 && mock.get("/stats").as_object().at("calls") == 0; ++i) {
        std::this_thread::sleep_for(milliseconds{10});
    }

    transport.stop();

    auto future = promise.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds{30}), std::future_status::ready);
    EXPECT_EQ(future.get().outcome, AttemptOutcome::ambiguous);  // it had reached the provider
    EXPECT_EQ(send_and_wait(transport, outbound(sample_message())).outcome,
              AttemptOutcome::transient);
}

TEST(ClassifyHttpAttempt, MapsStatusCodes) {
    const auto outcome_of = [](long status) {
        return classify_http_attempt(CURLE_OK, status, true, std::nullopt, 0).outcome;
    };
    EXPECT_EQ(outcome_of(200), AttemptOutcome::sent);
    EXPECT_EQ(outcome_of(202), AttemptOutcome::sent);
    EXPECT_EQ(outcome_of(408), AttemptOutcome::transient);
    EXPECT_EQ(outcome_of(429), AttemptOutcome::throttled);
    EXPECT_EQ(outcome_of(500), AttemptOutcome::transient);
    EXPECT_EQ(outcome_of(503), AttemptOutcome::throttled);
    EXPECT_EQ(outcome_of(502), AttemptOutcome::transient);
    EXPECT_EQ(outcome_of(400), AttemptOutcome::permanent);
    EXPECT_EQ(outcome_of(401), AttemptOutcome::permanent);
    EXPECT_EQ(outcome_of(404), AttemptOutcome::permanent);
    EXPECT_EQ(outcome_of(422), AttemptOutcome::permanent);
}

TEST(ClassifyHttpAttempt, ReadsRetryAfterOnlyForThrottlingAnswers) {
    EXPECT_EQ(classify_http_attempt(CURLE_OK, 429, true, "2", 0).retry_after, milliseconds{2000});
    EXPECT_EQ(classify_http_attempt(CURLE_OK, 503, true, "-5", 0).retry_after, std::nullopt);
    EXPECT_EQ(classify_http_attempt(CURLE_OK, 400, true, "2", 0).retry_after, std::nullopt);
}

TEST(ClassifyHttpAttempt, SeparatesFailuresBeforeAndAfterTheRequestWentOut) {
    EXPECT_EQ(classify_http_attempt(CURLE_COULDNT_CONNECT, 0, false, std::nullopt, 0).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_http_attempt(CURLE_COULDNT_RESOLVE_HOST, 0, false, std::nullopt, 0).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_http_attempt(CURLE_OPERATION_TIMEDOUT, 0, false, std::nullopt, 0).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_http_attempt(CURLE_OPERATION_TIMEDOUT, 0, true, std::nullopt, 0).outcome,
              AttemptOutcome::ambiguous);
    EXPECT_EQ(classify_http_attempt(CURLE_GOT_NOTHING, 0, true, std::nullopt, 0).outcome,
              AttemptOutcome::ambiguous);
    EXPECT_EQ(classify_http_attempt(CURLE_RECV_ERROR, 0, true, std::nullopt, 0).outcome,
              AttemptOutcome::ambiguous);
    // A status arrived, then the body broke off: the provider's answer still counts.
    EXPECT_EQ(classify_http_attempt(CURLE_PARTIAL_FILE, 200, true, std::nullopt, 0).outcome,
              AttemptOutcome::sent);
}

}  // namespace
}  // namespace herald::delivery

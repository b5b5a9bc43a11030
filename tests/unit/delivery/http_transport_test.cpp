#include "delivery/http_transport.hpp"

#include "mockmail_process.hpp"
#include "sample_message.hpp"

#include "delivery/retry_after.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace herald::delivery {
namespace {

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

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
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

TEST(HttpTransport, Maps503WithRetryAfterToTransientWithTheWait) {
    MockMailProcess mock({"--fail-status", "503", "--fail-count", "1", "--retry-after", "7"});
    HttpTransport transport = transport_for(mock);

    const SendResult first = send_and_wait(transport, outbound(sample_message(), "n-1"));
    const SendResult second = send_and_wait(transport, outbound(sample_message(), "n-1"));

    EXPECT_EQ(first.outcome, AttemptOutcome::transient);
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

    EXPECT_EQ(result.outcome, AttemptOutcome::transient);
    EXPECT_EQ(result.retry_after, kRetryAfterLimit);
}

TEST(HttpTransport, IgnoresAGarbageRetryAfter) {
    MockMailProcess mock({"--fail-status", "503", "--fail-count", "1", "--retry-after", "abc"});
    HttpTransport transport = transport_for(mock);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient);
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
    EXPECT_EQ(outcome_of(429), AttemptOutcome::transient);
    EXPECT_EQ(outcome_of(500), AttemptOutcome::transient);
    EXPECT_EQ(outcome_of(503), AttemptOutcome::transient);
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

// Prefer: wait (RFC 7240) and clients that leave while herald waits for their delivery. What
// reached the provider is read back from herald-mockmail, which counts calls per
// Idempotency-Key (the notification id); intake outcomes are read from GET /metrics.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/net.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

class PreferWait : public IntegrationTest {
protected:
    static std::string body() { return json_body(baseline_notification()); }

    // The provider's calls for notification `id`.
    std::int64_t calls_for(const std::string& id) {
        const auto counts = provider().key_counts();
        const auto found = counts.find(id);
        return found == counts.end() ? 0 : found->second;
    }
};

double intake(HeraldPeer& herald, const std::string& outcome) {
    const auto scraped = herald.client().get("/metrics");
    EXPECT_EQ(scraped.status, 200) << scraped.describe();
    return metric_value(scraped.body, "herald_intake_requests_total{outcome=\"" + outcome + "\"}")
        .value_or(-1);
}

std::size_t log_lines_with(HeraldPeer& herald, const std::string& text) {
    std::ifstream file(herald.dir() / "herald.err");
    std::size_t count = 0;
    for (std::string line; std::getline(file, line);) {
        count += line.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

TEST_F(PreferWait, DeliveryWithinTheWaitIsAnswered200WithTheSentStatus) {
    auto& herald = start_herald_with_provider(0);

    const auto response = herald.post_notification(body(), {{"Prefer", "wait=5"}});

    ASSERT_EQ(response.status, 200) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=5");
    const auto json = response.json();
    ASSERT_TRUE(json.has_value()) << response.describe();
    const std::string id = string_at(*json, "id");
    EXPECT_EQ(string_at(*json, "status"), "sent") << response.describe();
    EXPECT_EQ(response.headers.get("Location"), "/v1/notifications/" + id);
    EXPECT_EQ(calls_for(id), 1);
}

TEST_F(PreferWait, DeliverySlowerThanTheWaitIsAnswered202AndStillDelivered) {
    auto& herald = start_herald_with_provider(3000);

    const auto response = herald.post_notification(body(), {{"Prefer", "respond-async, wait=1"}});

    ASSERT_EQ(response.status, 202) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=1");
    const auto json = response.json();
    ASSERT_TRUE(json.has_value()) << response.describe();
    EXPECT_EQ(string_at(*json, "status"), "queued");
    const std::string id = string_at(*json, "id");
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent");
    EXPECT_EQ(calls_for(id), 1);
}

TEST_F(PreferWait, WaitLongerThanTheServerMaximumIsCappedAndSaysSo) {
    auto& herald = start_herald_with_provider(3000, with_config("[server]\nmax_wait_ms = 1000\n"));

    const auto response = herald.post_notification(body(), {{"Prefer", "wait=30"}});

    ASSERT_EQ(response.status, 202) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=1");
}

TEST_F(PreferWait, UnusableWaitPreferencesAreIgnored) {
    auto& herald = start_herald_with_provider(0);
    for (const char* prefer : {"wait=abc", "wait=-1", "wait=", "wait=0", "respond-async", "wait"}) {
        SCOPED_TRACE(prefer);
        const auto response = herald.post_notification(body(), {{"Prefer", prefer}});
        EXPECT_EQ(response.status, 202) << response.describe();
        EXPECT_FALSE(response.headers.get("Preference-Applied").has_value()) << response.describe();
    }
}

// L2: the client leaves while herald waits for the provider; its retry gets the same id, and
// the provider sees one send.
void client_leaves_then_retries(HeraldPeer& herald, MockmailPeer& provider, bool with_reset) {
    const std::string key = with_reset ? "l2-1" : "l2-2";
    const std::string payload = json_body(baseline_notification());
    const std::string request =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Prefer: wait=10\r\nIdempotency-Key: " +
        key + "\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;

    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(connection.send_all(request));
    std::this_thread::sleep_for(200ms);
    if (with_reset) {
        connection.reset();
    } else {
        connection.close();
    }

    ASSERT_TRUE(wait_until([&] { return intake(herald, "client_gone") == 1; })) << herald.logs();
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    EXPECT_EQ(herald.client().get("/healthz").status, 200);

    const auto retry =
        herald.post_notification(payload, {{"Idempotency-Key", key}, {"Prefer", "wait=10"}});
    ASSERT_EQ(retry.status, 202) << retry.describe();
    EXPECT_EQ(retry.headers.get("Idempotent-Replayed"), "true");
    const auto json = retry.json();
    ASSERT_TRUE(json.has_value());
    const std::string id = string_at(*json, "id");
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent");

    const auto calls = provider.calls();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(string_at(calls[0], "idempotency_key"), id);
    EXPECT_EQ(intake(herald, "client_gone"), 1);
    // One outcome per request: the first left before its answer, the retry was a replay.
    EXPECT_EQ(intake(herald, "accepted"), 0);
    EXPECT_EQ(intake(herald, "replayed"), 1);
    EXPECT_EQ(log_lines_with(herald, "\"msg\":\"client gone\""), 1u);
    EXPECT_TRUE(herald.running());
}

TEST_F(PreferWait, ClientThatResetsWhileWaitingIsCountedOnceAndItsRetryGetsTheSameSend) {
    auto& herald = start_herald_with_provider(2000);
    client_leaves_then_retries(herald, provider(), true);
}

TEST_F(PreferWait, ClientThatClosesWhileWaitingIsCountedOnceAndItsRetryGetsTheSameSend) {
    auto& herald = start_herald_with_provider(2000);
    client_leaves_then_retries(herald, provider(), false);
}

TEST_F(PreferWait, PipelinedRequestBehindAWaitingOneIsAnsweredInOrder) {
    auto& herald = start_herald_with_provider(300);
    const std::string payload = body();
    const std::string post =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Prefer: wait=5\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n" + payload;
    const std::string health = "GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n";

    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(connection.send_all(post + health));

    const auto first = connection.read_response();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200) << first->raw;
    const auto second = connection.read_response();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->status, 200) << second->raw;
    EXPECT_NE(second->body.find("\"ok\""), std::string::npos) << second->raw;
}

}  // namespace
}  // namespace herald::test

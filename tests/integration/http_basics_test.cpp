// herald's HTTP surface as a client on the wire sees it: routes, methods, connection reuse,
// pipelining, size limits and problem+json errors.

#include "fixture.hpp"

#include "support/net.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::test {
namespace {

class HttpBasics : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        herald_ = &start_herald({});
    }

    static bool is_problem_json(const HttpResponse& response) {
        return response.headers.get("Content-Type")
                   .value_or("")
                   .starts_with("application/problem+json") &&
               response.json().has_value();
    }

    HeraldPeer* herald_ = nullptr;
};

TEST_F(HttpBasics, HealthAndReadinessAnswer200) {
    auto client = herald_->client();
    EXPECT_EQ(client.get("/healthz").status, 200);
    EXPECT_EQ(client.get("/readyz").status, 200);
}

TEST_F(HttpBasics, UnknownRouteIs404ProblemJson) {
    const auto response = herald_->client().get("/v1/nothing-here");
    EXPECT_EQ(response.status, 404) << response.describe();
    EXPECT_TRUE(is_problem_json(response)) << response.describe();
}

TEST_F(HttpBasics, WrongMethodIs405WithAllow) {
    auto client = herald_->client();
    HttpRequest request;
    request.method = "DELETE";
    request.target = "/v1/notifications";
    const auto response = client.send(request);
    EXPECT_EQ(response.status, 405) << response.describe();
    EXPECT_NE(response.headers.get("Allow").value_or("").find("POST"), std::string::npos)
        << response.describe();

    request.method = "PUT";
    request.target = "/healthz";
    const auto health = client.send(request);
    EXPECT_EQ(health.status, 405) << health.describe();
    EXPECT_NE(health.headers.get("Allow").value_or("").find("GET"), std::string::npos)
        << health.describe();
}

TEST_F(HttpBasics, PipelinedRequestsAreAnsweredInOrder) {
    auto connection = RawConnection::connect(herald_->port());
    const std::string notification = json_body(baseline_notification());
    // The slower request (a durable write) first, then a cheap one, in one write.
    const std::string requests =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(notification.size()) + "\r\n\r\n" + notification +
        "GET /v1/unknown-route HTTP/1.1\r\nHost: herald\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n";
    ASSERT_TRUE(connection.send_all(requests));
    const auto first = connection.read_response();
    const auto second = connection.read_response();
    const auto third = connection.read_response();
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(second.has_value());
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(first->status, 202) << first->raw;
    EXPECT_EQ(second->status, 404) << second->raw;
    EXPECT_EQ(third->status, 200) << third->raw;
}

TEST_F(HttpBasics, KeepAliveReusesOneConnection) {
    auto connection = RawConnection::connect(herald_->port());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(connection.send_all("GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n"));
        const auto response = connection.read_response();
        ASSERT_TRUE(response.has_value()) << "no answer to request " << i + 1;
        EXPECT_EQ(response->status, 200);
    }
    auto client = herald_->client();
    EXPECT_EQ(client.get("/healthz").status, 200);
    const auto accepted = client.post_json("/v1/notifications", json_body(baseline_notification()));
    EXPECT_EQ(accepted.status, 202) << accepted.describe();
    EXPECT_EQ(client.connections_opened(), 0) << "the second request opened a new connection";
}

TEST_F(HttpBasics, BodyOverTheLimitIs413) {
    auto body = baseline_notification();
    body["text"] = std::string(3 * 1024 * 1024 / 2, 'x');  // 1.5 MiB, over the 1 MiB default
    const auto response = herald_->post_notification(json_body(body));
    EXPECT_EQ(response.status, 413) << response.describe();
    EXPECT_TRUE(herald_->running());
}

TEST_F(HttpBasics, BodyOverTheLimitIs413OnTheWireBeforeTheBodyIsSent) {
    auto connection = RawConnection::connect(herald_->port());
    ASSERT_TRUE(
        connection.send_all("POST /v1/notifications HTTP/1.1\r\nHost: herald\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 5000000\r\n\r\n{\"to\":"));
    const auto response = connection.read_response();
    ASSERT_TRUE(response.has_value()) << "no answer to a declared 5 MB body";
    EXPECT_EQ(response->status, 413) << response->raw;
}

TEST_F(HttpBasics, InvalidJsonIs400ProblemJson) {
    const auto response = herald_->post_notification(R"({"to":["alice@example.com"],)");
    EXPECT_EQ(response.status, 400) << response.describe();
    EXPECT_TRUE(is_problem_json(response)) << response.describe();
    const auto json = response.json();
    ASSERT_TRUE(json.has_value());
    EXPECT_EQ(int_at(*json, "status", 0), 400);
}

TEST_F(HttpBasics, WrongContentTypeIs415) {
    auto client = herald_->client();
    const auto response = client.post_json(
        "/v1/notifications", json_body(baseline_notification()), {{"Content-Type", "text/plain"}});
    EXPECT_EQ(response.status, 415) << response.describe();
}

TEST_F(HttpBasics, UnknownNotificationIdIs404ProblemJson) {
    for (const char* id : {"01890000-0000-7000-8000-000000000000", "not-an-id"}) {
        SCOPED_TRACE(id);
        const auto response = herald_->get_notification(id);
        EXPECT_EQ(response.status, 404) << response.describe();
        EXPECT_TRUE(is_problem_json(response)) << response.describe();
    }
}

}  // namespace
}  // namespace herald::test
